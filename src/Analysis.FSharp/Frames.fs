/// Results as Deedle frames: one row a run, summaries over seeds with 95 % intervals, and paired
/// differences against the cross-entropy baseline trained on the same data and seed, with p-values
/// Holm-adjusted within each task.
module Analysis.Frames

open System
open Deedle
open Analysis.Config
open Analysis.Data
open Analysis.Runner

/// What a metric says about a model: how it ranks, how it decides at the default threshold, how
/// calibrated its probabilities are (before and after temperature scaling), on a second test set.
type Family =
    | Ranking
    | Decisions
    | Calibration
    | Recalibrated
    | BalancedTest

module Family =
    /// The family's name in reports.
    let label = function
        | Ranking -> "ranking"
        | Decisions -> "decisions at the default threshold"
        | Calibration -> "calibration"
        | Recalibrated -> "calibration after temperature scaling"
        | BalancedTest -> "class-balanced test set"

/// One metric the reports judge: its key in a run's metrics, a short name, a header in words, its family,
/// and whether lower is better.
type MetricInfo = { Key: string; Short: string; Words: string; Family: Family; LowerIsBetter: bool }

let private m key short words family lower = { Key = key; Short = short; Words = words; Family = family; LowerIsBetter = lower }

/// The metrics of binary tasks, in report order.
let binaryMetrics =
    [ m "average_precision" "AP" "average precision" Ranking false
      m "roc_auc" "ROC-AUC" "area under the ROC curve" Ranking false
      m "best_f1" "best F1" "F1 at the best threshold" Ranking false
      m "f1" "F1@0.5" "F1 at threshold 0.5" Decisions false
      m "balanced_accuracy" "bal. acc.@0.5" "balanced accuracy at threshold 0.5" Decisions false
      m "ece15" "ECE" "expected calibration error, 15 bins (lower is better)" Calibration true
      m "brier" "Brier" "Brier score (lower is better)" Calibration true
      m "log_loss" "log-loss" "log-loss (lower is better)" Calibration true
      m "ece15_recal" "ECE (T)" "ECE after temperature scaling (lower is better)" Recalibrated true
      m "brier_recal" "Brier (T)" "Brier score after temperature scaling (lower is better)" Recalibrated true
      m "log_loss_recal" "log-loss (T)" "log-loss after temperature scaling (lower is better)" Recalibrated true ]

/// The metrics of multi-class tasks, in report order.
let multiClassMetrics =
    [ m "macro_f1" "macro-F1" "macro-averaged F1 (multi-class: argmax; multi-label: each label at 0.5)" Decisions false
      m "top1" "top-1" "top-1 accuracy" Decisions false
      m "top_label_ece15" "top-label ECE" "top-label ECE, 15 bins (Guo et al. 2017; lower is better)" Calibration true
      m "classwise_ece15" "classwise ECE" "classwise ECE, 15 bins (lower is better)" Calibration true
      m "top_label_ece15_recal" "top-label ECE (T)" "top-label ECE after temperature scaling (lower is better)" Recalibrated true
      m "classwise_ece15_recal" "classwise ECE (T)" "classwise ECE after temperature scaling (lower is better)" Recalibrated true
      m "balanced_test.macro_f1" "balanced macro-F1" "macro-F1 on the class-balanced test set" BalancedTest false
      m "balanced_test.top1" "balanced top-1" "top-1 accuracy on the class-balanced test set" BalancedTest false
      m "balanced_test.top_label_ece15" "balanced top-label ECE" "top-label ECE on the class-balanced test set (lower is better)" BalancedTest true ]

/// The metrics of multi-label tasks, in report order: calibration pools every (sample, label) slot as one
/// binary problem, and the temperature is one for all labels, fitted on the pooled slots.
let multiLabelMetrics =
    [ m "mean_average_precision" "mAP" "mean average precision over the labels" Ranking false
      m "micro_f1" "micro-F1" "micro-averaged F1, each label at 0.5" Decisions false
      List.find (fun i -> i.Key = "macro_f1") multiClassMetrics
      m "slot_ece15" "slot ECE" "ECE of all label slots pooled, 15 bins (lower is better)" Calibration true
      m "slot_brier" "slot Brier" "Brier score of all label slots pooled (lower is better)" Calibration true
      m "slot_log_loss" "slot log-loss" "log-loss of all label slots pooled (lower is better)" Calibration true
      m "slot_ece15_recal" "slot ECE (T)" "slot ECE after temperature scaling (lower is better)" Recalibrated true
      m "slot_brier_recal" "slot Brier (T)" "slot Brier score after temperature scaling (lower is better)" Recalibrated true
      m "slot_log_loss_recal" "slot log-loss (T)" "slot log-loss after temperature scaling (lower is better)" Recalibrated true ]

