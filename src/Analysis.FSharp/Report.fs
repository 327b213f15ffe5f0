/// The comparison report: one self-contained HTML file per experiment (plotly.js inlined, nothing fetched),
/// a Markdown summary with the same tables, and the frames as CSV, all written atomically.
module Analysis.Report

open System
open System.Globalization
open System.IO
open System.Net
open System.Text
open Deedle
open XPlot.Plotly
open FocalLoss.Training
open Analysis.Config
open Analysis.Runner
open Analysis.Frames

let private inv = CultureInfo.InvariantCulture
let private f3 (v: float) = if Double.IsNaN v then "n/a" else v.ToString("0.000", inv)
let private signed (v: float) = if Double.IsNaN v then "n/a" else v.ToString("+0.000;-0.000;0.000", inv)

/// plotly.js as shipped inside the Plotly.NET package (an embedded resource), so the report needs no CDN.
let plotlyJs =
    lazy
        (let assembly = typeof<Plotly.NET.GenericChart>.Assembly
         let name = assembly.GetManifestResourceNames() |> Array.find (fun n -> n.EndsWith ".min.js")
         use stream = assembly.GetManifestResourceStream name |> nonNull
         use reader = new StreamReader(stream)
         name, reader.ReadToEnd())

let private metricName = function
    | "average_precision" -> "AP" | "macro_f1" -> "macro-F1" | "roc_auc" -> "ROC-AUC" | "ece15" -> "ECE" | m -> m

let private oneFeature (records: RunRecord list) (dataset: string) =
    records |> List.exists (fun r -> taskLabel r.Config = dataset && (r.Config.Dataset = "line" || r.Config.Dataset = "seed-line"))

/// Plain-language verdicts per dataset that follow from the paired differences on the primary metric.
let verdicts (records: RunRecord list) (paired: PairedRow list) : (string * string list) list =
    records |> List.map (fun r -> taskLabel r.Config, primaryMetric r.Config) |> List.distinct
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

let private htmlTable (headers: string list) (rows: string list list) =
    let sb = StringBuilder("<table><thead><tr>")
    for h in headers do sb.Append($"<th>{WebUtility.HtmlEncode h}</th>") |> ignore
    sb.Append("</tr></thead><tbody>") |> ignore
    for row in rows do
        sb.Append("<tr>") |> ignore
        for cell in row do sb.Append($"<td>{WebUtility.HtmlEncode cell}</td>") |> ignore
        sb.Append("</tr>") |> ignore
    sb.Append("</tbody></table>").ToString()

let private mdTable (headers: string list) (rows: string list list) =
    let line (cells: string list) = "| " + String.Join(" | ", cells |> List.map (fun c -> c.Replace("|", "\\|"))) + " |"
    String.Join("\n", [ line headers; "|" + String.replicate headers.Length "---|" ] @ (rows |> List.map line))

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

/// A complete, self-contained HTML page: plotly.js inlined (nothing is fetched), a window.onerror hook
/// that lists script errors in #js-errors, and the given body.
let htmlPage (title: string) (description: string) (body: string) =
    let resource, js = plotlyJs.Value
    let generated = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", inv)
    let head =
        $"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{WebUtility.HtmlEncode title}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}}table{{border-collapse:collapse;margin:1em 0;font-size:90%%}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:right}}td:first-child,th:first-child{{text-align:left}}.verdict li:first-child{{font-weight:600}}#js-errors{{color:#b00}}</style>
<script>window.__errors=[];window.addEventListener('error',function(e){{window.__errors.push(String(e.message));var p=document.getElementById('js-errors');if(p)p.textContent=window.__errors.join('\n');}});</script>
<script>/* plotly.js inlined from the Plotly.NET package resource {resource} */
"""
    let top =
        $"""
