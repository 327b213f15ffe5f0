/// Results as Deedle frames: one row a run, summaries over seeds with 95 % intervals, and paired
/// differences against the cross-entropy baseline trained on the same data and seed.
module Analysis.Frames

open System
open Deedle
open Analysis.Config
open Analysis.Data
open Analysis.Runner

/// The config and bookkeeping columns of a run row (metrics are added as columns beside them).
type RunRow =
    { Id: string; Experiment: string; Dataset: string; Task: string; Model: string; Loss: string; Setting: string
      Alpha: float; Gamma: float; Optimizer: string; LearningRate: float; Momentum: float; Epochs: int; BatchSize: int
      Reduction: string; Seed: int; Device: string; Diverged: bool; DivergedAtStep: int64; Steps: int64; Seconds: float
      /// The files the run read, as path:sha256 (several separated by ;).
      Inputs: string }

/// Metrics where lower is better; for the rest higher is better.
let lowerIsBetter = set [ "ece15"; "brier"; "log_loss"; "classwise_ece15" ]

/// The metrics summaries and verdicts use, binary or multi-class.
let summaryMetrics (multiClass: bool) =
    if multiClass then [ "macro_f1"; "top1"; "classwise_ece15" ]
    else [ "average_precision"; "roc_auc"; "best_f1"; "f1"; "balanced_accuracy"; "ece15"; "brier"; "log_loss" ]

/// One row a run: config columns, bookkeeping (device, diverged, time) and every metric (NaN when absent).
/// Diverged runs stay in the frame; count them with the Diverged column before averaging, because Deedle
/// skips NaN in its statistics.
let runsFrame (records: RunRecord list) : Frame<int, string> =
    let rows =
        records |> List.map (fun r ->
            let c = r.Config
            let optimizer, lr, momentum = match c.Optimizer with Sgd(lr, m) -> "sgd", lr, m | Adam lr -> "adam", lr, nan
            { Id = r.Id; Experiment = c.Experiment; Dataset = taskLabel c
              Task = (match r.Task with Binary -> "binary" | MultiClass k -> $"multi-class ({k})")
              Model = Model.label c.Model; Loss = Loss.name c.Loss; Setting = lossLabel c; Alpha = Loss.alpha c.Loss; Gamma = Loss.gamma c.Loss
              Optimizer = optimizer; LearningRate = lr; Momentum = momentum; Epochs = c.Epochs; BatchSize = c.BatchSize
              Reduction = (match c.Reduction with BatchMean -> "mean" | BatchSum -> "sum"); Seed = c.Seed; Device = r.Device
              Diverged = r.Diverged; DivergedAtStep = r.DivergedAtStep; Steps = r.Steps; Seconds = r.Seconds
              Inputs = String.Join(";", r.Inputs |> List.map (fun i -> $"{i.Path}:{i.Sha256}")) })
    let frame = Frame.ofRecords rows
    let metricNames = records |> List.collect (fun r -> r.Metrics |> Map.keys |> List.ofSeq) |> List.distinct |> List.sort
    for name in metricNames do
        let values = records |> List.mapi (fun i r -> i, (match r.Metrics.TryFind name with | Some v when not r.Diverged -> v | _ -> nan))
        frame.AddColumn(name, Series.ofObservations values)
    frame

/// Mean and 95 % interval of one metric for one setting (all seeds), with run and divergence counts.
type SummaryRow =
    { Dataset: string; Setting: string; Loss: string; Alpha: float; Gamma: float; Metric: string
      Mean: float; Lo: float; Hi: float; Runs: int; Finished: int; Diverged: int }

/// Paired difference (setting minus CE) of one metric over the seeds where both runs finished.
type PairedRow =
    { Dataset: string; Setting: string; Loss: string; Alpha: float; Gamma: float; Metric: string
      MeanDiff: float; Lo: float; Hi: float; Pairs: int; Better: int; Worse: int; ExcludedSeeds: int; Significant: bool }

let private metric (r: RunRecord) name = r.Metrics.TryFind name |> Option.defaultValue nan

let private multiClass (r: RunRecord) = match r.Task with MultiClass _ -> true | Binary -> false