/// The metrics reported for a task.
let metricsOf (task: Task) =
    match task with
    | Binary -> binaryMetrics
    | MultiClass _ -> multiClassMetrics
    | MultiLabel _ -> multiLabelMetrics

let private allMetrics = binaryMetrics @ multiClassMetrics @ multiLabelMetrics |> List.distinctBy _.Key

/// Every known metric by key.
let metricInfo =
    let all = allMetrics |> List.map (fun i -> i.Key, i) |> Map.ofList
    fun (key: string) -> all.TryFind key |> Option.defaultValue (m key key key Ranking false)

/// Keys of the metrics where lower is better.
let lowerIsBetter = allMetrics |> List.filter _.LowerIsBetter |> List.map _.Key |> Set.ofList

/// The task of a run record: its config's task label, and for a CSV the first 8 hex digits of the content
/// the run read, so two versions of an edited file are two tasks. Read from the record, never from the disk.
let taskOf (r: RunRecord) =
    match r.Config.Dataset, r.Inputs with
    | Csv _, input :: _ -> $"{taskLabel r.Config}; content {input.Sha256.Substring(0, 8)}"
    | _ -> taskLabel r.Config

/// The setting of a run record (everything but the seed), from the inputs the record stored.
let settingOf (r: RunRecord) = runIdOf { r.Config with Seed = 0 } r.Inputs

/// The id of the plain cross-entropy run a record is paired with: same config, data content and seed.
let baselineIdOf (r: RunRecord) = runIdOf (baselineOf r.Config) (r.Inputs |> List.filter (fun i -> i.Kind = Data))

/// The config and bookkeeping columns of a run row (metrics are added as columns beside them).
type RunRow =
    { Id: string; Experiment: string; Dataset: string; Task: string; Model: string; Loss: string; Setting: string
      Alpha: float; Gamma: float; Optimizer: string; LearningRate: float; Momentum: float; Epochs: int; BatchSize: int
      Reduction: string; Seed: int; Device: string; Diverged: bool; DivergedAtStep: int64; Steps: int64; Seconds: float
      /// The temperature fitted on the calibration slice (NaN when none was fitted).
      Temperature: float
      /// The files the run read, as path:sha256 (several separated by ;).
      Inputs: string }