</script></head><body>
<h1>{WebUtility.HtmlEncode title}</h1><p>{WebUtility.HtmlEncode description}</p><pre id="js-errors"></pre>
"""
    String.Concat(head, js, top, body, $"<p>Generated {generated} UTC.</p></body></html>")

/// Charts under headings (a heading is written when it changes).
let chartsHtml (charts: (string * PlotlyChart) list) =
    let sb = StringBuilder()
    let mutable heading = ""
    for h, chart in charts do
        if h <> heading then
            sb.Append($"<h3>{WebUtility.HtmlEncode h}</h3>") |> ignore
            heading <- h
        sb.Append("<div class=\"chart\">").Append(chart.GetInlineHtml()).Append("</div>") |> ignore
    sb.ToString()

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
    let md = $"# {title}\n\n{description}\n\n" + mdTable [ "p_t"; "gamma"; "CE"; "focal"; "d focal / d logit" ] table + "\n"
    AtomicFile.WriteAllText(Path.Combine(folder, "summary.md"), md)
    let html = htmlPage title description (chartsHtml [ "Loss", Charts.lossVsPt "chart-loss" points; "Gradient", Charts.gradientVsPt "chart-gradient" points ])
    let path = Path.Combine(folder, "report.html")
    AtomicFile.WriteAllText(path, html)
    path

/// What an experiment's report is made of, for the caller's bookkeeping and tests.
type Written = { Html: string; Markdown: string; RunsCsv: string; SummaryCsv: string; PairedCsv: string; Charts: int; Verdicts: (string * string list) list }

/// Writes report.html, summary.md, runs.csv, summary.csv and paired.csv into <paramref name="folder"/>.
/// <paramref name="description"/> says what the experiment is for; <paramref name="seconds"/> is the
/// sweep's wall-clock time (NaN if unknown).
let write (folder: string) (title: string) (description: string) (seconds: float) (records: RunRecord list) : Written =
    if records.IsEmpty then invalidArg (nameof records) "records must not be empty: run the sweep first"
    Directory.CreateDirectory folder |> ignore
    let summary = summaries records
    let paired = pairedDifferences records
    let verdictList = verdicts records paired
    let runs = runsFrame records
    let summaryFrame = Frame.ofRecords summary
    let paths = {| Html = Path.Combine(folder, "report.html"); Md = Path.Combine(folder, "summary.md"); Runs = Path.Combine(folder, "runs.csv"); Summary = Path.Combine(folder, "summary.csv"); Paired = Path.Combine(folder, "paired.csv") |}
    saveCsv runs paths.Runs
    saveCsv summaryFrame paths.Summary
    if not paired.IsEmpty then saveCsv (Frame.ofRecords paired) paths.Paired else AtomicFile.WriteAllText(paths.Paired, "")

    let datasets = verdictList |> List.map fst
    let binary d = records |> List.exists (fun r -> taskLabel r.Config = d && not (List.contains r.Config.Dataset multiClassDatasets))
    let charts = Collections.Generic.List<string * PlotlyChart>()
    let add heading chart = charts.Add(heading, chart)
    let figure = LossCurves.curve None [ 0.0; 0.5; 1.0; 2.0; 5.0 ] [ for k in 1 .. 99 -> float k / 100.0 ]
    add "The loss family" (Charts.lossVsPt "chart-loss" figure)
    add "The loss family" (Charts.gradientVsPt "chart-gradient" figure)
    let pr = prFrame records
    let rel = reliabilityFrame records
    let curve = epochFrame (fun r -> r.TestCurve) records
    datasets |> List.iteri (fun i d ->
        let metric = records |> List.find (fun r -> taskLabel r.Config = d) |> fun r -> primaryMetric r.Config
        let focal = records |> List.filter (fun r -> taskLabel r.Config = d && r.Config.Loss = "sigmoid_focal")
        let gammas = focal |> List.map (fun r -> r.Config.Gamma) |> List.distinct
        let alphas = focal |> List.map (fun r -> r.Config.Alpha) |> List.distinct
        if gammas.Length >= 2 then add d (Charts.metricVsGamma $"chart-{i}-gamma" d metric summaryFrame)
        if gammas.Length >= 2 && alphas.Length >= 2 then add d (Charts.alphaGammaHeatmap $"chart-{i}-heatmap" d metric summaryFrame)
        if binary d && pr.RowCount > 0 then
            add d (Charts.curves $"chart-{i}-pr" "Precision-recall curves (test set, seed 0)" "recall" "precision" d false pr)
            add d (Charts.curves $"chart-{i}-reliability" "Reliability diagram (test set, seed 0, 15 bins)" "mean predicted probability" "fraction of positives" d true rel)
        if curve.RowCount > 0 then add d (Charts.curves $"chart-{i}-training" $"Test {metricName metric} after each epoch (mean over seeds)" "epoch" (metricName metric) d false curve))

    let finished = records |> List.filter (fun r -> not r.Diverged) |> List.length
    let devices = String.Join(", ", records |> List.map _.Device |> List.distinct)
    let settings = records |> List.map (fun r -> lossLabel r.Config) |> List.distinct
    let seeds = records |> List.map (fun r -> r.Config.Seed) |> List.distinct |> List.sort
    let first = (List.head records).Config
    let common =
        [ "model", first.Model; "optimizer", $"{first.Optimizer}, lr {first.LearningRate}"; "epochs", string first.Epochs
          "batch", string first.BatchSize; "batch reduction", first.Reduction ]
        |> List.filter (fun (k, _) ->
            records |> List.forall (fun r ->
                match k with
                | "model" -> r.Config.Model = first.Model
                | "optimizer" -> r.Config.Optimizer = first.Optimizer && r.Config.LearningRate = first.LearningRate
                | "epochs" -> r.Config.Epochs = first.Epochs
                | "batch" -> r.Config.BatchSize = first.BatchSize
                | _ -> r.Config.Reduction = first.Reduction))
    let sweepTime = if Double.IsNaN seconds then "n/a" else seconds.ToString("0.0", inv) + " s"
    let trainTime = (records |> List.sumBy _.Seconds).ToString("0.0", inv)
    let datasetList = String.Join("; ", datasets)
    let settingList = String.Join("; ", settings)
    let seedList = String.Join(", ", seeds)
    let configLines =
        [ $"Runs: {records.Length} ({finished} finished, {records.Length - finished} diverged) on {devices}; sweep time {sweepTime}, training time summed over runs {trainTime} s."
          $"Datasets ({datasets.Length}): {datasetList}."
          $"Loss settings ({settings.Length}): {settingList}."
          $"Seeds ({seeds.Length}): {seedList}. Every loss setting is trained on the same data and initialisation per seed, so differences are paired."
          yield! common |> List.map (fun (k, v) -> $"{k}: {v}") ]

    // Markdown summary (no timestamps, so reruns of the same sweep give the same file).
    let md = StringBuilder()
    md.AppendLine($"# {title}").AppendLine().AppendLine(description).AppendLine() |> ignore
    md.AppendLine("## Configuration").AppendLine() |> ignore
    for l in configLines do md.AppendLine($"- {l}") |> ignore
    md.AppendLine().AppendLine("## Verdicts").AppendLine() |> ignore
    for d, lines in verdictList do
        md.AppendLine($"### {d}").AppendLine() |> ignore
        for l in lines do md.AppendLine($"- {l}") |> ignore
        md.AppendLine() |> ignore
    md.AppendLine("## Tables").AppendLine().AppendLine("Mean [95 % t-interval] over the finished seeds of each setting; paired differences are setting minus plain cross-entropy on the same seed (for ECE, Brier and log-loss lower is better).").AppendLine() |> ignore
    for d in datasets do
        let h, rows = summaryTable summary d
        let ph, prows = pairedTable paired d
        md.AppendLine($"### {d}").AppendLine().AppendLine(mdTable h rows).AppendLine() |> ignore
        if not prows.IsEmpty then md.AppendLine(mdTable ph prows).AppendLine() |> ignore
    AtomicFile.WriteAllText(paths.Md, md.ToString())

    // HTML report: self-contained, plotly.js inlined.
    let body = StringBuilder("<h2>Configuration</h2><ul>")
    for l in configLines do body.Append($"<li>{WebUtility.HtmlEncode l}</li>") |> ignore
    body.Append("</ul><h2>Verdicts</h2>") |> ignore
    for d, lines in verdictList do
        body.Append($"<h3>{WebUtility.HtmlEncode d}</h3><ul class=\"verdict\">") |> ignore
        for l in lines do body.Append($"<li>{WebUtility.HtmlEncode l}</li>") |> ignore
        body.Append("</ul>") |> ignore
    body.Append("<h2>Tables</h2><p>Mean [95 % t-interval] over the finished seeds; paired differences are setting minus plain cross-entropy on the same seed (for ECE, Brier and log-loss lower is better).</p>") |> ignore
    for d in datasets do
        let h, rows = summaryTable summary d
        let ph, prows = pairedTable paired d
        body.Append($"<h3>{WebUtility.HtmlEncode d}</h3>").Append(htmlTable h rows) |> ignore
        if not prows.IsEmpty then body.Append(htmlTable ph prows) |> ignore
    body.Append("<h2>Charts</h2>").Append(chartsHtml (List.ofSeq charts)) |> ignore
    let html = htmlPage title description (body.ToString())
    AtomicFile.WriteAllText(paths.Html, html)
    { Html = paths.Html; Markdown = paths.Md; RunsCsv = paths.Runs; SummaryCsv = paths.Summary; PairedCsv = paths.Paired; Charts = charts.Count; Verdicts = verdictList }
