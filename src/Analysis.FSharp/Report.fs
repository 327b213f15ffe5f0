/// The comparison report: one document (Analysis.Document) rendered as a self-contained HTML file
/// (plotly.js inlined, nothing fetched) and a Markdown summary in the same call, plus the frames as CSV,
/// all written atomically.
module Analysis.Report

open System
open System.Globalization
open System.IO
open Deedle
open XPlot.Plotly
open FocalLoss.Infrastructure
open Analysis.Config
open Analysis.Runner
open Analysis.Frames
open Analysis.Document

let private inv = CultureInfo.InvariantCulture
let private f3 (v: float) = if Double.IsNaN v then "n/a" else v.ToString("0.000", inv)
let private signed (v: float) = if Double.IsNaN v then "n/a" else v.ToString("+0.000;-0.000;0.000", inv)

let private metricName = function
    | "average_precision" -> "AP" | "macro_f1" -> "macro-F1" | "roc_auc" -> "ROC-AUC" | "ece15" -> "ECE" | m -> m

let private oneFeature (records: RunRecord list) (dataset: string) =
    records |> List.exists (fun r -> taskLabel r.Config = dataset && Dataset.oneFeature r.Config.Dataset)

/// Plain-language verdicts per dataset that follow from the paired differences on the primary metric.
let verdicts (records: RunRecord list) (paired: PairedRow list) : (string * string list) list =
    records |> List.map (fun r -> taskLabel r.Config, primaryMetric r.Task) |> List.distinct
    |> List.map (fun (dataset, metric) ->
        let rows = paired |> List.filter (fun p -> p.Dataset = dataset && p.Metric = metric)
        let runs = records |> List.filter (fun r -> taskLabel r.Config = dataset)
        let seeds = runs |> List.map (fun r -> r.Config.Seed) |> List.distinct |> List.length
        let diverged = runs |> List.filter (fun r -> r.Diverged)
        let up = rows |> List.filter (fun p -> p.Significant && p.MeanDiff > 0.0)
        let down = rows |> List.filter (fun p -> p.Significant && p.MeanDiff < 0.0)
        let m = metricName metric
        let headline =
            if rows.IsEmpty then $"No setting was paired with a cross-entropy run ({seeds} seeds)."
            else
                let best = rows |> List.maxBy (fun p -> if Double.IsNaN p.MeanDiff then Double.NegativeInfinity else p.MeanDiff)
                $"Against plain cross-entropy over {seeds} seeds, {up.Length} of {rows.Length} settings improved {m} significantly and {down.Length} worsened it; "
                + $"{rows.Length - up.Length - down.Length} showed no significant difference. Largest mean change: {best.Setting}, {m} {signed best.MeanDiff} [{f3 best.Lo}, {f3 best.Hi}] "
                + "(95 % t-intervals of paired differences, no correction for multiple comparisons)."
        let details =
            rows |> List.map (fun p ->
                let word = if not p.Significant then "no significant difference" elif p.MeanDiff > 0.0 then "improved" else "worsened"
                let excluded = if p.ExcludedSeeds > 0 then $"; {p.ExcludedSeeds} seed(s) excluded because a run diverged" else ""
                $"{p.Setting}: {word}, {m} {signed p.MeanDiff} [{f3 p.Lo}, {f3 p.Hi}], better on {p.Better} of {p.Pairs} seeds{excluded}.")
        let notes =
            [ if not diverged.IsEmpty then
                  let which = String.Join(", ", diverged |> List.map (fun r -> $"{lossLabel r.Config} seed {r.Config.Seed} at step {r.DivergedAtStep}"))
                  yield $"{diverged.Length} run(s) diverged and are counted, not dropped: {which}."
              if oneFeature records dataset then
                  yield "One feature: every increasing linear model ranks the samples alike, so AP and ROC-AUC cannot separate losses here; compare F1, ECE and the decision boundary instead." ]
        dataset, headline :: details @ notes)

let private summaryTable (summary: SummaryRow list) dataset =
    let rows =
        summary |> List.filter (fun s -> s.Dataset = dataset)
        |> List.groupBy (fun s -> s.Setting)
        |> List.map (fun (setting, ms) ->
            let first = List.head ms
            setting :: string first.Runs :: string first.Diverged :: (ms |> List.map (fun s -> $"{f3 s.Mean} [{f3 s.Lo}, {f3 s.Hi}]")))
    let metrics = summary |> List.filter (fun s -> s.Dataset = dataset) |> List.map (fun s -> metricName s.Metric) |> List.distinct
    [ "setting"; "runs"; "diverged" ] @ metrics, rows

