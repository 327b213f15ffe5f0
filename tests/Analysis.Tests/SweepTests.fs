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

let tiny =
    { defaults with Experiment = "tiny"; Dataset = "gaussian"; TrainCount = 600; TestCount = 600; PositiveRate = 0.2; Epochs = 2; Device = "cpu" }

let tinyGrid seeds =
    grid tiny [ id; (fun c -> { c with PositiveRate = 0.05 }) ]
        [ (fun c -> { c with Loss = "bce" }); (fun c -> { c with Loss = "sigmoid_focal"; Gamma = 2.0 }); (fun c -> { c with Loss = "sigmoid_focal"; Gamma = 0.5 }) ]
        seeds

let tempRoot () = Directory.CreateTempSubdirectory("wb-sweep").FullName

/// One small sweep shared by the report tests (2 worker processes), run once.
let shared =
    lazy
        (let root = tempRoot ()
         let records = Runner.sweep { Runner.defaultSweep with ResultsRoot = root; Workers = 2; Progress = false } (tinyGrid [ 0; 1; 2 ])
         let written = Report.write (Path.Combine(root, "tiny")) "Tiny sweep" "A tiny end-to-end sweep." nan records
         root, records, written)

let invalid (c: RunConfig) fragment =
    Expect.throwsC (fun () -> validateAll [ c ]) (fun e -> Expect.stringContains e.Message fragment "the error names the field and the values")

let chromium () =
    [ "/usr/bin/chromium"; "/usr/bin/chromium-browser"; "/usr/bin/google-chrome" ] |> List.tryFind File.Exists

