/// Config validation, resume, shard/merge, atomic writes, frames, and a tiny sweep through to a report
/// that a headless Chromium renders offline.
module Analysis.Tests.SweepTests

open System
open System.Diagnostics
open System.IO
open System.Text.RegularExpressions
open Expecto
open FsCheck
open FsCheck.FSharp
open Analysis
open Analysis.Config

let tinyData rate = Gaussian({ Train = 600; Test = 600 }, features = 2, positiveRate = rate, labelNoise = 0.0)

let tiny = { defaults with Experiment = "tiny"; Dataset = tinyData 0.2; Epochs = 2; Device = Cpu }

let tinyGrid seeds =
    Experiment.grid tiny [ id; (fun c -> { c with Dataset = tinyData 0.05 }) ]
        [ (fun c -> { c with Loss = BinaryCrossEntropy }); (fun c -> { c with Loss = SigmoidFocal(Some 0.25, 2.0) }); (fun c -> { c with Loss = SigmoidFocal(Some 0.25, 0.5) }) ]
        seeds

let tempRoot () = Directory.CreateTempSubdirectory("wb-sweep").FullName

/// One small sweep shared by the report tests (2 worker processes), run once.
let shared =
    lazy
        (let root = tempRoot ()
         let records = Runner.sweep { Runner.defaultSweep with ResultsRoot = root; Workers = 2; Progress = false } (tinyGrid [ 0; 1; 2 ])
         let written = Report.write (Path.Combine(root, "tiny")) "Tiny sweep" "A tiny end-to-end sweep." Report.unknownSweep records
         root, records, written)

let invalid (c: RunConfig) fragment =
    Expect.throwsC (fun () -> Data.validateAll [ c ]) (fun e -> Expect.stringContains e.Message fragment "the error names the field and the values")

/// Writes a CSV of `rows` rows: two features, labels from `label` (row index -> class id).
let writeCsv (path: string) (rows: int) (label: int -> int) =
    let rng = Random(7)
    File.WriteAllLines(path, "x1,x2,label" :: [ for i in 0 .. rows - 1 -> let y = label i in $"{float y + rng.NextDouble()},{rng.NextDouble() - float y},{y}" ])

/// Processes whose command line is a sweep worker writing into `folder` (Linux /proc).
let workersWriting (folder: string) =
    [ for dir in Directory.GetDirectories "/proc" do
        match Int32.TryParse(Path.GetFileName dir) with
        | true, pid ->
            let cmdline = try File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\000', ' ') with _ -> ""
            if cmdline.Contains " worker " && cmdline.Contains folder then yield pid
        | _ -> () ]

/// Kills a process if it still runs (cleanup after a failed assertion).
let killQuietly (pid: int) =
    try (Process.GetProcessById pid).Kill() with _ -> ()

/// Starts a process that runs a 2-worker sweep into `folder`, waits (up to 60 s) for both workers, kills
/// that process alone with SIGKILL (no cleanup code of its own runs), and waits up to 20 s for the workers
/// to go. Returns the workers seen, the workers still there (then killed) and the seconds waited.
let killAndWatch (info: ProcessStartInfo) (folder: string) =
    use started = Process.Start info |> nonNull
    let clock = Stopwatch.StartNew()
    while (workersWriting folder).Length < 2 && clock.Elapsed.TotalSeconds < 60.0 && not started.HasExited do Threading.Thread.Sleep 200
    let seen = (workersWriting folder).Length
    started.Kill false
    started.WaitForExit()
    let stopped = Stopwatch.StartNew()
    while not (workersWriting folder).IsEmpty && stopped.Elapsed.TotalSeconds < 20.0 do Threading.Thread.Sleep 100
    let left = workersWriting folder
    left |> List.iter killQuietly
    seen, left, stopped.Elapsed.TotalSeconds

