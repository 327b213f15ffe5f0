/// Charts as pure functions from records, paired rows or loss curves to XPlot.Plotly charts, with titled
/// axes. Every loss setting keeps one colour across a report (`Palette`); plain cross-entropy is always
/// the same dark grey.
module Analysis.Charts

open System
open XPlot.Plotly
open Analysis.Config
open Analysis.Runner
open Analysis.Frames

let private sized (id: string) (height: int) (chart: PlotlyChart) = chart |> Chart.WithSize(900, height) |> Chart.WithId id

let private layout title xTitle yTitle =
    Layout(title = title, xaxis = Xaxis(title = xTitle), yaxis = Yaxis(title = yTitle))

/// One colour per loss setting, the same in every chart of a report; CE is dark grey.
type Palette(settings: string list) =
    // No pure red or blue: those mean "worse" and "better" in the matrices and tables.
    static let colours =
        [| "#ff7f0e"; "#2ca02c"; "#9467bd"; "#8c564b"; "#e377c2"; "#bcbd22"; "#17becf"; "#7f7f7f"
           "#ffbb78"; "#98df8a"; "#c5b0d5"; "#c49c94"; "#f7b6d2"; "#dbdb8d"; "#9edae5" |]
    // Sorted, so a setting has the same colour whatever order the records came in.
    let index = settings |> List.filter (fun s -> s <> "CE" && s <> "softmax CE") |> List.distinct |> List.sort |> List.mapi (fun i s -> s, i) |> Map.ofList
    /// The colour of a setting ("#rrggbb").
    member _.Of(setting: string) =
        if setting = "CE" || setting = "softmax CE" then "#444444"
        else match index.TryFind setting with Some i -> colours[i % colours.Length] | None -> "#777777"
    /// The colour with an alpha channel, for bands.
    member p.Faded(setting: string, alpha: float) =
        let c = p.Of setting
        let channel i = Convert.ToInt32(c.Substring(i, 2), 16)
        $"rgba({channel 1},{channel 3},{channel 5},{alpha.ToString(Globalization.CultureInfo.InvariantCulture)})"

/// Figure 1 of Lin et al. 2017: loss against p_t, one line per gamma (alpha off).
let lossVsPt (id: string) (points: LossCurves.LossPoint list) =
    points |> List.groupBy _.Gamma
    |> List.map (fun (g, ps) -> Scatter(x = (ps |> List.map _.PT), y = (ps |> List.map _.Focal), mode = "lines", name = $"gamma = {g}"))
    |> Chart.Plot |> Chart.WithLayout (layout "Focal loss against the probability of the true class (Lin et al. 2017, Fig. 1)" "p_t (probability of the true class)" "loss (nats)")
    |> sized id 460

/// The gradient with respect to the logit against p_t, one line per gamma.
let gradientVsPt (id: string) (points: LossCurves.LossPoint list) =
    points |> List.groupBy _.Gamma
    |> List.map (fun (g, ps) -> Scatter(x = (ps |> List.map _.PT), y = (ps |> List.map _.Gradient), mode = "lines", name = $"gamma = {g}"))
    |> Chart.Plot |> Chart.WithLayout (layout "Gradient of the focal loss with respect to the logit" "p_t (probability of the true class)" "d loss / d logit")
    |> sized id 460

