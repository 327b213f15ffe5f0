/// Charts as pure functions from frames (or loss curves) to XPlot.Plotly charts, with titled axes.
module Analysis.Charts

open Deedle
open XPlot.Plotly
open Analysis.Frames

let private sized (id: string) (chart: PlotlyChart) = chart |> Chart.WithSize(860, 460) |> Chart.WithId id

let private layout title xTitle yTitle =
    Layout(title = title, xaxis = Xaxis(title = xTitle), yaxis = Yaxis(title = yTitle))

/// Figure 1 of Lin et al. 2017: loss against p_t, one line per gamma (alpha off).
let lossVsPt (id: string) (points: LossCurves.LossPoint list) =
    points |> List.groupBy _.Gamma
    |> List.map (fun (g, ps) -> Scatter(x = (ps |> List.map _.PT), y = (ps |> List.map _.Focal), mode = "lines", name = $"gamma = {g}"))
    |> Chart.Plot |> Chart.WithLayout (layout "Focal loss against the probability of the true class (Lin et al. 2017, Fig. 1)" "p_t (probability of the true class)" "loss (nats)")
    |> sized id

/// The gradient with respect to the logit against p_t, one line per gamma.
let gradientVsPt (id: string) (points: LossCurves.LossPoint list) =
    points |> List.groupBy _.Gamma
    |> List.map (fun (g, ps) -> Scatter(x = (ps |> List.map _.PT), y = (ps |> List.map _.Gradient), mode = "lines", name = $"gamma = {g}"))
    |> Chart.Plot |> Chart.WithLayout (layout "Gradient of the focal loss with respect to the logit" "p_t (probability of the true class)" "d loss / d logit")
    |> sized id

/// A summary metric against gamma for one dataset, one line per alpha, error bars = 95 % interval.
let metricVsGamma (id: string) (dataset: string) (metric: string) (summary: Frame<int, string>) =
    let rows =
        summary.Rows.Values
        |> Seq.filter (fun r -> r.GetAs<string> "Dataset" = dataset && r.GetAs<string> "Metric" = metric && r.GetAs<string> "Loss" = nameof FocalLoss.Functional.sigmoid_focal_loss)
        |> List.ofSeq
    rows |> List.groupBy (fun r -> r.TryGetAs<float> "Alpha" |> OptionalValue.asOption)   // NaN (no alpha) reads as missing
    |> List.sortBy fst
    |> List.map (fun (alpha, rs) ->
        let rs = rs |> List.sortBy (fun r -> r.GetAs<float> "Gamma")
        let value (r: ObjectSeries<string>) k = r.TryGetAs<float> k |> OptionalValue.asOption |> Option.defaultValue nan
        Scatter(x = (rs |> List.map (fun r -> value r "Gamma")), y = (rs |> List.map (fun r -> value r "Mean")), mode = "lines+markers",
                name = (match alpha with None -> "alpha none" | Some a -> $"alpha = {a}"),
                error_y = Error_y(``type`` = "data", symmetric = false,
                                  array = (rs |> List.map (fun r -> value r "Hi" - value r "Mean")),
                                  arrayminus = (rs |> List.map (fun r -> value r "Mean" - value r "Lo")))))
    |> Chart.Plot |> Chart.WithLayout (layout $"{metric} against gamma: {dataset} (mean and 95 %% interval over seeds)" "gamma" metric)
    |> sized id

/// An alpha x gamma heatmap of a summary metric's mean for one dataset (the analogue of the paper's Table 1).
let alphaGammaHeatmap (id: string) (dataset: string) (metric: string) (summary: Frame<int, string>) =
    let rows =
        summary.Rows.Values
        |> Seq.filter (fun r -> r.GetAs<string> "Dataset" = dataset && r.GetAs<string> "Metric" = metric && r.GetAs<string> "Loss" = nameof FocalLoss.Functional.sigmoid_focal_loss && (r.TryGetAs<float> "Alpha").HasValue)
        |> List.ofSeq
    let alphas = rows |> List.map (fun r -> r.GetAs<float> "Alpha") |> List.distinct |> List.sort
    let gammas = rows |> List.map (fun r -> r.GetAs<float> "Gamma") |> List.distinct |> List.sort
    let cell a g =
        rows |> List.tryFind (fun r -> r.GetAs<float> "Alpha" = a && r.GetAs<float> "Gamma" = g)
        |> Option.bind (fun r -> r.TryGetAs<float> "Mean" |> OptionalValue.asOption) |> Option.defaultValue nan
    Chart.Plot [ Heatmap(z = [ for a in alphas -> [ for g in gammas -> cell a g ] ], x = (gammas |> List.map string), y = (alphas |> List.map string), colorscale = "Viridis") ]
    |> Chart.WithLayout (layout $"{metric}: alpha x gamma, {dataset} (mean over seeds)" "gamma" "alpha")
    |> sized id

/// Curves of one dataset from a long curve frame (Dataset, Series, X, Y), one line per series.
let curves (id: string) (title: string) (xTitle: string) (yTitle: string) (dataset: string) (diagonal: bool) (frame: Frame<int, string>) =
    // A NaN coordinate (an undefined metric) reads as missing in Deedle: such points are not drawn.
    let rows = frame.Rows.Values |> Seq.filter (fun r -> r.GetAs<string> "Dataset" = dataset && (r.TryGetAs<float> "X").HasValue && (r.TryGetAs<float> "Y").HasValue) |> List.ofSeq
    let traces =
        rows |> List.groupBy (fun r -> r.GetAs<string> "Series")
        |> List.map (fun (series, rs) -> Scatter(x = (rs |> List.map (fun r -> r.GetAs<float> "X")), y = (rs |> List.map (fun r -> r.GetAs<float> "Y")), mode = (if diagonal then "lines+markers" else "lines"), name = series))
    let reference = if diagonal then [ Scatter(x = [ 0.0; 1.0 ], y = [ 0.0; 1.0 ], mode = "lines", name = "perfect calibration", line = Line(dash = "dot", color = "grey")) ] else []
    Chart.Plot(traces @ reference) |> Chart.WithLayout (layout $"{title}: {dataset}" xTitle yTitle) |> sized id