/// The child process of the kill -9 test: a sweep of slow runs with 2 workers into `root`.
let sweepChild (root: string) =
    let slow = { tiny with Dataset = Gaussian({ Train = 20000; Test = 2000 }, features = 2, positiveRate = 0.2, labelNoise = 0.0); Epochs = 200 }
    let configs = [ for s in 0 .. 3 -> { slow with Seed = s } ]
    Runner.sweep { Runner.defaultSweep with ResultsRoot = root; Workers = 2; Progress = false } configs |> ignore
    0

[<Tests>]
let tests =
    testSequenced <| testList "sweeps and reports" [
        testList "config validation, before any run starts" [
            test "out-of-range values name the field" {
                invalid { tiny with Loss = SigmoidFocal(Some 0.25, -1.0) } "Loss.gamma must be finite and >= 0, got -1"
                invalid { tiny with Loss = SigmoidFocal(Some 1.5, 2.0) } "Loss.alpha must be in [0, 1], got 1.5"
                invalid { tiny with Loss = BalancedBinaryCrossEntropy -1.0 } "Loss.alpha must be in [0, 1], got -1"
                invalid { tiny with Dataset = tinyData 0.0 } "Dataset.positiveRate must be in (0, 1), got 0"
                invalid { tiny with BatchSize = 0 } "BatchSize must be >= 1, got 0"
                invalid { tiny with Optimizer = Sgd(0.1, 1.0) } "Optimizer.momentum must be in [0, 1), got 1"
                invalid { tiny with Experiment = "../escape" } "Experiment must be a relative folder name"
            }
            test "a loss for the other task is rejected, the task read from the data" {
                invalid { tiny with Loss = SoftmaxCrossEntropy } "Loss must be an element-wise (binary or multi-label) loss for the binary data of gaussian 2-D, 20 % positives, 600/600, got 'softmax CE'"
                invalid { tiny with Dataset = MnistLongTailed 10.0; Model = Mlp [ 8 ] } "Loss must be a multi-class loss for the multi-class (10 classes) data"
                invalid { tiny with Dataset = MnistLongTailed 10.0; Model = Linear; Loss = SoftmaxCrossEntropy } "Model must have one output per class or label (logistic, mlp, cnn) for the multi-class (10 classes) data"
                invalid { tiny with Model = Cnn } "Model cnn needs 28 x 28 images [1, 28, 28], got features of shape [2]"
                CustomLosses.register("liar", FocalLoss.Data.LossTask.Binary, [], fun _ -> FocalLoss.Losses.SoftmaxCrossEntropyLoss() :> FocalLoss.ILossFunction)
                invalid { tiny with Loss = Custom("liar", []) } "Loss liar is registered as a Binary loss but its module says MultiClass"
                invalid { tiny with Dataset = MnistLongTailed 10.0; Model = Mlp [ 8 ]; Loss = SoftmaxCrossEntropy; Reduction = BatchSumOverPositives }
                    "Reduction batch sum over positives needs a binary or multi-label loss (positives are counted in 0/1 targets), got 'softmax CE'"
                let labels = { tiny with Dataset = MultiLabelLinear({ Train = 300; Test = 300 }, 3, 6, 0.2); Model = Mlp [ 8 ] }
                invalid { labels with Loss = SoftmaxCrossEntropy } "Loss must be an element-wise (binary or multi-label) loss for the multi-label (3 labels) data of multi-label linear, 3 labels, 6-D, 20 % positive slots"
                invalid { labels with Model = Linear } "Model must have one output per class or label (logistic, mlp, cnn) for the multi-label (3 labels) data"
                invalid { labels with Dataset = MultiLabelLinear({ Train = 300; Test = 300 }, 3, 3, 0.2) } "Dataset.features must be >= labels + 1 (4), got 3"
                invalid { labels with Dataset = MnistPairs({ Train = 300; Test = 300 }, 4) } "Dataset.maxDigits must be 2 or 3, got 4"
                invalid { labels with Dataset = MnistPairs({ Train = 2_000_000_000; Test = 100 }, 3) } "Dataset.sizes.Train must be in [2, 200000], got 2000000000"
                invalid { labels with Dataset = MnistPairs({ Train = 300; Test = 300 }, 2); Model = Cnn } "Model cnn needs 28 x 28 images [1, 28, 28], got features of shape [1, 28, 84]"
            }
            test "per-class alpha of the wrong length or with negative entries is refused before any run" {
                let lt = { tiny with Dataset = MnistLongTailed 10.0; Model = Mlp [ 8 ] }
                invalid { lt with Loss = SoftmaxFocal(Some [| 1.0; 2.0 |], 2.0) } "Loss.alpha must have one weight per class (10), got 2"
                invalid { lt with Loss = SoftmaxFocal(Some (Array.create 10 -1.0), 2.0) } "Loss.alpha must be per-class weights, finite and >= 0"
            }
            test "every problem of every config is listed at once, and nothing ran" {
                let root = tempRoot ()
                Expect.throwsC (fun () -> Runner.sweep { Runner.defaultSweep with ResultsRoot = root } [ { tiny with Loss = SigmoidFocal(None, -1.0) }; { tiny with Epochs = 0; Seed = 1 } ] |> ignore) (fun e ->
                    Expect.stringContains e.Message "2 invalid setting(s)" "both problems are reported")
                Expect.isFalse (Directory.Exists(Path.Combine(root, "tiny"))) "no run started"
            }
        ]

        testList "identity, shards and merge" [
            test "a run's id is a hash of its config, independent of the experiment name" {
                Expect.equal (Data.runId tiny) (Data.runId { tiny with Experiment = "other" }) "experiment name excluded"
                Expect.notEqual (Data.runId tiny) (Data.runId { tiny with Seed = 1 }) "seed included"
                Expect.notEqual (Data.runId tiny) (Data.runId { tiny with Loss = SigmoidFocal(Some 0.25, 2.5) }) "gamma included"
            }
            testPropertyWithConfig (Props.config 100) "the union of n shards is the grid, with no run twice" <|
                Prop.forAll (Arb.fromGen (Gen.zip (Gen.choose (1, 12)) (Gen.choose (1, 7)))) (fun (seeds, n) ->
                    let configs = tinyGrid [ 0 .. seeds - 1 ]
                    let shards = [ for k in 1 .. n -> Runner.shard (k, n) configs ]
                    let ids = shards |> List.concat |> List.map Data.runId
                    List.sort ids = (configs |> List.map Data.runId |> List.sort) && List.length (List.distinct ids) = List.length ids)
            test "shard syntax is checked" {
                Expect.equal (Runner.parseShard "2/3") (2, 3) "k/n"
                Expect.throwsC (fun () -> Runner.parseShard "4/3" |> ignore) (fun e -> Expect.stringContains e.Message "1 <= k <= n, got '4/3'" "names the value")
            }
            test "sharded sweeps merged give the same records as one sweep" {
                let full, _, _ = shared.Value
                let roots = [ tempRoot (); tempRoot () ]
                roots |> List.iteri (fun i root -> Runner.sweep { Runner.defaultSweep with ResultsRoot = root; Workers = 1; Shard = Some(i + 1, 2); Progress = false } (tinyGrid [ 0; 1; 2 ]) |> ignore)
                let target = Path.Combine(tempRoot (), "runs")
                let count = Runner.merge (roots |> List.map (fun r -> Runner.runsFolder r "tiny")) target
                Expect.equal count 18 "6 settings x 3 seeds"
                let metrics folder = Runner.loadAll folder |> List.map (fun r -> r.Id, r.Metrics["average_precision"]) |> List.sort
                Expect.equal (metrics target) (metrics (Runner.runsFolder full "tiny")) "one process per shard gives the same numbers as two parallel workers"
            }
        ]

        testList "resume and atomic writes" [
            test "rerunning a finished sweep runs nothing; a missing or half-written run is redone" {
                let root = tempRoot ()
                let configs = tinyGrid [ 0 ]
                let options = { Runner.defaultSweep with ResultsRoot = root; Workers = 1; Progress = false }
                let first = Runner.sweep options configs
                let folder = Runner.runsFolder root "tiny"
                let stamps () = Directory.GetFiles(folder, "*.json") |> Array.map (fun f -> f, File.GetLastWriteTimeUtc f) |> Map.ofArray
                let before = stamps ()
                let again = Runner.sweep options configs
                Expect.equal (stamps ()) before "no file rewritten on resume"
                Expect.equal (again |> List.map _.Metrics.["average_precision"]) (first |> List.map _.Metrics.["average_precision"]) "same records"
                let victim = Path.Combine(folder, first[0].Id + ".json")
                File.WriteAllText(victim, File.ReadAllText(victim).Substring(0, 100))   // what a crash mid-write would leave without atomic writes
                File.Delete(Path.Combine(folder, first[1].Id + ".json"))
                Expect.isNone (Runner.tryLoad victim) "a truncated file is not a record"
                let third = Runner.sweep options configs
                Expect.equal (third |> List.map _.Metrics.["average_precision"]) (first |> List.map _.Metrics.["average_precision"]) "the redone runs match (deterministic)"
                Expect.isSome (Runner.tryLoad victim) "the truncated run was redone"
                Expect.isEmpty (Directory.GetFiles(folder, "*.tmp", SearchOption.AllDirectories)) "no temporary file is left behind"
            }
        ]

        test "diverged runs are recorded, counted in the summary and named in the verdict" {
            let root = tempRoot ()
            let exploding = { tiny with Loss = FocalFromProbabilities(Some 0.25, 2.0); Optimizer = Sgd(1e6, 0.9); Reduction = BatchSum }
            let configs = [ for s in [ 0; 1 ] do yield { baselineOf exploding with Seed = s }; yield { exploding with Seed = s } ]
            let records = Runner.sweep { Runner.defaultSweep with ResultsRoot = root; Workers = 1; Progress = false } configs
            let diverged = records |> List.filter _.Diverged
            Expect.equal diverged.Length 2 "both exploding runs diverged"
            Expect.isTrue (diverged |> List.forall (fun r -> r.DivergedAtStep > 0L)) "with the step recorded"
            let summary = Frames.summaries records |> List.filter (fun s -> s.Loss = "focal_loss_from_probabilities" && s.Metric = "average_precision")
            Expect.equal (summary |> List.map (fun s -> s.Runs, s.Diverged)) [ 2, 2 ] "2 runs, 2 diverged: counted, not dropped"
            let paired = Frames.pairedDifferences records |> List.filter (fun p -> p.Metric = "average_precision")
            Expect.equal (paired |> List.map (fun p -> p.Pairs, p.ExcludedSeeds)) [ 0, 2 ] "no usable pair, 2 seeds excluded"
            let frame = Frames.runsFrame records
            Expect.equal (frame.GetColumn<bool>("Diverged").Values |> Seq.filter id |> Seq.length) 2 "the frame keeps the diverged rows"
            let verdict = Report.verdicts records paired |> List.exactlyOne |> snd |> String.concat " "
            Expect.stringContains verdict "2 run(s) diverged and are counted, not dropped" "the verdict says so"
            Expect.stringContains verdict "ranking: not compared (fewer than 2 seeds with a finished pair of runs)" "a setting with no finished pair is not called 'no significant difference'"
            Expect.isFalse (verdict.Contains "no significant difference") "nothing was compared, so nothing is judged"
        }

        testList "frames and report" [
            test "the runs frame has one row a run with config, bookkeeping and metric columns" {
                let _, records, _ = shared.Value
                let frame = Frames.runsFrame records
                Expect.equal frame.RowCount 18 "one row a run"
                for column in [ "Id"; "Dataset"; "Loss"; "Setting"; "Alpha"; "Gamma"; "Seed"; "Device"; "Diverged"; "Seconds"; "average_precision"; "roc_auc"; "ece15"; "brier" ] do
                    Expect.contains frame.ColumnKeys column $"column {column}"
            }
            test "the summary counts runs and pairs every focal setting with CE on the same seeds" {
                let _, records, _ = shared.Value
                let summary = Frames.summaries records
                Expect.isTrue (summary |> List.forall (fun s -> s.Runs = 3 && s.Diverged = 0)) "3 seeds each, none diverged"
                let paired = Frames.pairedDifferences records |> List.filter (fun p -> p.Metric = "average_precision")
                Expect.equal paired.Length 4 "2 focal settings x 2 datasets"
                let byId = records |> List.map (fun r -> r.Id, r) |> Map.ofList
                for p in paired do
                    // Recount the seeds won from the records themselves: setting minus the CE run of the same seed.
                    let runs = records |> List.filter (fun r -> taskLabel r.Config = p.Dataset && lossLabel r.Config = p.Setting)
                    let diffs = runs |> List.map (fun r -> r.Metrics["average_precision"] - byId[Data.runId (baselineOf r.Config)].Metrics["average_precision"])
                    Expect.equal p.Pairs 3 $"{p.Setting}: 3 pairs"
                    Expect.equal p.Better (diffs |> List.filter (fun d -> d > 0.0) |> List.length) $"{p.Setting}: seeds better"
                    Expect.equal p.Worse (diffs |> List.filter (fun d -> d < 0.0) |> List.length) $"{p.Setting}: seeds worse"
                    Expect.floatClose Accuracy.veryHigh p.MeanDiff (List.average diffs) $"{p.Setting}: mean paired difference"
            }
            test "the report and summary are written with verdicts" {
                let _, _, written = shared.Value
                Expect.isTrue (File.Exists written.Html && File.Exists written.Markdown && File.Exists written.RunsCsv) "files written"
                let md = File.ReadAllText written.Markdown
                Expect.stringContains md "## Verdicts" "verdict section"
                Expect.stringContains md "### Verdicts: gaussian 2-D, 20 % positives, 600/600; logistic; 2 epochs; cpu" "each task has its verdicts"
                Expect.stringContains md "focal a=0.25 g=2, ranking: " "a verdict per setting and family"
                Expect.stringContains md "calibration after temperature scaling" "the recalibrated family is judged"
                Expect.equal written.Verdicts.Length 2 "one verdict block per dataset"
            }
            test "the report references no external resource: plotly.js is inlined" {
                let _, _, written = shared.Value
                let html = File.ReadAllText written.Html
                let _, library = Document.plotlyJs.Value
                Expect.isGreaterThan library.Length 3_000_000 "the Plotly.NET resource holds the whole library"
                Expect.stringContains html library "the page carries the whole of plotly.js, verbatim"
                Expect.isFalse (Regex.IsMatch(html, """<script[^>]*\ssrc\s*=""", RegexOptions.IgnoreCase)) "no script is loaded from elsewhere"
                Expect.isFalse (Regex.IsMatch(html, """<link[^>]*\shref\s*=""", RegexOptions.IgnoreCase)) "no stylesheet is loaded from elsewhere"
                // plotly.js's own source holds URL strings (documentation links, map tile templates) that the
                // page never fetches; everything the workbench wrote around it must hold none.
                let outsidePlotly = Regex.Replace(html, """<script>/\* plotly\.js inlined.*?</script>""", "", RegexOptions.Singleline)
                Expect.isLessThan outsidePlotly.Length 1_000_000 "the library was cut out for this check"
                Expect.isFalse (Regex.IsMatch(outsidePlotly, "https?://|@import|url\\(", RegexOptions.IgnoreCase)) "no http(s) reference outside the inlined library"
            }
            test "headless Chromium renders every chart offline, with working contents and sortable tables" {
                let _, _, written = shared.Value
                let dom, console = Browser.render ("file://" + written.Html + "#selftest")
                let plots = Regex.Matches(dom, "class=\"plot-container plotly\"").Count
                Expect.equal plots written.Charts $"every chart rendered ({plots} of {written.Charts})"
                Expect.isGreaterThanOrEqual (Regex.Matches(dom, "class=\"main-svg\"").Count) written.Charts "each chart drew its SVG"
                Browser.expectContentsAndSorting dom console
            }
            test "a loss-curve report is self-contained too" {
                let folder = Path.Combine(tempRoot (), "curves")
                let path = Report.writeCurves folder "Curves" "Loss curves." (LossCurves.curve None [ 0.0; 2.0 ] [ 0.1; 0.5; 0.9 ])
                let html = File.ReadAllText path
                Expect.stringContains html (snd Document.plotlyJs.Value) "the whole library is inlined"
                Expect.isTrue (File.Exists(Path.Combine(folder, "curves.csv"))) "curves.csv written"
            }
        ]

        testList "defects a new user hit" [
            test "a CSV of class ids 0/1/2 is a multi-class task: trained, summarised and reported" {
                let root = tempRoot ()
                let csv = Path.Combine(root, "three.csv")
                writeCsv csv 300 (fun i -> i % 3)
                let base' = { tiny with Experiment = "three"; Dataset = Csv(csv, "label") }
                let configs = [ for s in [ 0; 1 ] do for l in [ SoftmaxCrossEntropy; SoftmaxFocal(Some [| 1.0; 2.0; 0.5 |], 2.0) ] -> { base' with Loss = l; Seed = s } ]
                let records = Runner.sweep { Runner.defaultSweep with ResultsRoot = root; Workers = 1; Progress = false } configs
                Expect.isTrue (records |> List.forall (fun r -> r.Task = MultiClass 3)) "the task and the class count come from the labels"
                let written = Report.write (Path.Combine(root, "three")) "three" "three classes" Report.unknownSweep records
                let summary = File.ReadAllText written.SummaryCsv
                Expect.stringContains summary "macro_f1" "multi-class metrics are summarised"
                Expect.isFalse (summary.Contains "average_precision") "no empty binary metrics"
                Expect.isTrue (records |> List.forall (fun r -> not (Double.IsNaN r.Metrics["macro_f1"]))) "macro-F1 measured"
            }
            test "a multi-label task trains element-wise losses, pairs them with BCE and reports mAP, F1 and pooled calibration" {
                let root = tempRoot ()
                let base' = { tiny with Experiment = "labels"; Dataset = MultiLabelLinear({ Train = 800; Test = 600 }, 4, 8, 0.2); Model = Mlp [ 16 ]; Epochs = 3 }
                let configs = [ for s in [ 0; 1 ] do for l in [ BinaryCrossEntropy; SigmoidFocal(Some 0.25, 2.0) ] -> { base' with Loss = l; Seed = s } ]
                let records = Runner.sweep { Runner.defaultSweep with ResultsRoot = root; Workers = 1; Progress = false } configs
                Expect.isTrue (records |> List.forall (fun r -> r.Task = MultiLabel 4)) "the task and the label count come from the [N, 4] labels"
                for r in records do
                    // Chance mAP is the positive rate (0.2); a trained MLP ranks far better.
                    Expect.isGreaterThan r.Metrics["mean_average_precision"] 0.4 $"{lossLabel r.Config} seed {r.Config.Seed}: mAP above chance"
                    for key in [ "micro_f1"; "macro_f1"; "slot_ece15"; "slot_brier"; "slot_log_loss"; "ap_label_3" ] do
                        Expect.isFalse (Double.IsNaN r.Metrics[key]) $"{key} measured"
                    Expect.isFalse (Double.IsNaN r.Temperature) "one temperature fitted on the pooled label slots of the calibration slice"
                let paired = Frames.pairedDifferences records
                Expect.equal (paired |> List.map _.Metric |> List.distinct |> List.sort)
                    ([ "mean_average_precision"; "micro_f1"; "macro_f1"; "slot_ece15"; "slot_brier"; "slot_log_loss"
                       "slot_ece15_recal"; "slot_brier_recal"; "slot_log_loss_recal" ] |> List.filter (fun k -> records |> List.forall (fun r -> r.Metrics.ContainsKey k)) |> List.sort)
                    "focal is paired with BCE on every multi-label metric"
                Expect.isTrue (paired |> List.forall (fun p -> p.Pairs = 2)) "two seeds paired"
                let written = Report.write (Path.Combine(root, "labels")) "labels" "four labels" Report.unknownSweep records
                let md = File.ReadAllText written.Markdown
                Expect.stringContains md "mean average precision over the labels" "the summary names the multi-label ranking metric"
                Expect.stringContains md "ECE of all label slots pooled" "and the pooled calibration"
                Expect.isFalse (Regex.IsMatch(File.ReadAllText written.SummaryCsv, "(^|,)average_precision(,|$)", RegexOptions.Multiline)) "no empty binary metrics"
            }
            test "a CSV whose labels are not 0..C-1 is refused before any run, the values named" {
                let root = tempRoot ()
                let csv = Path.Combine(root, "onetwo.csv")
                writeCsv csv 60 (fun i -> 1 + i % 2)
                invalid { tiny with Dataset = Csv(csv, "label") } "got 2 distinct values {1, 2}"
                let dup = Path.Combine(root, "dup.csv")
                File.WriteAllLines(dup, [ "x1,label,label"; "1,0,0"; "2,1,1"; "3,0,0" ])
                invalid { tiny with Dataset = Csv(dup, "label") } "column names must be unique, got 'label' more than once"
                let huge = Path.Combine(root, "huge.csv")
                File.WriteAllLines(huge, [ "x,label"; "1,0"; "2,3e9"; "3,1" ])
                invalid { tiny with Dataset = Csv(huge, "label") } "a label must be 0/1 or a class id"
            }
            test "editing a CSV between two sweeps reruns its runs on the new content" {
                let root = tempRoot ()
                let csv = Path.Combine(root, "grow.csv")
                writeCsv csv 300 (fun i -> i % 2)
                let configs = [ { tiny with Experiment = "grow"; Dataset = Csv(csv, "label"); Loss = BinaryCrossEntropy } ]
                let options = { Runner.defaultSweep with ResultsRoot = root; Workers = 1; Progress = false }
                let first = Runner.sweep options configs |> List.exactlyOne
                writeCsv csv 600 (fun i -> i % 2)
                File.SetLastWriteTimeUtc(csv, DateTime.UtcNow.AddSeconds 5.0)
                let second = Runner.sweep options configs |> List.exactlyOne
                Expect.notEqual second.Id first.Id "another content is another run"
                Expect.notEqual second.Inputs first.Inputs "the record names the content it read"
                Expect.equal (Runner.loadAll (Runner.runsFolder root "grow")).Length 2 "both runs are kept, the old one is not reported as the new"
            }
            test "a script-defined loss is refused when the workers would not know it" {
                ConfigTests.registerTestLoss ()
                let root = tempRoot ()
                let configs = [ for s in [ 0; 1 ] -> { tiny with Loss = Custom("scaled_bce", [ "scale", 1.0; "shift", 0.1 ]); Seed = s } ]
                Expect.throwsC (fun () -> Runner.sweep { Runner.defaultSweep with ResultsRoot = root; Workers = 2; Progress = false } configs |> ignore) (fun e ->
                    Expect.stringContains e.Message "its worker processes must be that script" "says what to do")
                invalid { tiny with Loss = Custom("nobody_registered", []) } "Loss 'nobody_registered' is not registered"
            }
            test "a dataset whose test split lacks a class is refused before any run" {
                let root = tempRoot ()
                let csv = Path.Combine(root, "onepositive.csv")
                writeCsv csv 200 (fun i -> if i = 7 then 1 else 0)
                invalid { tiny with Dataset = Csv(csv, "label") } "the test split (seed 0) holds no sample of class 1"
            }
            test "a shard the sweep cannot run is refused, and a missing worker host leaves no folder" {
                let root = tempRoot ()
                Expect.throwsC (fun () -> Runner.sweep { Runner.defaultSweep with ResultsRoot = root; Shard = Some(0, 0) } (tinyGrid [ 0 ]) |> ignore) (fun e ->
                    Expect.stringContains e.Message "Shard must be k/n with 1 <= k <= n, got 0/0" "names the shard")
                let options = { Runner.defaultSweep with ResultsRoot = root; Workers = 2; Progress = false; Worker = Runner.Library "/nonexistent/Analysis.FSharp.dll" }
                Expect.throws (fun () -> Runner.sweep options (tinyGrid [ 0 ]) |> ignore) "no worker host"
                Expect.isFalse (Directory.Exists(Path.Combine(root, "tiny"))) "nothing was created"
            }
            test "a sweep with several workers and no worker host fails instead of running in one process" {
                let root = tempRoot ()
                let options = { Runner.defaultSweep with ResultsRoot = root; Workers = 2; Progress = false; Worker = Runner.Library(Path.Combine(root, "missing", "Analysis.FSharp.dll")) }
                Expect.throwsC (fun () -> Runner.sweep options (tinyGrid [ 0 ]) |> ignore) (fun e ->
                    Expect.stringContains e.Message "cannot start 2 worker processes" "says what could not start"
                    Expect.stringContains e.Message "does not exist" "and why")
                Expect.isEmpty (Runner.loadAll (Runner.runsFolder root "tiny")) "nothing ran in this process meanwhile"
            }
            test "kill -9 of the sweep process stops its workers" {
                let root = tempRoot ()
                let folder = Runner.runsFolder root "tiny"
                let testProgram = Reflection.Assembly.GetEntryAssembly() |> nonNull |> _.Location
                let info = ProcessStartInfo("dotnet", [ testProgram; "--sweep-child"; root ], RedirectStandardOutput = true, RedirectStandardError = true)
                let started, left, seconds = killAndWatch info folder
                Expect.equal started 2 "two workers started"
                Expect.isEmpty left $"the workers stopped within 20 s of their parent's death (took {seconds:F1} s)"
                Runner.removeStaleTemporaries folder
                Expect.isEmpty (Directory.GetFiles(folder, "*.tmp") |> Array.append (Directory.GetFiles(folder, ".*"))) "no temporary file of a dead writer stays"
                Expect.isEmpty (Directory.GetDirectories folder) "no input folders are left behind"
            }
            test "kill -9 of the launcher that started the sweep (as dotnet fsi's) stops the sweep and its workers" {
                // `dotnet fsi` runs the script in a child of the launcher; a shell plays the launcher here.
                let root = tempRoot ()
                let folder = Runner.runsFolder root "tiny"
                let testProgram = Reflection.Assembly.GetEntryAssembly() |> nonNull |> _.Location
                let info = ProcessStartInfo("/bin/sh", [ "-c"; $"dotnet '{testProgram}' --sweep-child '{root}'; true" ], RedirectStandardOutput = true, RedirectStandardError = true)
                let started, left, seconds = killAndWatch info folder
                Expect.equal started 2 "two workers started"
                Expect.isEmpty left $"the sweep noticed its launcher was gone and stopped its workers within 20 s (took {seconds:F1} s)"
            }
        ]
    ]
