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

/// A CSV column name for a record field: snake_case ("PAdjusted" -> "p_adjusted", "MeanDiff" -> "mean_diff"),
/// the interval bounds "ci_low"/"ci_high"; metric keys ("average_precision") are left as they are.
let csvColumn (name: string) =
    match name with
    | "Lo" -> "ci_low"
    | "Hi" -> "ci_high"
    | _ -> Text.RegularExpressions.Regex.Replace(name, "(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_").ToLowerInvariant()

/// Saves a frame as CSV (invariant culture, no row keys, snake_case column names) through a temporary file and a rename.
let saveCsv (frame: Frame<int, string>) (path: string) =
    let frame = frame |> Frame.mapColKeys csvColumn
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
            [ textTable [ "p_t"; "gamma"; "CE"; "focal"; "d focal / d logit" ] table
              Chart("Loss", Charts.lossVsPt "chart-loss" points)
              Chart("Gradient", Charts.gradientVsPt "chart-gradient" points) ] }
    snd (writeDocument folder document)

/// How the sweep behind a report ran (unknown for a merge of shards).
type SweepInfo =
    { Seconds: float; Workers: int option; ThreadsPerWorker: int option
      /// Runs this sweep trained; the others were reused from earlier sweeps (None: unknown).
      Trained: int option }

/// A sweep whose timing and workers are not known (e.g. merged shards).
let unknownSweep = { Seconds = nan; Workers = None; ThreadsPerWorker = None; Trained = None }

/// What an experiment's report is made of, for the caller's bookkeeping and tests.
type Written = { Html: string; Markdown: string; RunsCsv: string; SummaryCsv: string; PairedCsv: string; Charts: int; Verdicts: (string * string list) list }

let private style (p: PairedRow) =
    if Verdicts.isTie p then Tied
    elif p.Significant then (if Verdicts.improves p then Better else Worse)
    else Plain

/// The verdict lines of one task: the one-line reading, then per setting and family its verdict, then notes
/// (diverged runs, the one-feature caveat).
let taskVerdicts (records: RunRecord list) (paired: PairedRow list) (task: string) =
    let runs = records |> List.filter (fun r -> taskOf r = task)
    let seeds = runs |> List.map (fun r -> r.Config.Seed) |> List.distinct |> List.length
    let rows = paired |> List.filter (fun p -> p.Dataset = task)
    let diverged = runs |> List.filter _.Diverged
    [ yield (if rows.IsEmpty then $"No setting was paired with a cross-entropy run ({seeds} seeds)." else Verdicts.taskReading seeds rows)
      for v in Verdicts.familyVerdicts rows -> $"{v.Setting}, {Verdicts.verdictLine v}"
      if not diverged.IsEmpty then
          let which = String.Join(", ", diverged |> List.map (fun r -> $"{lossLabel r.Config} seed {r.Config.Seed} at step {r.DivergedAtStep}"))
          yield $"{diverged.Length} run(s) diverged and are counted, not dropped: {which}."
      let missing = rows |> List.filter (fun p -> p.MissingBaseline > 0) |> List.map _.Setting |> List.distinct
      if not missing.IsEmpty then
          yield $"""The grid is incomplete: some seeds of {String.Join(", ", missing)} have no CE run to pair with (a shard missing from a merge?); those seeds are left out."""
      let bounded = runs |> List.filter (fun r -> not r.Diverged && not (Double.IsNaN r.Temperature) && not (r.TemperatureFit.StartsWith "Converged"))
      if not bounded.IsEmpty then
          let why = String.Join(", ", bounded |> List.map (fun r -> r.TemperatureFit.Split(' ')[0]) |> List.countBy id |> List.map (fun (w, n) -> $"{n} {w}"))
          yield $"{bounded.Length} of {runs.Length} temperature fits ended at a bound of the search ({why}: the calibration slice gives the temperature no minimum), and those runs have no recalibrated metrics."
      if runs |> List.exists (fun r -> Dataset.oneFeature r.Config.Dataset) then
          yield "One feature: every increasing linear model ranks the samples alike, so AP and ROC-AUC cannot separate losses here; compare F1, ECE and the decision boundary instead." ]