/// The task x setting matrix of paired differences for one family's main metric (per task: the first
/// metric of `keys` the task has). Colour = improvement over CE (the difference with its sign turned for
/// lower-is-better metrics), diverging and centred on zero; each cell shows the difference, its interval and
/// the seeds won, starred when significant after Holm's adjustment.
let effectMatrix (id: string) (title: string) (keys: string list) (paired: PairedRow list) =
    let tasks = paired |> List.map _.Dataset |> List.distinct
    let settings = paired |> List.map _.Setting |> List.distinct
    let cell task setting =
        keys |> List.tryPick (fun k -> paired |> List.tryFind (fun p -> p.Dataset = task && p.Setting = setting && p.Metric = k))
    let improvement (p: PairedRow) = if lowerIsBetter.Contains p.Metric then -p.MeanDiff else p.MeanDiff
    // At least 1e-4: below that every difference is noise, and plotly cannot draw a colour bar of +-1e-9.
    let scale = paired |> List.filter (fun p -> List.contains p.Metric keys) |> List.map (improvement >> abs) |> List.filter (Double.IsNaN >> not) |> List.fold max 1e-4
    // Long task labels wrap at "; " so the left margin holds them.
    let wrap (t: string) = t.Replace("; ", ";<br>")
    let z = [ for t in tasks -> [ for s in settings -> match cell t s with Some p -> improvement p | None -> nan ] ]
    let label (p: PairedRow) =
        let info = metricInfo p.Metric
        if Verdicts.isTie p then $"{info.Short}: tie<br>identical on<br>all {p.Pairs} seeds"
        else $"""{info.Short} {Verdicts.signed p.MeanDiff}{(if p.Significant then "*" else "")}<br>[{Verdicts.number p.Lo}, {Verdicts.number p.Hi}]<br>{p.Better}/{p.Pairs} seeds better"""
    let text = [ for t in tasks -> [ for s in settings -> match cell t s with Some p -> label p | None -> "" ] ]
    let annotations =
        [ for ti, t in List.indexed tasks do
            for si, s in List.indexed settings do
                match cell t s with
                | Some p ->
                    // white text on the darkest cells, so every label stays readable
                    let dark = abs (improvement p) > 0.6 * scale
                    yield Annotation(x = s, y = wrap t, text = label p, showarrow = false, font = Font(size = 10.0, color = (if dark then "white" else "black")))
                | None -> () ]
    let heat =
        Heatmap(z = z, x = settings, y = (tasks |> List.map wrap), text = text, hoverinfo = "x+y+text", zmin = -scale, zmax = scale,
                colorscale = "RdBu", reversescale = true, colorbar = Colorbar(title = "better than CE (blue) / worse (red)", showticklabels = false))
    Chart.Plot [ heat ]
    |> Chart.WithLayout (Layout(title = title, annotations = annotations, margin = Margin(l = 300.0, b = 120.0),
                                xaxis = Xaxis(title = "loss setting (against plain cross-entropy)", ``type`` = "category"),
                                yaxis = Yaxis(title = "", ``type`` = "category", autorange = "reversed")))
    |> Chart.WithSize(1060, 200 + 90 * tasks.Length) |> Chart.WithId id