let private pairedTable (paired: PairedRow list) dataset =
    let rows =
        paired |> List.filter (fun p -> p.Dataset = dataset)
        |> List.map (fun p -> [ p.Setting; metricName p.Metric; signed p.MeanDiff; $"[{f3 p.Lo}, {f3 p.Hi}]"; $"{p.Better}/{p.Pairs}"; (if p.Significant then "yes" else "no") ])
    [ "setting"; "metric"; "mean difference vs CE"; "95 % interval"; "seeds better"; "significant" ], rows

/// Saves a frame as CSV (invariant culture, no row keys) through a temporary file and a rename.
let private saveCsv (frame: Frame<int, string>) (path: string) =
    AtomicFile.Write(path, fun temp -> frame.SaveCsv(temp, includeRowKeys = false, culture = inv))

/// Writes a document as summary.md and report.html into a folder, in one call, from the same value.
let private writeDocument (folder: string) (document: Document) =
    let md = Path.Combine(folder, "summary.md")
    let html = Path.Combine(folder, "report.html")
    AtomicFile.WriteAllText(md, toMarkdown document)
    AtomicFile.WriteAllText(html, toHtml document)
    md, html

/// Writes the loss and gradient curves (Figure 1 of Lin et al. 2017) as curves.csv, summary.md and a
/// self-contained report.html into <paramref name="folder"/>; returns the HTML path.
let writeCurves (folder: string) (title: string) (description: string) (points: LossCurves.LossPoint list) =
    Directory.CreateDirectory folder |> ignore
    let rows = points |> List.map (fun p -> {| p_t = p.PT; gamma = p.Gamma; cross_entropy = p.CrossEntropy; focal = p.Focal; gradient = p.Gradient |})
    saveCsv (Frame.ofRecords rows) (Path.Combine(folder, "curves.csv"))
    let marks = set [ 0.1; 0.5; 0.9; 0.99 ]
    let table =
        points |> List.filter (fun p -> marks.Contains(Math.Round(p.PT, 2)))
        |> List.map (fun p -> [ p.PT.ToString("0.00", inv); p.Gamma.ToString("G4", inv); p.CrossEntropy.ToString("G4", inv); p.Focal.ToString("G4", inv); p.Gradient.ToString("G4", inv) ])
    let document =
        { Title = title; Description = description
          Blocks =
            [ Table([ "p_t"; "gamma"; "CE"; "focal"; "d focal / d logit" ], table)
              Chart("Loss", Charts.lossVsPt "chart-loss" points)
              Chart("Gradient", Charts.gradientVsPt "chart-gradient" points) ] }
    snd (writeDocument folder document)

/// What an experiment's report is made of, for the caller's bookkeeping and tests.
type Written = { Html: string; Markdown: string; RunsCsv: string; SummaryCsv: string; PairedCsv: string; Charts: int; Verdicts: (string * string list) list }