/// Per setting and metric: mean with t-interval over the finished runs, and how many diverged.
let summaries (records: RunRecord list) : SummaryRow list =
    records
    |> List.groupBy (fun r -> settingId r.Config)
    |> List.collect (fun (_, runs) ->
        let c = (List.head runs).Config
        let finished = runs |> List.filter (fun r -> not r.Diverged)
        summaryMetrics (multiClass (List.head runs))
        |> List.map (fun m ->
            let values = finished |> List.map (fun r -> metric r m) |> List.filter (Double.IsNaN >> not) |> Array.ofList
            let ci = if values.Length = 0 then { Stats.Mean = nan; Stats.Lo = nan; Stats.Hi = nan; Stats.N = 0 } else Stats.meanCI values
            { Dataset = taskLabel c; Setting = lossLabel c; Loss = Loss.name c.Loss; Alpha = Loss.alpha c.Loss; Gamma = Loss.gamma c.Loss; Metric = m
              Mean = ci.Mean; Lo = ci.Lo; Hi = ci.Hi; Runs = runs.Length; Finished = values.Length; Diverged = runs.Length - finished.Length }))
    |> List.sortBy (fun r -> r.Dataset, r.Metric, r.Setting)

/// Per non-baseline setting and metric: differences against the CE run of the same data, model and seed.
let pairedDifferences (records: RunRecord list) : PairedRow list =
    let byId = records |> List.map (fun r -> r.Id, r) |> Map.ofList
    records
    |> List.filter (fun r -> not (isBaseline r.Config))
    |> List.groupBy (fun r -> settingId r.Config)
    |> List.collect (fun (_, runs) ->
        let c = (List.head runs).Config
        let pairs = runs |> List.choose (fun r -> byId.TryFind(runId (baselineOf r.Config)) |> Option.map (fun b -> r, b))
        if pairs.IsEmpty then []
        else
            summaryMetrics (multiClass (List.head runs))
            |> List.map (fun m ->
                let usable = pairs |> List.filter (fun (r, b) -> not r.Diverged && not b.Diverged && not (Double.IsNaN(metric r m)) && not (Double.IsNaN(metric b m)))
                let xs = usable |> List.map (fun (r, _) -> metric r m) |> Array.ofList
                let ys = usable |> List.map (fun (_, b) -> metric b m) |> Array.ofList
                let ci, d = if xs.Length = 0 then { Stats.Mean = nan; Stats.Lo = nan; Stats.Hi = nan; Stats.N = 0 }, [||] else Stats.paired xs ys
                let sign = if lowerIsBetter.Contains m then -1.0 else 1.0
                { Dataset = taskLabel c; Setting = lossLabel c; Loss = Loss.name c.Loss; Alpha = Loss.alpha c.Loss; Gamma = Loss.gamma c.Loss; Metric = m
                  MeanDiff = ci.Mean; Lo = ci.Lo; Hi = ci.Hi; Pairs = xs.Length
                  Better = d |> Array.filter (fun v -> sign * v > 0.0) |> Array.length
                  Worse = d |> Array.filter (fun v -> sign * v < 0.0) |> Array.length
                  ExcludedSeeds = runs.Length - xs.Length; Significant = Stats.significant ci }))
    |> List.sortBy (fun r -> r.Dataset, r.Metric, r.Setting)

/// A long frame of curve points (Series, Dataset, X, Y) for charts.
type CurvePoint = { Dataset: string; Series: string; X: float; Y: float }

/// PR curves of the seed-0 runs (one series per loss setting).
let prFrame (records: RunRecord list) =
    records |> List.filter (fun r -> r.Config.Seed = 0)
    |> List.collect (fun r -> r.PrCurve |> Array.toList |> List.map (fun p -> { Dataset = taskLabel r.Config; Series = lossLabel r.Config; X = p.X; Y = p.Y }))
    |> Frame.ofRecords

/// Reliability diagrams of the seed-0 runs.
let reliabilityFrame (records: RunRecord list) =
    records |> List.filter (fun r -> r.Config.Seed = 0)
    |> List.collect (fun r -> r.Reliability |> Array.toList |> List.map (fun p -> { Dataset = taskLabel r.Config; Series = lossLabel r.Config; X = p.X; Y = p.Y }))
    |> Frame.ofRecords

/// Mean over the finished seeds of each setting of a per-epoch curve (training loss, or the test metric).
let epochFrame (select: RunRecord -> float[]) (records: RunRecord list) =
    records |> List.filter (fun r -> not r.Diverged && (select r).Length > 0)
    |> List.groupBy (fun r -> settingId r.Config)
    |> List.collect (fun (_, runs) ->
        let c = (List.head runs).Config
        let epochs = runs |> List.map (fun r -> (select r).Length) |> List.min
        [ for e in 0 .. epochs - 1 ->
            { Dataset = taskLabel c; Series = lossLabel c; X = float (e + 1); Y = runs |> List.averageBy (fun r -> (select r)[e]) } ])
    |> Frame.ofRecords