/// Plain-language verdicts per task (see taskVerdicts).
let verdicts (records: RunRecord list) (paired: PairedRow list) : (string * string list) list =
    records |> List.map (fun r -> taskOf r) |> List.distinct |> List.map (fun t -> t, taskVerdicts records paired t)

let private summaryTable (summary: SummaryRow list) (task: string) =
    let rows = summary |> List.filter (fun s -> s.Dataset = task)
    let metrics = rows |> List.map _.Metric |> List.distinct
    let header = [ "setting"; "runs"; "diverged" ] @ (metrics |> List.map (fun m -> (metricInfo m).Words))
    let body =
        rows |> List.groupBy _.Setting
        |> List.map (fun (setting, ms) ->
            let first = List.head ms
            text setting :: sortCell (string first.Runs) (float first.Runs) :: sortCell (string first.Diverged) (float first.Diverged)
            :: (metrics |> List.map (fun m ->
                    match ms |> List.tryFind (fun s -> s.Metric = m) with
                    | Some s -> sortCell $"{Verdicts.number s.Mean} [{Verdicts.number s.Lo}, {Verdicts.number s.Hi}]" s.Mean
                    | None -> text "")))
    Table(header, body)

let private pairedTable (paired: PairedRow list) (task: string) =
    let header =
        [ "setting"; "metric"; "family"; "difference vs CE"; "95 % interval"; "relative change"; "p (paired t)"; "p (Wilcoxon)"
          "Holm p (within task)"; "seeds better / worse / tied"; "verdict" ]
    let body =
        paired |> List.filter (fun p -> p.Dataset = task)
        |> List.map (fun p ->
            let info = metricInfo p.Metric
            let verdict =
                if p.Pairs < 2 && not (Verdicts.isTie p) then "not compared"
                elif Verdicts.isTie p then "tie" elif not p.Significant then "no significant difference"
                elif Verdicts.improves p then "better" else "worse"
            [ text p.Setting; text info.Words; text (Family.label info.Family)
              { sortCell (Verdicts.signed p.MeanDiff) p.MeanDiff with Style = style p }
              text $"[{Verdicts.number p.Lo}, {Verdicts.number p.Hi}]"; sortCell (Verdicts.percent p.RelativeChange) p.RelativeChange
              sortCell (Verdicts.pText p.PValue) p.PValue; sortCell (Verdicts.pText p.PWilcoxon) p.PWilcoxon; sortCell (Verdicts.pText p.PAdjusted) p.PAdjusted
              text $"{p.Better} / {p.Worse} / {p.Ties}"; { text verdict with Style = style p } ])
    Table(header, body)

let private splitText (task: Task) (name: string, count: int64, classes: int64 list) =
    match task, classes with
    | Binary, [ negatives; positives ] -> $"{name} {count} ({positives} positives, {negatives} negatives)"
    | MultiLabel _, _ -> $"""{name} {count} (positives per label {String.Join("/", classes)})"""
    | _ -> $"""{name} {count} (per class {String.Join("/", classes)})"""