[<Tests>]
let tests =
    testSequenced <| testList "sweeps and reports" [
        testList "config validation, before any run starts" [
            test "out-of-range values name the field" {
                invalid { tiny with Gamma = -1.0 } "Gamma must be finite and >= 0, got -1"
                invalid { tiny with Alpha = 1.5 } "Alpha must be in [0, 1] or -1 (none), got 1.5"
                invalid { tiny with PositiveRate = 0.0 } "PositiveRate must be in (0, 1), got 0"
                invalid { tiny with BatchSize = 0 } "BatchSize must be >= 1, got 0"
                invalid { tiny with Experiment = "../escape" } "Experiment must be a relative folder name"
            }
            test "unknown names list the valid ones" {
                invalid { tiny with Dataset = "cifar" } "Dataset must be seed-line, line, gaussian, dense-easy-negatives, mnist-one-vs-rest, mnist-long-tailed, csv, got 'cifar'"
                invalid { tiny with Loss = "focal" } "Loss must be sigmoid_focal, focal_from_probabilities, bce, balanced_bce, softmax_focal, cross_entropy, got 'focal'"
                invalid { tiny with Device = "tpu" } "Device must be auto, cpu, cuda or cuda:N, got 'tpu'"
            }
            test "a loss for the wrong task is rejected" {
                invalid { tiny with Loss = "cross_entropy" } "Loss must be a binary loss for a binary dataset"
                invalid { tiny with Dataset = "mnist-long-tailed"; Model = "mlp" } "Loss must be a multi-class loss"
            }
            test "every problem of every config is listed at once, and nothing ran" {
                let root = tempRoot ()
                Expect.throwsC (fun () -> Runner.sweep { Runner.defaultSweep with ResultsRoot = root } [ { tiny with Gamma = -1.0 }; { tiny with Epochs = 0; Seed = 1 } ] |> ignore) (fun e ->
                    Expect.stringContains e.Message "2 invalid setting(s)" "both problems are reported")
                Expect.isFalse (Directory.Exists(Path.Combine(root, "tiny"))) "no run started"
            }
        ]

        testList "identity, shards and merge" [
            test "a run's id is a hash of its config, independent of the experiment name" {
                Expect.equal (runId tiny) (runId { tiny with Experiment = "other" }) "experiment name excluded"
                Expect.notEqual (runId tiny) (runId { tiny with Seed = 1 }) "seed included"
                Expect.notEqual (runId tiny) (runId { tiny with Gamma = 2.5 }) "gamma included"
            }
            testPropertyWithConfig { FsCheckConfig.defaultConfig with maxTest = 100 } "the union of n shards is the grid, with no run twice" <|
                Prop.forAll (Arb.fromGen (Gen.zip (Gen.choose (1, 12)) (Gen.choose (1, 7)))) (fun (seeds, n) ->
                    let configs = tinyGrid [ 0 .. seeds - 1 ]
                    let shards = [ for k in 1 .. n -> Runner.shard (k, n) configs ]
                    let ids = shards |> List.concat |> List.map runId
                    List.sort ids = (configs |> List.map runId |> List.sort) && List.length (List.distinct ids) = List.length ids)
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
            let exploding = { tiny with Loss = "focal_from_probabilities"; Optimizer = "sgd"; LearningRate = 1e6; Reduction = "sum"; PositiveRate = 0.2 }
            let configs = [ for s in [ 0; 1 ] do yield { baselineOf exploding with Seed = s }; yield { exploding with Seed = s } ]
            let records = Runner.sweep { Runner.defaultSweep with ResultsRoot = root; Workers = 1; Progress = false } configs
            let diverged = records |> List.filter _.Diverged
            Expect.equal diverged.Length 2 "both exploding runs diverged"
            Expect.isTrue (diverged |> List.forall (fun r -> r.DivergedAtStep > 0L)) "with the step recorded"
            let summary = Frames.summaries records |> List.filter (fun s -> s.Loss = "focal_from_probabilities" && s.Metric = "average_precision")
            Expect.equal (summary |> List.map (fun s -> s.Runs, s.Diverged)) [ 2, 2 ] "2 runs, 2 diverged: counted, not dropped"
            let paired = Frames.pairedDifferences records |> List.filter (fun p -> p.Metric = "average_precision")
            Expect.equal (paired |> List.map (fun p -> p.Pairs, p.ExcludedSeeds)) [ 0, 2 ] "no usable pair, 2 seeds excluded"
            let frame = Frames.runsFrame records
            Expect.equal (frame.GetColumn<bool>("Diverged").Values |> Seq.filter id |> Seq.length) 2 "the frame keeps the diverged rows"
            let verdict = Report.verdicts records paired |> List.exactlyOne |> snd |> String.concat " "
            Expect.stringContains verdict "2 run(s) diverged and are counted, not dropped" "the verdict says so"
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
                Expect.isTrue (paired |> List.forall (fun p -> p.Pairs = 3 && p.Better + p.Worse <= 3)) "3 pairs each"
            }
            test "the report and summary are written with verdicts" {
                let _, _, written = shared.Value
                Expect.isTrue (File.Exists written.Html && File.Exists written.Markdown && File.Exists written.RunsCsv) "files written"
                let md = File.ReadAllText written.Markdown
                Expect.stringContains md "## Verdicts" "verdict section"
                Expect.stringContains md "Against plain cross-entropy over 3 seeds" "verdict follows from the numbers"
                Expect.equal written.Verdicts.Length 2 "one verdict block per dataset"
            }
            test "the report references no external resource: plotly.js is inlined" {
                let _, _, written = shared.Value
                let html = File.ReadAllText written.Html
                Expect.stringContains html "plotly.js inlined" "plotly.js is in the page"
                Expect.isTrue (html.Length > 3_000_000) $"the page carries plotly.js ({html.Length} characters)"
                Expect.isFalse (Regex.IsMatch(html, """<script[^>]*\ssrc\s*=""", RegexOptions.IgnoreCase)) "no script is loaded from elsewhere"
                Expect.isFalse (Regex.IsMatch(html, """<link[^>]*\shref\s*=""", RegexOptions.IgnoreCase)) "no stylesheet is loaded from elsewhere"
                // plotly.js's own source holds URL strings (documentation links, map tile templates) that the
                // page never fetches; everything the workbench wrote around it must hold none.
                let outsidePlotly = Regex.Replace(html, """<script>/\* plotly\.js inlined.*?</script>""", "", RegexOptions.Singleline)
                Expect.isLessThan outsidePlotly.Length 1_000_000 "the library was cut out for this check"
                Expect.isFalse (Regex.IsMatch(outsidePlotly, "https?://|@import|url\\(", RegexOptions.IgnoreCase)) "no http(s) reference outside the inlined library"
            }
            test "headless Chromium renders every chart offline with no console message" {
                let _, _, written = shared.Value
                match chromium () with
                | None -> failtest "Chromium is not installed: test.sh installs Debian's chromium package (apt-get install chromium)"
                | Some exe ->
                    let profile = Directory.CreateTempSubdirectory("wb-chromium").FullName
                    let args =
                        [ "--headless"; "--no-sandbox"; "--disable-gpu"; "--disable-quic"; "--no-first-run"; "--disable-background-networking"
                          "--disable-component-update"; "--disable-sync"; $"--user-data-dir={profile}"
                          "--host-resolver-rules=MAP * ~NOTFOUND"; "--proxy-server=127.0.0.1:9"   // network off
                          "--enable-logging=stderr"; "--v=0"; "--virtual-time-budget=20000"; "--dump-dom"; "file://" + written.Html ]
                    let info = ProcessStartInfo(exe, args, RedirectStandardOutput = true, RedirectStandardError = true)
                    use proc = Process.Start info |> nonNull
                    let err = proc.StandardError.ReadToEndAsync()
                    let dom = proc.StandardOutput.ReadToEnd()
                    Expect.isTrue (proc.WaitForExit 120_000) "Chromium finished within 2 minutes"
                    let plots = Regex.Matches(dom, "class=\"plot-container plotly\"").Count
                    Expect.equal plots written.Charts $"every chart rendered ({plots} of {written.Charts})"
                    Expect.isGreaterThanOrEqual (Regex.Matches(dom, "class=\"main-svg\"").Count) written.Charts "each chart drew its SVG"
                    let console = err.Result.Split('\n') |> Array.filter (fun l -> l.Contains ":CONSOLE")
                    Expect.isEmpty console "no console message (errors, warnings or logs)"
                    Expect.stringContains dom "<pre id=\"js-errors\"></pre>" "window.onerror caught nothing"
            }
            test "a loss-curve report is self-contained too" {
                let folder = Path.Combine(tempRoot (), "curves")
                let path = Report.writeCurves folder "Curves" "Loss curves." (LossCurves.curve None [ 0.0; 2.0 ] [ 0.1; 0.5; 0.9 ])
                let html = File.ReadAllText path
                Expect.stringContains html "plotly.js inlined" "inlined"
                Expect.isTrue (File.Exists(Path.Combine(folder, "curves.csv"))) "curves.csv written"
            }
        ]
    ]
