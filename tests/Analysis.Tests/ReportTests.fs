/// Frames and verdicts on constructed runs, where the right answer is known by construction.
module Analysis.Tests.ReportTests

open System
open System.IO
open Expecto
open FsCheck
open FsCheck.FSharp
open Analysis
open Analysis.Config
open Analysis.Runner

let task = { defaults with Experiment = "constructed"; Device = Cpu }

/// A finished run of `config` with the given metrics (nothing is trained).
let record (config: RunConfig) (metrics: (string * float) list) : RunRecord =
    { Id = Data.runId config; Config = config; Inputs = []; Task = Binary; Device = "cpu"; Diverged = false; DivergedAtStep = -1L
      Steps = 1L; Seconds = 0.0; Metrics = Map.ofList metrics; TrainLoss = [||]; TestCurve = [||]; EpochMetrics = [||]; PrCurve = [||]; Reliability = [||]
      Temperature = 1.0; TemperatureFit = "Converged"; Code = "test"; Parameters = Map.empty }

let focal = SigmoidFocal(Some 0.25, 2.0)

/// CE and the focal setting over the seeds: each metric = base + per-seed offset (+ the focal effect).
let constructedWith (offsets: float[]) (metrics: (string * float * (int -> float)) list) =
    [ for s, offset in Array.indexed offsets do
        yield record { task with Seed = s; Loss = BinaryCrossEntropy } [ for key, baseValue, _ in metrics -> key, baseValue + offset ]
        yield record { task with Seed = s; Loss = focal } [ for key, baseValue, effect in metrics -> key, baseValue + offset + effect s ] ]

/// CE and one focal setting over the seeds, AP = base + per-seed offset (+ effect for focal).
let constructed (offsets: float[]) (effects: float[]) = constructedWith offsets [ "average_precision", 0.3, (fun s -> effects[s]) ]

let apRow (records: RunRecord list) =
    Frames.pairedDifferences records |> List.find (fun p -> p.Metric = "average_precision")

let noise (s: int) = [| 0.0011; -0.0009; 0.0004; -0.0012; 0.0006 |][s]