/// The report of a set of runs as a document: contents, provenance, the effect matrices and readings, then
/// each task with its data, verdicts, tables and charts together, and the files behind it.
let document (title: string) (description: string) (sweep: SweepInfo) (records: RunRecord list) (summary: SummaryRow list) (paired: PairedRow list) (verdictList: (string * string list) list) =
    let provenance = Provenance.read Data.repoRoot
    let tasks = verdictList |> List.map fst
    let palette = Charts.Palette(records |> List.map (fun r -> lossLabel r.Config) |> List.distinct)
    let kindOf t = (records |> List.find (fun r -> taskOf r = t)).Task
    let first t = records |> List.find (fun r -> taskOf r = t)
    let testBands = epochBands (fun r -> r.TestCurve) records
    let lossBands = epochBands (fun r -> r.TrainLoss) records
    let figure = LossCurves.curve None [ 0.0; 0.5; 1.0; 2.0; 5.0 ] [ for k in 1 .. 99 -> float k / 100.0 ]
    let finished = records |> List.filter (fun r -> not r.Diverged) |> List.length
    let devices = String.Join(", ", records |> List.map _.Device |> List.distinct)
    let settings = records |> List.map (fun r -> lossLabel r.Config) |> List.distinct
    let seeds = records |> List.map (fun r -> r.Config.Seed) |> List.distinct |> List.sort
    let shared (label: string) (textOf: RunConfig -> string) =
        match records |> List.map (fun r -> textOf r.Config) |> List.distinct with
        | [ one ] -> [ label, one ]
        | many -> [ label, "varies: " + String.Join("; ", many) ]
    let optimizerText = function Sgd(lr, m) -> $"SGD, lr {num lr}, momentum {num m}" | Adam lr -> $"Adam, lr {num lr}"
    let seconds (v: float) = if Double.IsNaN v then "n/a" else v.ToString("0.0", inv) + " s"
    let perSetting =
        records |> List.groupBy (fun r -> lossLabel r.Config)
        |> List.map (fun (s, rs) -> $"{s} {seconds (rs |> List.sumBy _.Seconds)}")
    let files =
        [ "runs.csv", "one row a run: config, every metric, device, time, temperature, input hashes"
          "summary.csv", "mean and 95 % t-interval per task, setting and metric"
          "paired.csv", "setting minus CE per seed pair: difference, interval, p-values, Holm p, relative change, family"
          "runs/<id>.json", "every run's full record (config, metrics, curves, weights of linear models)" ]
    let mainKeys = [ "Ranking: AP (binary), mAP (multi-label)", [ "average_precision"; "mean_average_precision" ]
                     "Decisions at the default threshold: F1 at 0.5 (binary), macro-F1 (multi-class, multi-label)", [ "f1"; "macro_f1" ]
                     "Calibration: ECE (binary), top-label ECE (multi-class), ECE of the pooled label slots (multi-label); lower is better", [ "ece15"; "top_label_ece15"; "slot_ece15" ] ]
    let protocol =
        [ (match records |> List.map (fun r -> r.Config.Recalibration) |> List.distinct with
           | [ TemperatureOnHeldOut f ] -> $"Each run trains on its training split minus a stratified {f * 100.0:G3} %% calibration slice (with the training labels' noise, where a task has any: a practitioner has no clean labels to calibrate on); a temperature T is fitted on that slice by minimising the NLL of softmax(z / T) (multi-class) or sigmoid(z / T) (binary; multi-label with one T for all labels, fitted on the pooled label slots), and the test set is scored again with it (metrics marked (T)). Temperature fits that ended at a bound instead of a minimum: {records |> List.filter (fun r -> not r.Diverged && r.TemperatureFit <> string FocalLoss.Metrics.TemperatureFitStatus.Converged) |> List.length} of {records.Length}."
           | [ NoRecalibration ] -> "Runs train on their whole training split; no temperature is fitted."
           | many -> $"Recalibration differs between runs: %A{many}.")
          $"Verdicts compare each setting with plain cross-entropy trained on the same data, initialisation and shuffling per seed. p-values: two-sided paired t-test on the per-seed differences (Wilcoxon signed-rank beside it from {wilcoxonMinPairs} seeds); Holm-adjusted over every setting and metric of a task; significant means Holm p < {Frames.alpha}. Intervals are unadjusted 95 %% t-intervals of the mean difference."
          "Families: ranking (AP, ROC-AUC and F1 at the best threshold, which depend only on the order of the scores), decisions at the default threshold 0.5 (F1, balanced accuracy), calibration (ECE with 15 equal-width bins, Brier, log-loss; lower is better), the same after temperature scaling, and for multi-class tasks macro-F1, top-1, top-label and classwise ECE, plus a class-balanced test set where there is one; for multi-label tasks mAP (ranking, the mean of the labels' AP), micro- and macro-F1 with each label at 0.5 (decisions), and ECE, Brier and log-loss of all label slots pooled (calibration). Element-wise losses (focal, ASL, ...) on multi-label data are compared with per-label BCE." ]
    { Title = title
      Description = description
      Blocks =
        [ Contents
          Heading(2, "Provenance and configuration")
          Definitions
            [ "command", provenance.CommandLine
              "git commit (report written)", $"{provenance.Commit}; {provenance.Dirty}"
              "software", $"{provenance.DotNet}; TorchSharp {provenance.TorchSharp}; {provenance.LibTorch}; FSharp.Core {provenance.FSharpCore}"
              "machine", $"{provenance.OperatingSystem}; {provenance.Cpu}; {provenance.Cores} cores"
              "parallelism", (match sweep.Workers, sweep.ThreadsPerWorker with
                              | Some w, Some t -> $"{w} worker process(es), {t} torch thread(s) each"
                              | _ -> "not recorded (merged shards)")
              "runs", $"{records.Length} ({finished} finished, {records.Length - finished} diverged) on {devices}"
              "time",
                (let reused = match sweep.Trained with Some t when t < records.Length -> $" ({records.Length - t} of {records.Length} runs reused from earlier sweeps; their training times are from then)" | _ -> ""
                 $"""sweep wall time {seconds sweep.Seconds}{reused}; training time per setting, summed over its runs: {String.Join("; ", perSetting)}""")
              $"tasks ({tasks.Length})", String.Join("; ", tasks)
              $"loss settings ({settings.Length})", String.Join("; ", settings)
              $"seeds ({seeds.Length})", String.Join(", ", seeds)
              yield! shared "optimizer" (fun c -> optimizerText c.Optimizer)
              yield! shared "epochs" (fun c -> string c.Epochs)
              yield! shared "batch" (fun c -> string c.BatchSize)
              yield! shared "batch reduction" (fun c -> match c.Reduction with BatchMean -> "mean" | BatchSum -> "sum" | BatchSumOverPositives -> "sum over positives")
              "code of the runs", String.Join("; ", records |> List.countBy _.Code |> List.map (fun (c, n) -> $"{c}: {n} run(s)")) ]
          Links [ for f, what in files -> f.Replace("<id>", "*"), (if f.Contains "<id>" then "runs/" else f), what ]
          Heading(2, "Protocol")
          Bullets protocol
          if not paired.IsEmpty then
            Heading(2, "At a glance")
            Paragraph "Each cell: the mean paired difference against plain cross-entropy, its 95 % interval and the seeds where the setting was better; blue = better than CE, red = worse (for ECE lower is better); * = significant after Holm's adjustment within the task."
          for i, (t, keys) in List.indexed mainKeys do
              if paired |> List.exists (fun p -> List.contains p.Metric keys) then
                  Chart(t, Charts.effectMatrix $"chart-matrix-{i}" t keys paired)
          Bullets [ for t, lines in verdictList -> $"{t}: {List.head lines}" ]
          for ti, (t, lines) in List.indexed verdictList do
              let task = kindOf t
              Heading(2, t)
              Paragraph(List.head lines)
              match Data.facts (first t).Config with
              | Ok f ->
                  let noise = match f.Noise with Some n -> " Label noise: " + n + "." | None -> ""
                  Paragraph($"""Data (seed 0): {String.Join("; ", f.Splits |> List.map (splitText task))}.{noise}""")
              | Result.Error e -> Paragraph($"Data: could not be read again for this report: {e}")
              Heading(3, $"Verdicts: {t}")
              Bullets(List.tail lines)
              Heading(3, $"Tables: {t}")
              Paragraph "Mean [95 % t-interval] over the finished seeds of each setting (click a column header to sort):"
              summaryTable summary t
              if paired |> List.exists (fun p -> p.Dataset = t) then
                  Paragraph "Paired differences, setting minus plain cross-entropy on the same seed; coloured where significant after Holm's adjustment (blue better, red worse, grey a tie):"
                  pairedTable paired t
              Heading(3, $"Charts: {t}")
              for ki, keys in List.indexed (match task with
                                             | Binary -> [ [ "average_precision" ]; [ "f1"; "best_f1" ]; [ "ece15"; "ece15_recal" ] ]
                                             | MultiClass _ -> [ [ "macro_f1" ]; [ "top_label_ece15"; "top_label_ece15_recal" ]; [ "balanced_test.macro_f1" ] ]
                                             | MultiLabel _ -> [ [ "mean_average_precision" ]; [ "micro_f1"; "macro_f1" ]; [ "slot_ece15"; "slot_ece15_recal" ] ]) do
                  if paired |> List.exists (fun p -> p.Dataset = t && p.Metric = List.head keys) then
                      Chart($"forest {ki}", Charts.forest $"chart-{ti}-forest-{ki}" palette t keys records paired)
              match Charts.alphaGammaHeatmap $"chart-{ti}-heatmap" t (Runner.primaryMetric task) summary with
              | Some h -> Chart("alpha x gamma", h)
              | None -> ()
              if task = Binary then
                  Chart("precision-recall", Charts.precisionRecall $"chart-{ti}-pr" palette t records)
                  Chart("reliability", Charts.reliability $"chart-{ti}-reliability" palette t records)
              let epochs = records |> List.filter (fun r -> taskOf r = t) |> List.map _.TestCurve.Length |> List.fold max 0
              if epochs >= 2 then
                  Chart("test metric per epoch", Charts.bands $"chart-{ti}-test" palette $"Test {(metricInfo (Runner.primaryMetric task)).Short} per epoch" (metricInfo (Runner.primaryMetric task)).Short true t testBands)
                  Chart("training loss per epoch", Charts.bands $"chart-{ti}-loss" palette "Training loss per epoch (each setting's own loss)" "training loss" false t lossBands)
          // A reference figure for reports that compare focal losses (Lin et al. 2017, Fig. 1).
          if records |> List.exists (fun r -> not (Double.IsNaN(Loss.gamma r.Config.Loss)) && Loss.gamma r.Config.Loss > 0.0) then
              Heading(2, "Focal loss against p_t (reference)")
              Chart("Focal loss against p_t", Charts.lossVsPt "chart-loss" figure)
              Chart("Gradient against p_t", Charts.gradientVsPt "chart-gradient" figure) ] }