/// A forest plot of one metric's paired differences against CE for one task: per setting its mean with
/// the 95 % interval and a dot per seed; a second key (e.g. the metric after temperature scaling) is drawn
/// beside it as open diamonds.
let forest (id: string) (palette: Palette) (task: string) (keys: string list) (records: RunRecord list) (paired: PairedRow list) =
    let rows = paired |> List.filter (fun p -> p.Dataset = task && List.contains p.Metric keys)
    let settings = rows |> List.map _.Setting |> List.distinct
    let byId = records |> List.map (fun r -> r.Id, r) |> Map.ofList
    let seedDiffs setting key =
        records
        |> List.filter (fun r -> taskOf r = task && lossLabel r.Config = setting && not r.Diverged)
        |> List.choose (fun r ->
            match byId.TryFind(baselineIdOf r) with
            | Some b when not b.Diverged ->
                match r.Metrics.TryFind key, b.Metrics.TryFind key with
                | Some x, Some y when not (Double.IsNaN x || Double.IsNaN y) -> Some(x - y)
                | _ -> None
            | _ -> None)
    let traces =
        [ for ki, key in List.indexed keys do
            let info = metricInfo key
            let mine = settings |> List.choose (fun s -> rows |> List.tryFind (fun p -> p.Setting = s && p.Metric = key))
            let ys = mine |> List.map (fun p -> $"{p.Setting}")
            yield Scatter(x = (mine |> List.map _.MeanDiff), y = ys, mode = "markers", name = $"{info.Short}: mean and 95 %% interval",
                          marker = Marker(size = 11.0, symbol = (if ki = 0 then "circle" else "diamond-open"), color = (mine |> List.map (fun p -> palette.Of p.Setting))),
                          error_x = Error_x(``type`` = "data", symmetric = false, array = (mine |> List.map (fun p -> p.Hi - p.MeanDiff)), arrayminus = (mine |> List.map (fun p -> p.MeanDiff - p.Lo))),
                          text = (mine |> List.map (fun p -> $"{info.Short} {Verdicts.signed p.MeanDiff} [{Verdicts.number p.Lo}, {Verdicts.number p.Hi}], Holm p {Verdicts.pText p.PAdjusted}")), hoverinfo = "text")
            let dots = [ for s in settings do for d in seedDiffs s key -> s, d ]
            yield Scatter(x = (dots |> List.map snd), y = (dots |> List.map fst), mode = "markers", name = $"{info.Short}: one seed",
                          marker = Marker(size = 6.0, opacity = 0.45, color = (dots |> List.map (fun (s, _) -> palette.Of s))), hoverinfo = "x") ]
    let info = metricInfo (List.head keys)
    let zero = Shape(``type`` = "line", xref = "x", yref = "paper", x0 = 0.0, x1 = 0.0, y0 = 0.0, y1 = 1.0, line = XPlot.Plotly.Line(color = "#444444", dash = "dot"))
    let symbols = if keys.Length > 1 then $"; circles {info.Short}, diamonds {(metricInfo keys[1]).Short}" else ""
    Chart.Plot traces
    |> Chart.WithLayout (Layout(title = $"""{info.Short}: each setting minus plain cross-entropy on the same seed<br><sub>large marker and bar: mean and 95 %% interval; small dots: one seed each{symbols}</sub>""", shapes = [ zero ], margin = Margin(l = 200.0), showlegend = false,
                                xaxis = Xaxis(title = $"""difference in {info.Words}"""), yaxis = Yaxis(``type`` = "category", title = "")))
    |> sized id (160 + 45 * max 2 settings.Length)

/// An alpha x gamma heatmap of a summary metric's mean for one task (the analogue of the paper's Table 1),
/// on categorical axes, with the colour scale's range shown; None unless the grid is at least 2 x 2.
let alphaGammaHeatmap (id: string) (task: string) (metric: string) (summary: SummaryRow list) =
    let rows = summary |> List.filter (fun s -> s.Dataset = task && s.Metric = metric && isPlainSigmoidFocal s.Setting s.Alpha s.Gamma)
    let alphas = rows |> List.map _.Alpha |> List.distinct |> List.sort
    let gammas = rows |> List.map _.Gamma |> List.distinct |> List.sort
    if alphas.Length < 2 || gammas.Length < 2 then None
    else
        let cell a g = rows |> List.tryFind (fun r -> r.Alpha = a && r.Gamma = g) |> Option.map _.Mean |> Option.defaultValue nan
        let z = [ for a in alphas -> [ for g in gammas -> cell a g ] ]
        let values = z |> List.concat |> List.filter (Double.IsNaN >> not)
        let info = metricInfo metric
        let annotations = [ for a in alphas do for g in gammas -> Annotation(x = string g, y = string a, text = Verdicts.number (cell a g), showarrow = false, font = Font(size = 10.0)) ]
        Chart.Plot [ Heatmap(z = z, x = (gammas |> List.map string), y = (alphas |> List.map string), colorscale = "Viridis",
                             zmin = List.min values, zmax = List.max values, colorbar = Colorbar(title = info.Short)) ]
        |> Chart.WithLayout (Layout(title = $"{info.Short}: alpha x gamma, mean over seeds", annotations = annotations,
                                    xaxis = Xaxis(title = "gamma", ``type`` = "category"), yaxis = Yaxis(title = "alpha", ``type`` = "category")))
        |> sized id 460
        |> Some