/// One row a run: config columns, bookkeeping (device, diverged, time) and every metric (NaN when absent).
/// Diverged runs stay in the frame; count them with the Diverged column before averaging, because Deedle
/// skips NaN in its statistics.
let runsFrame (records: RunRecord list) : Frame<int, string> =
    let rows =
        records |> List.map (fun r ->
            let c = r.Config
            let optimizer, lr, momentum = match c.Optimizer with Sgd(lr, m) -> "sgd", lr, m | Adam lr -> "adam", lr, nan
            { Id = r.Id; Experiment = c.Experiment; Dataset = taskOf r
              Task = (match r.Task with Binary -> "binary" | MultiClass k -> $"multi-class ({k})" | MultiLabel k -> $"multi-label ({k})")
              Model = Model.label c.Model; Loss = Loss.name c.Loss; Setting = lossLabel c; Alpha = Loss.alpha c.Loss; Gamma = Loss.gamma c.Loss
              Optimizer = optimizer; LearningRate = lr; Momentum = momentum; Epochs = c.Epochs; BatchSize = c.BatchSize
              Reduction = (match c.Reduction with BatchMean -> "mean" | BatchSum -> "sum" | BatchSumOverPositives -> "sum/positives"); Seed = c.Seed; Device = r.Device
              Diverged = r.Diverged; DivergedAtStep = r.DivergedAtStep; Steps = r.Steps; Seconds = r.Seconds
              Temperature = r.Temperature
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

/// Paired difference (setting minus CE) of one metric over the seeds where both runs finished, with the
/// paired t-test's p-value, the Wilcoxon signed-rank p-value (NaN under 6 pairs), the Holm-adjusted p-value
/// within the task, the relative change against CE's mean, and the seeds better, worse and tied.
type PairedRow =
    { Dataset: string; Setting: string; Loss: string; Alpha: float; Gamma: float; Metric: string; Family: string
      MeanDiff: float; Lo: float; Hi: float; RelativeChange: float; BaselineMean: float
      PValue: float; PWilcoxon: float; PAdjusted: float
      Pairs: int; Better: int; Worse: int; Ties: int
      /// Seeds left out because one of the two runs diverged.
      ExcludedSeeds: int
      /// Seeds of the setting with no CE run to pair with (an incomplete grid, e.g. a missing shard).
      MissingBaseline: int
      /// True when the Holm-adjusted p-value is below 0.05.
      Significant: bool }

/// True for a row of plain sigmoid focal loss with an alpha (what the alpha x gamma grid is about): not a
/// smoothed, Poly-1 or other relative that shares its name, alpha or gamma.
let isPlainSigmoidFocal (setting: string) (alpha: float) (gamma: float) =
    not (Double.IsNaN alpha) && setting = Loss.label (SigmoidFocal(Some alpha, gamma))

/// Significance level of every verdict, after Holm's adjustment within a task.
let alpha = 0.05

/// Fewest pairs for which the Wilcoxon signed-rank test is reported (with 5 the smallest two-sided p is 0.0625).
let wilcoxonMinPairs = 6

/// A per-seed difference this small is a tie: float rounding, not an effect (e.g. focal loss at gamma 0
/// against CE differs by 1e-10 through a different path of arithmetic).
let tieTolerance = 1e-9

let private metric (r: RunRecord) name = r.Metrics.TryFind name |> Option.defaultValue nan

/// Per setting and metric: mean with t-interval over the finished runs, and how many diverged.
let summaries (records: RunRecord list) : SummaryRow list =
    records
    |> List.groupBy settingOf
    |> List.collect (fun (_, runs) ->
        let c = (List.head runs).Config
        let finished = runs |> List.filter (fun r -> not r.Diverged)
        metricsOf (List.head runs).Task
        |> List.map (fun info ->
            let m = info.Key
            let values = finished |> List.map (fun r -> metric r m) |> List.filter (Double.IsNaN >> not) |> Array.ofList
            let ci = if values.Length = 0 then { Stats.Mean = nan; Stats.Lo = nan; Stats.Hi = nan; Stats.N = 0 } else Stats.meanCI values
            { Dataset = taskOf (List.head runs); Setting = lossLabel c; Loss = Loss.name c.Loss; Alpha = Loss.alpha c.Loss; Gamma = Loss.gamma c.Loss; Metric = m
              Mean = ci.Mean; Lo = ci.Lo; Hi = ci.Hi; Runs = runs.Length; Finished = values.Length; Diverged = runs.Length - finished.Length }))
    |> List.sortBy (fun r -> r.Dataset, r.Metric, r.Setting)

/// The seed pairs (setting run, CE run of the same data, model and seed) of every non-baseline setting.
let pairs (records: RunRecord list) =
    let byId = records |> List.map (fun r -> r.Id, r) |> Map.ofList
    records
    |> List.filter (fun r -> not (isBaseline r.Config))
    |> List.groupBy settingOf
    |> List.map (fun (_, runs) -> runs, runs |> List.choose (fun r -> byId.TryFind(baselineIdOf r) |> Option.map (fun b -> r, b)))
    |> List.filter (fun (_, p) -> not p.IsEmpty)

/// Per non-baseline setting and metric: differences against the CE run of the same data, model and seed,
/// tested and Holm-adjusted within each task (over every setting and metric of the task).
let pairedDifferences (records: RunRecord list) : PairedRow list =
    let raw =
        pairs records
        |> List.collect (fun (runs, pairs) ->
            let c = (List.head runs).Config
            let present = pairs |> List.collect (fun (r, b) -> [ yield! r.Metrics.Keys; yield! b.Metrics.Keys ]) |> Set.ofList
            metricsOf (List.head runs).Task
            |> List.filter (fun info -> present.Contains info.Key)
            |> List.map (fun info ->
                let m = info.Key
                let usable = pairs |> List.filter (fun (r, b) -> not r.Diverged && not b.Diverged && not (Double.IsNaN(metric r m)) && not (Double.IsNaN(metric b m)))
                let xs = usable |> List.map (fun (r, _) -> metric r m) |> Array.ofList
                let ys = usable |> List.map (fun (_, b) -> metric b m) |> Array.ofList
                let ci, d = if xs.Length = 0 then { Stats.Mean = nan; Stats.Lo = nan; Stats.Hi = nan; Stats.N = 0 }, [||] else Stats.paired xs ys
                let d = d |> Array.map (fun v -> if abs v <= tieTolerance then 0.0 else v)
                let ci = if d.Length > 0 && d |> Array.forall (fun v -> v = 0.0) then { ci with Mean = 0.0; Lo = 0.0; Hi = 0.0 } else ci
                let sign = if info.LowerIsBetter then -1.0 else 1.0
                let baselineMean = if ys.Length = 0 then nan else Array.average ys
                { Dataset = taskOf (List.head runs); Setting = lossLabel c; Loss = Loss.name c.Loss; Alpha = Loss.alpha c.Loss; Gamma = Loss.gamma c.Loss
                  Metric = m; Family = Family.label info.Family
                  MeanDiff = ci.Mean; Lo = ci.Lo; Hi = ci.Hi
                  RelativeChange = Stats.relativeChange baselineMean ci.Mean; BaselineMean = baselineMean
                  PValue = Stats.pairedTTest d
                  PWilcoxon = (if d.Length >= wilcoxonMinPairs then Stats.wilcoxonSignedRank d else nan)
                  PAdjusted = nan
                  Pairs = xs.Length
                  Better = d |> Array.filter (fun v -> sign * v > 0.0) |> Array.length
                  Worse = d |> Array.filter (fun v -> sign * v < 0.0) |> Array.length
                  Ties = d |> Array.filter (fun v -> v = 0.0) |> Array.length
                  ExcludedSeeds = pairs.Length - xs.Length; MissingBaseline = runs.Length - pairs.Length; Significant = false }))
    raw
    |> List.groupBy _.Dataset
    |> List.collect (fun (_, rows) ->
        let adjusted = Stats.holm (rows |> List.map _.PValue |> Array.ofList)
        List.zip rows (List.ofArray adjusted)
        |> List.map (fun (r, p) -> { r with PAdjusted = p; Significant = p < alpha }))
    |> List.sortBy (fun r -> r.Dataset, r.Setting, r.Metric)

/// A long frame of curve points (Series, Dataset, X, Y) for charts.
type CurvePoint = { Dataset: string; Series: string; X: float; Y: float }

/// PR curves of the seed-0 runs (one series per loss setting).
let prFrame (records: RunRecord list) =
    records |> List.filter (fun r -> r.Config.Seed = 0)
    |> List.collect (fun r -> r.PrCurve |> Array.toList |> List.map (fun p -> { Dataset = taskOf r; Series = lossLabel r.Config; X = p.X; Y = p.Y }))
    |> Frame.ofRecords

/// Mean and spread over the finished seeds of each setting of a per-epoch curve (training loss or the test metric).
type BandPoint = { Dataset: string; Series: string; Epoch: int; Mean: float; Min: float; Max: float }

/// Per setting and epoch: mean, minimum and maximum over the finished seeds of a per-epoch curve.
let epochBands (select: RunRecord -> float[]) (records: RunRecord list) =
    records |> List.filter (fun r -> not r.Diverged && (select r).Length > 0)
    |> List.groupBy settingOf
    |> List.collect (fun (_, runs) ->
        let c = (List.head runs).Config
        let epochs = runs |> List.map (fun r -> (select r).Length) |> List.min
        [ for e in 0 .. epochs - 1 ->
            let values = runs |> List.map (fun r -> (select r)[e]) |> List.filter (Double.IsNaN >> not)
            if values.IsEmpty then { Dataset = taskOf (List.head runs); Series = lossLabel c; Epoch = e + 1; Mean = nan; Min = nan; Max = nan }
            else { Dataset = taskOf (List.head runs); Series = lossLabel c; Epoch = e + 1; Mean = List.average values; Min = List.min values; Max = List.max values } ])