/// Writes report.html, summary.md, runs.csv, summary.csv and paired.csv into <paramref name="folder"/>,
/// all from the same records in this one call. <paramref name="description"/> says what the experiment
/// is for; <paramref name="sweep"/> how the sweep ran.
let write (folder: string) (title: string) (description: string) (sweep: SweepInfo) (records: RunRecord list) : Written =
    if records.IsEmpty then invalidArg (nameof records) "records must not be empty: run the sweep first"
    // One order whatever order the records came in (a sweep's, a merge's file order): tasks by label,
    // plain CE first within a task, then settings by label, then seeds.
    let records = records |> List.sortBy (fun r -> taskOf r, (if isBaseline r.Config then 0 else 1), lossLabel r.Config, r.Config.Seed)
    Directory.CreateDirectory folder |> ignore
    let summary = summaries records
    let paired = pairedDifferences records
    let verdictList = verdicts records paired
    let paths = {| Runs = Path.Combine(folder, "runs.csv"); Summary = Path.Combine(folder, "summary.csv"); Paired = Path.Combine(folder, "paired.csv") |}
    saveCsv (runsFrame records) paths.Runs
    saveCsv (Frame.ofRecords summary) paths.Summary
    if not paired.IsEmpty then saveCsv (Frame.ofRecords paired) paths.Paired
    else AtomicFile.WriteAllText(paths.Paired, String.Join(",", Reflection.FSharpType.GetRecordFields(typeof<PairedRow>) |> Array.map (fun f -> csvColumn f.Name)) + "\n")
    let doc = document title description sweep records summary paired verdictList
    let md, html = writeDocument folder doc
    { Html = html; Markdown = md; RunsCsv = paths.Runs; SummaryCsv = paths.Summary; PairedCsv = paths.Paired; Charts = chartCount doc; Verdicts = verdictList }