[<Tests>]
let tests =
    testList "frames and verdicts on constructed runs" [
        test "each setting is paired with the CE run of its own seed: a large shared per-seed offset cancels" {
            let offsets = [| 0.0; 0.3; 0.1; 0.5; 0.2 |]
            let effects = [| 0.011; 0.009; 0.010; 0.012; 0.008 |]
            let p = apRow (constructed offsets effects)
            Expect.floatClose Accuracy.high p.MeanDiff 0.010 "mean paired difference"
            Expect.isLessThan (p.Hi - p.Lo) 0.01 "narrow: the per-seed offsets (0 to 0.5) cancel within each pair"
            Expect.isTrue p.Significant "the +0.01 effect is found"
            Expect.equal (p.Better, p.Worse, p.Pairs) (5, 0, 5) "better on every seed"
        }

        test "the best alpha per gamma and the alpha x gamma grid are about plain focal loss, not its smoothed twin" {
            let row (loss: Loss) mean : Frames.SummaryRow =
                { Dataset = "d"; Setting = Loss.label loss; Loss = Loss.name loss; Alpha = Loss.alpha loss; Gamma = Loss.gamma loss; Metric = "average_precision"
                  Mean = mean; Lo = mean; Hi = mean; Runs = 3; Finished = 3; Diverged = 0 }
            let summary =
                [ row (SigmoidFocal(Some 0.25, 2.0)) 0.5; row (SigmoidFocal(Some 0.5, 2.0)) 0.4
                  row (Smoothed(0.1, SigmoidFocal(Some 0.5, 2.0))) 0.9; row (Poly1Focal(Some 0.75, 2.0, 1.0)) 0.95 ]
            let best = Experiment.bestAlphaPerGamma "d" "average_precision" summary [] |> List.exactlyOne
            Expect.equal (best.Alpha, best.Mean) (0.25, 0.5) "the smoothed and Poly-1 rows (same name or alpha and gamma) take no part"
            Expect.floatClose Accuracy.veryHigh best.Spread 0.1 "the spread is over the two plain settings"
        }

        test "editing the file that defines a custom loss makes its runs new runs, and they still pair with CE" {
            let source = Path.Combine(Directory.CreateTempSubdirectory("wb-src").FullName, "mine.fsx")
            File.WriteAllText(source, "// scale 1")
            CustomLosses.register("edited_loss", FocalLoss.Data.LossTask.Binary, [ "scale" ], (fun _ -> FocalLoss.Losses.BinaryCrossEntropyWithLogitsLoss() :> FocalLoss.ILossFunction), source = source)
            let c = { task with Loss = Custom("edited_loss", [ "scale", 1.0 ]) }
            let before = Data.runId c
            let inputs = inputFiles Data.repoRoot c
            Expect.equal (inputs |> List.map (fun i -> i.Path, i.Kind)) [ source, LossCode ] "the registering file is an input of the run, as loss code"
            File.WriteAllText(source, "// scale 3")
            File.SetLastWriteTimeUtc(source, DateTime.UtcNow.AddSeconds 5.0)
            Expect.notEqual (Data.runId c) before "an edited loss is a new run, not the old results"
            let custom = { record c [ "average_precision", 0.5 ] with Inputs = inputs }
            Expect.equal (Frames.baselineIdOf custom) (Data.runId { c with Loss = BinaryCrossEntropy }) "the CE run it pairs with does not read the loss's file"
        }

        testPropertyWithConfig (Props.config 300) "a verdict whose interval contains zero never reads improved or worsened" <|
            Prop.forAll (Arb.fromGen (Gen.arrayOfLength 5 (Gen.choose (-100, 100) |> Gen.map (fun k -> float k / 10_000.0)))) (fun effects ->
                let records = constructed [| 0.0; 0.1; 0.2; 0.3; 0.4 |] effects
                let p = apRow records
                let line = Report.verdicts records [ p ] |> List.exactlyOne |> snd |> List.find (fun l -> l.StartsWith "focal a=0.25 g=2, ranking")
                let containsZero = p.Lo <= 0.0 && p.Hi >= 0.0
                (not containsZero || line.Contains "ranking: no significant difference" || line.Contains "ranking: tie")
                |> Prop.classify containsZero "interval contains zero"
                |> Prop.classify (not containsZero) "interval excludes zero")

        testPropertyWithConfig (Props.config 200) "a difference is significant only when its Holm-adjusted p is below 0.05, and Holm never lowers a p" <|
            Prop.forAll (Arb.fromGen (Gen.arrayOfLength 10 (Gen.choose (-200, 200) |> Gen.map (fun k -> float k / 10_000.0)))) (fun e ->
                let records = constructedWith [| 0.0; 0.1; 0.2; 0.3; 0.4 |] [ "average_precision", 0.3, (fun s -> e[s]); "roc_auc", 0.6, (fun s -> e[s + 5]) ]
                let rows = Frames.pairedDifferences records
                let verdicts = Verdicts.familyVerdicts rows
                rows.Length = 2
                && rows |> List.forall (fun p -> p.Significant = (p.PAdjusted < 0.05) && p.PAdjusted >= p.PValue)
                && verdicts |> List.forall (fun v -> (v.Direction = Verdicts.Better || v.Direction = Verdicts.Worse) = (v.Rows |> List.exists (fun p -> p.PAdjusted < 0.05))
                                                      || v.Direction = Verdicts.Mixed))

        test "a pure threshold shift is read as a threshold shift, not a ranking change" {
            // alpha = 0.25 moves the 0.5 threshold: F1 at 0.5 falls by 0.46 on every seed while AP, ROC-AUC and
            // the best-threshold F1 stay where CE has them (small seed noise only).
            let records =
                constructedWith [| 0.0; 0.02; 0.01; 0.03; 0.015 |]
                    [ "average_precision", 0.6, noise; "roc_auc", 0.9, noise; "best_f1", 0.62, noise
                      "f1", 0.6, (fun s -> -0.46 + noise s); "balanced_accuracy", 0.8, (fun s -> -0.2 + noise s) ]
            let lines = Report.verdicts records (Frames.pairedDifferences records) |> List.exactlyOne |> snd
            let reading = List.head lines
            Expect.stringContains reading "focal a=0.25 g=2 moves the operating point: F1 at 0.5 -0.46" $"the reading names the shift: {reading}"
            Expect.stringContains reading "best-threshold F1 unchanged" "and that the best-threshold F1 did not move"
            Expect.stringContains reading "a threshold shift, not a ranking change" "in so many words"
            Expect.isFalse (reading.Contains "ranking:") "no ranking verdict in the reading"
            let decisions = lines |> List.find (fun l -> l.StartsWith "focal a=0.25 g=2, decisions")
            Expect.stringContains decisions "decisions at the default threshold: worse" "the decision family is worse"
            let ranking = lines |> List.find (fun l -> l.StartsWith "focal a=0.25 g=2, ranking")
            Expect.stringContains ranking "ranking: no significant difference" "the ranking family is unchanged"
        }

        test "a calibration penalty that temperature scaling removes is read as a scale" {
            let records =
                constructedWith [| 0.0; 0.01; 0.02; 0.005; 0.015 |]
                    [ "ece15", 0.02, (fun s -> 0.146 + noise s); "ece15_recal", 0.015, noise; "average_precision", 0.5, noise ]
            let reading = Report.verdicts records (Frames.pairedDifferences records) |> List.exactlyOne |> snd |> List.head
            Expect.stringContains reading "worsens calibration: ECE +0.146" $"the penalty is named: {reading}"
            Expect.stringContains reading "after temperature scaling" "with its value after temperature scaling"
            Expect.stringContains reading "a scale that one parameter fixes" "and read as a scale"
        }

        test "a calibration penalty is not called a scale when the recalibrated difference is merely not significant" {
            // After scaling the difference is as large as before, but noisy: n.s., with a wide interval.
            let records =
                constructedWith [| 0.0; 0.01; 0.02; 0.005; 0.015 |]
                    [ "ece15", 0.02, (fun s -> 0.146 + noise s); "ece15_recal", 0.015, (fun s -> [| 0.30; -0.10; 0.25; -0.05; 0.35 |][s]); "average_precision", 0.5, noise ]
            let reading = Report.verdicts records (Frames.pairedDifferences records) |> List.exactlyOne |> snd |> List.head
            Expect.stringContains reading "worsens calibration: ECE +0.146" $"the penalty is named: {reading}"
            Expect.isFalse (reading.Contains "a scale that one parameter fixes") "not shown to be only a scale"
            Expect.stringContains reading "this run cannot tell whether it is only a scale" "says so"
        }

        test "a setting whose per-seed differences are float noise is a tie" {
            let records = constructedWith [| 0.0; 0.1; 0.2 |] [ "ece15", 0.05, (fun s -> [| 2.4e-10; -1e-10; 3e-11 |][s]) ]
            let p = Frames.pairedDifferences records |> List.exactlyOne
            Expect.equal (p.Ties, p.Better, p.Worse) (3, 0, 0) "rounding is not an effect"
            Expect.equal p.PValue 1.0 "a tie has p = 1"
        }

        test "one seed is not tested rather than found equal" {
            let records = constructedWith [| 0.0 |] [ "average_precision", 0.3, (fun _ -> 0.2) ]
            let reading = Report.verdicts records (Frames.pairedDifferences records) |> List.exactlyOne |> snd |> List.head
            Expect.stringStarts reading "Not tested" $"one pair gives no interval: {reading}"
        }

        test "exact ties are reported as ties, not as differences" {
            let records = constructedWith [| 0.0; 0.1; 0.2; 0.3; 0.4 |] [ "average_precision", 0.3, (fun _ -> 0.0) ]
            let p = apRow records
            Expect.equal (p.Ties, p.Better, p.Worse) (5, 0, 0) "every seed tied"
            Expect.equal p.PValue 1.0 "an exact tie has p = 1"
            let line = Report.verdicts records [ p ] |> List.exactlyOne |> snd |> List.find (fun l -> l.StartsWith "focal a=0.25 g=2, ranking")
            Expect.stringContains line "ranking: tie" "the verdict says tie"
            Expect.stringContains line "identical on all 5 seeds" "and why"
        }

        test "a baseline too close to zero for a percentage gives none, not '(n/a)'" {
            let records = constructedWith [| 0.0; 1e-4; 2e-4; 3e-4; 4e-4 |] [ "ece15", 0.002, (fun s -> 0.1 + 0.001 * float s) ]
            let text = String.Join("\n", Report.verdicts records (Frames.pairedDifferences records) |> List.collect snd)
            Expect.stringContains text "ECE +0.102" $"the difference is read: {text}"
            Expect.isFalse (text.Contains "n/a") $"no placeholder where a percentage would be: {text}"
        }

        test "small differences keep their digits: never 0.000 beside a verdict" {
            Expect.equal (Verdicts.number 0.00042) "0.00042" "three significant digits below 0.01"
            Expect.equal (Verdicts.signed -0.0000123) "-1.23E-05" "tiny values in scientific notation"
            Expect.equal (Verdicts.signed 0.146) "+0.146" "three decimals from 0.01"
            Expect.equal (Verdicts.number 0.0) "0" "zero is zero"
        }

        test "two settings that differ in anything but the loss and the seed get different labels" {
            let variants =
                [ task
                  { task with Dataset = Gaussian({ Train = 400; Test = 4000 }, features = 2, positiveRate = 0.1, labelNoise = 0.0) }
                  { task with Dataset = Gaussian({ Train = 4000; Test = 4000 }, features = 2, positiveRate = 0.1000001, labelNoise = 0.0) }
                  { task with Optimizer = Sgd(0.1, 0.9) }; { task with Optimizer = Adam 0.02 }; { task with Epochs = 3 }
                  { task with BatchSize = 16 }; { task with Reduction = BatchSum }; { task with Device = Auto }
                  { task with Recalibration = NoRecalibration }; { task with Model = Mlp [ 8 ] }; { task with Model = Mlp [ 16 ] }; { task with Model = Mlp [ 16; 16 ] }
                  { task with OutputBias = ZeroBias }; { task with OutputBias = PriorBias 0.01 }; { task with OutputBias = PriorBias 0.001 }
                  { task with Dataset = DenseDiscs(1e-3, 250, 2500, 20000) }; { task with Dataset = DenseDiscs(1e-3, 250, 2500, 10000) } ]
            let labels = variants |> List.map taskLabel
            Expect.equal (List.distinct labels).Length variants.Length $"every variant has its own label: %A{labels}"
        }

        test "records pair and group by the content they read, not by the file as it is now" {
            // Two versions of one CSV path (the file is gone now): each record carries its content hash.
            let csv = { task with Dataset = Csv("/no/longer/here.csv", "label") }
            let version (hash: string) (loss: Loss) (seed: int) (ap: float) =
                let inputs = [ { Path = "/no/longer/here.csv"; Sha256 = String.replicate 8 hash; Kind = Data } ]
                let c = { csv with Loss = loss; Seed = seed }
                { record task [] with Id = runIdOf c inputs; Config = c; Inputs = inputs; Metrics = Map.ofList [ "average_precision", ap ] }
            let records =
                [ for s in 0 .. 4 do
                    yield version "aaaaaaaa" BinaryCrossEntropy s 0.50; yield version "aaaaaaaa" focal s (0.50 + 0.01 + noise s)
                    yield version "bbbbbbbb" BinaryCrossEntropy s 0.80; yield version "bbbbbbbb" focal s (0.80 - 0.02 + noise s) ]
            let rows = Frames.pairedDifferences records
            Expect.equal (rows |> List.map _.Dataset |> List.distinct |> List.length) 2 "two contents, two tasks"
            for r in rows do Expect.equal r.Pairs 5 $"{r.Dataset}: each focal run paired with the CE run of its own content and seed"
            let diffs = rows |> List.map (fun r -> Math.Round(r.MeanDiff, 2)) |> List.sort
            Expect.equal diffs [ -0.02; 0.01 ] "the differences within each version"
        }

        test "a label cannot inject script into the page" {
            let evil = "y</script><script>document.title=1</script>"
            let records =
                [ for s in 0 .. 2 do
                    for loss, ap in [ BinaryCrossEntropy, 0.5; focal, 0.6 ] ->
                        let c = { task with Dataset = Csv("/tmp/x.csv", evil); Loss = loss; Seed = s }
                        let inputs = [ { Path = "/tmp/x.csv"; Sha256 = String.replicate 64 "c"; Kind = Data } ]
                        { record task [] with Id = runIdOf c inputs; Config = c; Inputs = inputs; Metrics = Map.ofList [ "average_precision", ap + float s / 100.0 ] } ]
            let written = Report.write (Directory.CreateTempSubdirectory("wb-evil").FullName) "Evil" "A label with markup." Report.unknownSweep records
            let html = File.ReadAllText written.Html
            Expect.isFalse (html.Contains "</script><script>document.title=1") "the label never appears raw in the page"
            Expect.stringContains html "document.title=1" "it is there, escaped"
        }

        test "a loss label that names an invalid loss is refused" {
            for bad in [ "focal a=1.5 g=2"; "focal a=0.25 g=-1"; "balanced CE a=NaN"; "softmax focal a=[1,,2] g=2"; "focal a=++ g=2"; "softmax focal a=[0, 0] g=2" ] do
                Expect.throwsT<ArgumentException> (fun () -> Loss.ofLabel bad |> ignore) $"'{bad}' is refused"
        }

        test "the provenance names the repository's real commit" {
            let info = Diagnostics.ProcessStartInfo("git", [ "rev-parse"; "HEAD" ], WorkingDirectory = Data.repoRoot, RedirectStandardOutput = true)
            use git = Diagnostics.Process.Start info |> nonNull
            let head = git.StandardOutput.ReadToEnd().Trim()
            git.WaitForExit()
            Expect.equal git.ExitCode 0 "git answers in the repository"
            Expect.equal (Provenance.read Data.repoRoot).Commit head "the commit git reports"
        }
    ]