/// Precision-recall curves of the seed-0 runs of a task, drawn as steps, one line per setting.
let precisionRecall (id: string) (palette: Palette) (task: string) (records: RunRecord list) =
    records
    |> List.filter (fun r -> r.Config.Seed = 0 && taskOf r = task && r.PrCurve.Length > 0)
    |> List.map (fun r ->
        let s = lossLabel r.Config
        Scatter(x = (r.PrCurve |> Array.map _.X), y = (r.PrCurve |> Array.map _.Y), mode = "lines", name = s, line = XPlot.Plotly.Line(shape = "hv", color = palette.Of s)))
    |> Chart.Plot |> Chart.WithLayout (layout "Precision-recall curves, test set, seed 0" "recall" "precision")
    |> sized id 460

/// Reliability diagrams of the seed-0 runs of a task: mean predicted probability against the fraction of
/// positives per bin, marker area proportional to the samples in the bin (hover: the count).
let reliability (id: string) (palette: Palette) (task: string) (records: RunRecord list) =
    let runs = records |> List.filter (fun r -> r.Config.Seed = 0 && taskOf r = task && r.Reliability.Length > 0)
    let largest = runs |> List.collect (fun r -> r.Reliability |> Array.toList |> List.map _.Count) |> List.fold max 1
    let traces =
        runs |> List.map (fun r ->
            let s = lossLabel r.Config
            Scatter(x = (r.Reliability |> Array.map _.MeanScore), y = (r.Reliability |> Array.map _.Fraction), mode = "lines+markers", name = s,
                    line = XPlot.Plotly.Line(color = palette.Of s), text = (r.Reliability |> Array.map (fun b -> $"{s}: {b.Count} samples")), hoverinfo = "x+y+text",
                    marker = Marker(color = palette.Of s, size = (r.Reliability |> Array.map (fun b -> 5.0 + 25.0 * sqrt (float b.Count / float largest))))))
    let diagonal = Scatter(x = [ 0.0; 1.0 ], y = [ 0.0; 1.0 ], mode = "lines", name = "perfect calibration", line = XPlot.Plotly.Line(dash = "dot", color = "grey"))
    Chart.Plot(traces @ [ diagonal ])
    |> Chart.WithLayout (layout "Reliability, test set, seed 0, 15 bins (marker area: samples in the bin)" "mean predicted probability" "fraction of positives")
    |> sized id 480

/// Per-epoch curves of a task with a band from the lowest to the highest seed and the mean as a line.
let bands (id: string) (palette: Palette) (title: string) (yTitle: string) (bounded: bool) (task: string) (points: BandPoint list) =
    let traces =
        points |> List.filter (fun p -> p.Dataset = task && not (Double.IsNaN p.Mean))
        |> List.groupBy _.Series
        |> List.collect (fun (s, ps) ->
            let ps = ps |> List.sortBy _.Epoch
            let xs = ps |> List.map (fun p -> float p.Epoch)
            [ Scatter(x = xs, y = (ps |> List.map _.Max), mode = "lines", line = XPlot.Plotly.Line(width = 0.0, color = palette.Of s), showlegend = false, hoverinfo = "skip", legendgroup = s)
              Scatter(x = xs, y = (ps |> List.map _.Min), mode = "lines", line = XPlot.Plotly.Line(width = 0.0, color = palette.Of s), fill = "tonexty", fillcolor = palette.Faded(s, 0.12), showlegend = false, hoverinfo = "skip", legendgroup = s)
              Scatter(x = xs, y = (ps |> List.map _.Mean), mode = "lines", name = s, line = XPlot.Plotly.Line(color = palette.Of s), legendgroup = s) ])
    let yaxis = if bounded then Yaxis(title = yTitle, range = [ 0.0; 1.0 ]) else Yaxis(title = yTitle)
    Chart.Plot traces
    |> Chart.WithLayout (Layout(title = $"{title} (line: mean over seeds; band: lowest to highest seed)", xaxis = Xaxis(title = "epoch", dtick = 1.0), yaxis = yaxis))
    |> sized id 460