/// The report of a set of runs as a document: configuration, verdicts per task, tables and charts.
let document (title: string) (description: string) (seconds: float) (records: RunRecord list) (summary: SummaryRow list) (paired: PairedRow list) (verdictList: (string * string list) list) =
    let summaryFrame = Frame.ofRecords summary
    let datasets = verdictList |> List.map fst
    let taskOf d = (records |> List.find (fun r -> taskLabel r.Config = d)).Task
    let pr = prFrame records
    let rel = reliabilityFrame records
    let curve = epochFrame (fun r -> r.TestCurve) records
    let figure = LossCurves.curve None [ 0.0; 0.5; 1.0; 2.0; 5.0 ] [ for k in 1 .. 99 -> float k / 100.0 ]
    let chartsOf i d =
        let metric = primaryMetric (taskOf d)
        let focal = records |> List.filter (fun r -> taskLabel r.Config = d && (match r.Config.Loss with SigmoidFocal _ -> true | _ -> false))
        let gammas = focal |> List.map (fun r -> Loss.gamma r.Config.Loss) |> List.distinct
        let alphas = focal |> List.map (fun r -> Loss.alpha r.Config.Loss) |> List.filter (Double.IsNaN >> not) |> List.distinct
        [ if gammas.Length >= 2 then Chart($"{metricName metric} against gamma", Charts.metricVsGamma $"chart-{i}-gamma" d metric summaryFrame)
          if gammas.Length >= 2 && alphas.Length >= 2 then Chart($"{metricName metric}: alpha x gamma", Charts.alphaGammaHeatmap $"chart-{i}-heatmap" d metric summaryFrame)
          if taskOf d = Binary && pr.RowCount > 0 then
              Chart("Precision-recall curves", Charts.curves $"chart-{i}-pr" "Precision-recall curves (test set, seed 0)" "recall" "precision" d false pr)
              Chart("Reliability diagram", Charts.curves $"chart-{i}-reliability" "Reliability diagram (test set, seed 0, 15 bins)" "mean predicted probability" "fraction of positives" d true rel)
          if curve.RowCount > 0 then
              Chart("Test metric per epoch", Charts.curves $"chart-{i}-training" $"Test {metricName metric} after each epoch (mean over seeds)" "epoch" (metricName metric) d false curve) ]

    let finished = records |> List.filter (fun r -> not r.Diverged) |> List.length
    let devices = String.Join(", ", records |> List.map _.Device |> List.distinct)
    let settings = records |> List.map (fun r -> lossLabel r.Config) |> List.distinct
    let seeds = records |> List.map (fun r -> r.Config.Seed) |> List.distinct |> List.sort
    let shared (label: string) (text: RunConfig -> string) =
        match records |> List.map (fun r -> text r.Config) |> List.distinct with
        | [ one ] -> [ $"{label}: {one}" ]
        | _ -> []
    let optimizerText = function Sgd(lr, m) -> $"SGD, lr {num lr}, momentum {num m}" | Adam lr -> $"Adam, lr {num lr}"
    let sweepTime = if Double.IsNaN seconds then "n/a" else seconds.ToString("0.0", inv) + " s"
    let trainTime = (records |> List.sumBy _.Seconds).ToString("0.0", inv)
    let configLines =
        [ $"Runs: {records.Length} ({finished} finished, {records.Length - finished} diverged) on {devices}; sweep time {sweepTime}, training time summed over runs {trainTime} s."
          $"""Tasks ({datasets.Length}): {String.Join("; ", datasets)}."""
          $"""Loss settings ({settings.Length}): {String.Join("; ", settings)}."""
          $"""Seeds ({seeds.Length}): {String.Join(", ", seeds)}. Every loss setting is trained on the same data and initialisation per seed, so differences are paired."""
          yield! shared "model" (fun c -> Model.label c.Model)
          yield! shared "optimizer" (fun c -> optimizerText c.Optimizer)
          yield! shared "epochs" (fun c -> string c.Epochs)
          yield! shared "batch" (fun c -> string c.BatchSize)
          yield! shared "batch reduction" (fun c -> match c.Reduction with BatchMean -> "mean" | BatchSum -> "sum") ]
    let tableNote = "Mean [95 % t-interval] over the finished seeds of each setting; paired differences are setting minus plain cross-entropy on the same seed (for ECE, Brier and log-loss lower is better)."
    { Title = title
      Description = description
      Blocks =
        [ Heading(2, "Configuration"); Bullets configLines
          Heading(2, "Verdicts")
          for d, lines in verdictList do
              Heading(3, d); Bullets lines
          Heading(2, "Tables"); Paragraph tableNote
          for d in datasets do
              Heading(3, d)
              Table(summaryTable summary d)
              let ph, prows = pairedTable paired d
              if not prows.IsEmpty then Table(ph, prows)
          Heading(2, "Charts")
          Chart("Focal loss against p_t", Charts.lossVsPt "chart-loss" figure)
          Chart("Gradient against p_t", Charts.gradientVsPt "chart-gradient" figure)
          for i, d in List.indexed datasets do
              let charts = chartsOf i d
              if not charts.IsEmpty then
                  Heading(3, d)
                  yield! charts ] }

/// Writes report.html, summary.md, runs.csv, summary.csv and paired.csv into <paramref name="folder"/>,
/// all from the same records in this one call. <paramref name="description"/> says what the experiment
/// is for; <paramref name="seconds"/> is the sweep's wall-clock time (NaN if unknown).
let write (folder: string) (title: string) (description: string) (seconds: float) (records: RunRecord list) : Written =
    if records.IsEmpty then invalidArg (nameof records) "records must not be empty: run the sweep first"
    Directory.CreateDirectory folder |> ignore
    let summary = summaries records
    let paired = pairedDifferences records
    let verdictList = verdicts records paired
    let paths = {| Runs = Path.Combine(folder, "runs.csv"); Summary = Path.Combine(folder, "summary.csv"); Paired = Path.Combine(folder, "paired.csv") |}
    saveCsv (runsFrame records) paths.Runs
    saveCsv (Frame.ofRecords summary) paths.Summary
    if not paired.IsEmpty then saveCsv (Frame.ofRecords paired) paths.Paired else AtomicFile.WriteAllText(paths.Paired, "")
    let doc = document title description seconds records summary paired verdictList
    let md, html = writeDocument folder doc
    { Html = html; Markdown = md; RunsCsv = paths.Runs; SummaryCsv = paths.Summary; PairedCsv = paths.Paired; Charts = chartCount doc; Verdicts = verdictList }