/// A report written from constructed runs (nothing trained), for the browser test.
let constructedReport =
    lazy
        (let records =
            [ for offsets, rate in [ [| 0.0; 0.02; 0.01; 0.03; 0.015 |], 0.1; [| 0.01; 0.0; 0.03; 0.02; 0.0 |], 0.2 ] do
                let task = { task with Dataset = Gaussian({ Train = 100; Test = 100 }, features = 2, positiveRate = rate, labelNoise = 0.0) }
                for s, offset in Array.indexed offsets do
                    yield record { task with Seed = s; Loss = BinaryCrossEntropy } [ "average_precision", 0.6 + offset; "f1", 0.6 + offset; "ece15", 0.02 + offset ]
                    yield record { task with Seed = s; Loss = focal } [ "average_precision", 0.6 + offset + noise s; "f1", 0.14 + offset + noise s; "ece15", 0.1 + offset + noise s ] ]
         Report.write (Directory.CreateTempSubdirectory("wb-report").FullName) "Constructed" "Constructed runs." Report.unknownSweep records)

[<Tests>]
let csvTests =
    testList "report files" [
        test "paired.csv and summary.csv name their columns in snake_case, as the README lists them" {
            let written = constructedReport.Value
            let header (path: string) = (File.ReadLines path |> Seq.head).Split(',') |> List.ofArray
            let paired = header written.PairedCsv
            for column in [ "dataset"; "setting"; "metric"; "family"; "mean_diff"; "ci_low"; "ci_high"; "relative_change"
                            "p_value"; "p_wilcoxon"; "p_adjusted"; "better"; "significant" ] do
                Expect.contains paired column $"paired.csv has {column}: {paired}"
            Expect.contains (header written.SummaryCsv) "ci_low" "summary.csv's interval is ci_low/ci_high"
            let runs = header written.RunsCsv
            Expect.containsAll runs [ "id"; "diverged_at_step"; "average_precision" ] $"runs.csv: {runs}"
            Expect.equal (Report.csvColumn "PWilcoxon", Report.csvColumn "DivergedAtStep", Report.csvColumn "balanced_test.top1")
                         ("p_wilcoxon", "diverged_at_step", "balanced_test.top1") "snake_case, metric keys untouched"
        }
    ]

[<Tests>]
let browserTests =
    testSequenced <| testList "report in a browser" [
        test "a report's contents links land and its tables sort both ways, in headless Chromium" {
            let written = constructedReport.Value
            let dom, console = Browser.render ("file://" + written.Html + "#selftest")
            Browser.expectContentsAndSorting dom console
        }
    ]
