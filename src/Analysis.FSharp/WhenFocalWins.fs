/// When does focal loss beat cross-entropy? The design of the dense-discs study (issue 10): its pilot, its
/// factors, the condition table (focal minus CE and minus the best alpha-balanced CE per design cell, at an
/// early and a converged checkpoint of the same run) and the factors' marginal means.
module Analysis.WhenFocalWins

open System
open System.IO
open Deedle
open Analysis.Config
open Analysis.Runner

/// The study's fixed choices and its factor levels.
type Design =
    { /// The experiment folder under results/.
      Experiment: string
      /// Positive rates pi of the training data.
      Rates: float list
      Seeds: int list
      /// Optimiser steps of the converged checkpoint, the same at every positive rate: a rate's epochs are
      /// the fewest that reach it (a set 100 times larger gets about 100 times fewer epochs).
      Steps: int
      /// The early checkpoint: this share of the converged run's epochs (at least one epoch).
      EarlyShare: float
      HardPerDisc: int
      TestHardPerDisc: int
      TestEasySample: int
      BatchSize: int
      Model: Model
      /// The pilot: one seed of its own (never a test seed), at one positive rate.
      PilotSeed: int
      PilotRate: float
      SgdRates: float list
      AdamRates: float list
      /// Candidate alphas of the alpha-balanced CE baseline.
      BalancedAlphas: float list
      /// The alpha x gamma grid (Table 1 (a) of the paper) at the pilot rate.
      GridAlphas: float list
      GridGammas: float list
      GridSeeds: int list }

/// The full design: 3 rates x 2 optimisers x 3 bias initialisations x 2 normalisations x 5 losses x 5 seeds.
let full =
    { Experiment = "when-focal-wins"
      Rates = [ 1e-2; 1e-3; 1e-4 ]
      Seeds = [ 0 .. 4 ]
      Steps = 2000
      EarlyShare = 0.25
      HardPerDisc = 250
      TestHardPerDisc = 2_500
      TestEasySample = 20_000
      BatchSize = 1024
      Model = Mlp [ 64; 64 ]
      PilotSeed = 1000
      PilotRate = 1e-3
      SgdRates = [ 0.003; 0.01; 0.03; 0.1; 0.3; 1.0 ]
      AdamRates = [ 0.0003; 0.001; 0.003; 0.01 ]
      BalancedAlphas = [ 0.25; 0.5; 0.75; 0.9 ]
      GridAlphas = [ 0.1; 0.25; 0.5; 0.75 ]
      GridGammas = [ 0.0; 1.0; 2.0; 5.0 ]
      GridSeeds = [ 0 .. 2 ] }

/// The reduced design of --quick: one rate (1e-3), 3 seeds, 1,000 steps, a smaller pilot and grid.
let quick =
    { full with
        Experiment = "when-focal-wins-quick"
        Rates = [ 1e-3 ]
        Seeds = [ 0 .. 2 ]
        Steps = 1000
        SgdRates = [ 0.01; 0.1; 1.0 ]
        AdamRates = [ 0.001; 0.003 ]
        BalancedAlphas = [ 0.5; 0.75 ]
        GridAlphas = [ 0.25; 0.75 ]
        GridGammas = [ 0.0; 2.0 ]
        GridSeeds = [ 0; 1 ] }

/// The focal settings the study judges (the paper's default, without alpha, and one more gamma).
let focalSettings = [ SigmoidFocal(Some 0.25, 2.0); SigmoidFocal(None, 2.0); SigmoidFocal(Some 0.25, 1.0) ]

type OptimizerKind = SgdMomentum | AdamKind

let optimizerName = function SgdMomentum -> "sgd" | AdamKind -> "adam"
let optimizerOf (kind: OptimizerKind) (lr: float) = match kind with SgdMomentum -> Sgd(lr, 0.9) | AdamKind -> Adam lr
let kindOf = function Sgd _ -> SgdMomentum | Adam _ -> AdamKind
let learningRate = function Sgd(lr, _) | Adam lr -> lr

let normalisationName = function BatchMean -> "mean" | BatchSumOverPositives -> "positives" | BatchSum -> "sum"

/// The bias levels at a positive rate: zero, RetinaNet's prior 0.01, the true prevalence (at pi = 0.01 the
/// last two are one setting and one set of runs).
let biases (rate: float) = [ "zero", ZeroBias; "prior", PriorBias 0.01; "prevalence", PriorBias rate ]

let private dataset (d: Design) (rate: float) = DenseDiscs(rate, d.HardPerDisc, d.TestHardPerDisc, d.TestEasySample)

/// The training points of a rate, less the 10 % calibration slice the runs hold out.
let trainingPoints (d: Design) (rate: float) =
    let all = 4L * int64 d.HardPerDisc + FocalLoss.Data.DenseDiscs.EasyCount(4L * int64 d.HardPerDisc, rate)
    all - int64 (Math.Round(0.1 * float all))

/// The epochs that give a rate at least the design's steps.
let epochsFor (d: Design) (rate: float) =
    let stepsPerEpoch = (trainingPoints d rate + int64 d.BatchSize - 1L) / int64 d.BatchSize
    int ((int64 d.Steps + stepsPerEpoch - 1L) / stepsPerEpoch)

/// The epoch of the early checkpoint at a rate.
let earlyEpochFor (d: Design) (rate: float) = max 1 (int (Math.Round(d.EarlyShare * float (epochsFor d rate))))

/// A config of the design (device from the command line).
let config (d: Design) (device: Device) (rate: float) (optimizer: Optimizer) (bias: OutputBias) (norm: BatchReduction) (loss: Loss) (seed: int) =
    { defaults with
        Experiment = d.Experiment; Dataset = dataset d rate; Model = d.Model; OutputBias = bias; Loss = loss
        Optimizer = optimizer; Epochs = epochsFor d rate; BatchSize = d.BatchSize; Reduction = norm; Device = device
        Recalibration = TemperatureOnHeldOut 0.1; Seed = seed }

/// The pilot grid: per optimiser and normalisation, every candidate learning rate for CE, every candidate
/// alpha of balanced CE and every focal setting, on the pilot seed at the pilot rate with the prior bias.
let pilotConfigs (d: Design) (device: Device) =
    [ for kind, rates in [ SgdMomentum, d.SgdRates; AdamKind, d.AdamRates ] do
        for norm in [ BatchMean; BatchSumOverPositives ] do
            for lr in rates do
                for loss in BinaryCrossEntropy :: [ for a in d.BalancedAlphas -> BalancedBinaryCrossEntropy a ] @ focalSettings ->
                    { config d device d.PilotRate (optimizerOf kind lr) (PriorBias 0.01) norm loss d.PilotSeed with Experiment = d.Experiment + "/pilot" } ]

/// What the pilot chose for one optimiser and normalisation.
type PilotChoice =
    { Optimizer: OptimizerKind
      Normalisation: BatchReduction
      /// The learning rate with the best mean pilot AP over CE, the best balanced CE and the focal settings
      /// (one rate for every loss of a cell, so each setting pairs with CE on everything but the loss).
      LearningRate: float
      /// The balanced CE alpha with the best pilot AP at that rate.
      BalancedAlpha: float
      /// Each loss's own best rate on the pilot, for the record.
      PerLoss: (string * float) list }

let private ap (r: RunRecord) = if r.Diverged then nan else r.Metrics.TryFind "average_precision" |> Option.defaultValue nan
let private best (xs: ('a * float) list) = xs |> List.filter (snd >> Double.IsNaN >> not) |> List.sortBy (fun (_, v) -> -v) |> List.tryHead

/// The pilot's choices from its records: per optimiser and normalisation, the learning rate that maximises the
/// mean AP of CE, the best balanced CE and the focal settings (a diverged run counts as AP 0), then the balanced
/// CE's alpha at that rate. Ties keep the smaller rate and alpha.
let choose (d: Design) (records: RunRecord list) =
    [ for kind, rates in [ SgdMomentum, d.SgdRates; AdamKind, d.AdamRates ] do
        for norm in [ BatchMean; BatchSumOverPositives ] do
            let runs = records |> List.filter (fun r -> kindOf r.Config.Optimizer = kind && r.Config.Reduction = norm)
            let at lr loss = runs |> List.tryFind (fun r -> learningRate r.Config.Optimizer = lr && r.Config.Loss = loss) |> Option.map ap |> Option.defaultValue nan
            let orZero v = if Double.IsNaN v then 0.0 else v
            let bestAlphaAt lr = d.BalancedAlphas |> List.map (fun a -> a, at lr (BalancedBinaryCrossEntropy a)) |> List.maxBy (snd >> orZero)
            let score lr = (orZero (at lr BinaryCrossEntropy) + orZero (snd (bestAlphaAt lr)) + (focalSettings |> List.sumBy (at lr >> orZero))) / float (2 + focalSettings.Length)
            let lr = rates |> List.maxBy score
            let perLoss =
                [ for loss in BinaryCrossEntropy :: focalSettings ->
                    Loss.label loss, (rates |> List.map (fun r -> r, at r loss) |> best |> Option.map fst |> Option.defaultValue nan) ]
            { Optimizer = kind; Normalisation = norm; LearningRate = lr; BalancedAlpha = fst (bestAlphaAt lr); PerLoss = perLoss } ]

/// The design's configs: rates x optimisers x biases x normalisations x (CE, best balanced CE, focal settings) x seeds.
let designConfigs (d: Design) (device: Device) (choices: PilotChoice list) =
    [ for rate in d.Rates do
        for choice in choices do
            for _, bias in biases rate do
                for loss in BinaryCrossEntropy :: BalancedBinaryCrossEntropy choice.BalancedAlpha :: focalSettings do
                    for seed in d.Seeds ->
                        config d device rate (optimizerOf choice.Optimizer choice.LearningRate) bias choice.Normalisation loss seed ]
    |> List.distinctBy Data.runId

/// The alpha x gamma grid at the pilot rate with the prior bias, SGD and positive-count normalisation (the
/// paper's setting), at the rate the pilot chose for them.
let gridConfigs (d: Design) (device: Device) (choices: PilotChoice list) =
    let choice = choices |> List.find (fun c -> c.Optimizer = SgdMomentum && c.Normalisation = BatchSumOverPositives)
    [ for loss in BinaryCrossEntropy :: [ for a in d.GridAlphas do for g in d.GridGammas -> SigmoidFocal(Some a, g) ] do
        for seed in d.GridSeeds ->
            { config d device d.PilotRate (optimizerOf SgdMomentum choice.LearningRate) (PriorBias 0.01) BatchSumOverPositives loss seed with
                Experiment = d.Experiment + "/alpha-gamma" } ]

/// The design cell of a run.
type Cell = { PositiveRate: float; Optimizer: string; BiasInit: string; Normalisation: string }

let cellOf (r: RunRecord) =
    let rate = match r.Config.Dataset with DenseDiscs(rate, _, _, _) -> rate | d -> invalidArg "r" $"not a dense-discs run: {Dataset.label d}"
    let bias =
        match r.Config.OutputBias with
        | ZeroBias -> "zero"
        | PriorBias p when p = 0.01 -> "prior"   // at pi = 0.01 this is also the prevalence
        | PriorBias _ -> "prevalence"
        | DefaultBias -> "default"
    { PositiveRate = rate; Optimizer = optimizerName (kindOf r.Config.Optimizer); BiasInit = bias; Normalisation = normalisationName r.Config.Reduction }

/// The cells a run stands for: at pi = 0.01 the prior-bias run is also the prevalence-bias cell's run.
let cellsOf (r: RunRecord) =
    let c = cellOf r
    if c.BiasInit = "prior" && c.PositiveRate = 0.01 then [ c; { c with BiasInit = "prevalence" } ] else [ c ]

type Budget = Early | Converged
let budgetName = function Early -> "early" | Converged -> "converged"

/// A metric of a run at a checkpoint: the early one from the per-epoch record, the converged one from the
/// final metrics (NaN for a diverged run or a missing epoch).
let metricAt (d: Design) (budget: Budget) (metric: string) (r: RunRecord) =
    if r.Diverged then nan
    else
        let source =
            match budget with
            | Converged -> Some r.Metrics
            | Early ->
                let rate = match r.Config.Dataset with DenseDiscs(rate, _, _, _) -> rate | _ -> nan
                let e = earlyEpochFor d rate
                if r.EpochMetrics.Length >= e then Some r.EpochMetrics[e - 1] else None
        source |> Option.bind (fun m -> m.TryFind metric) |> Option.defaultValue nan

/// The metrics of the condition table: AP, ECE and the mean predicted probability (to hold against the
/// prevalence: does a loss over- or under-predict?). All importance-weighted on the test set.
let conditionMetrics = [ "average_precision"; "ece15"; "mean_score" ]

/// One row of conditions.csv.
type ConditionRow =
    { PositiveRate: float; Optimizer: string; BiasInit: string; Normalisation: string; Budget: string
      Setting: string; Baseline: string; Metric: string
      MeanDiff: float; CiLow: float; CiHigh: float; PAdjusted: float
      SeedsBetter: int; Seeds: int
      /// The paired t-test's raw p (after the issue's columns, so that they keep their order).
      PValue: float
      SettingMean: float; BaselineMean: float
      /// The test set's weighted positive rate (the true prevalence the weights restore).
      Prevalence: float }

/// The condition table: per cell, budget, focal setting, baseline (CE or the best alpha-balanced CE of the
/// cell) and metric, the paired difference over seeds with its 95 % t-interval, its paired t-test p and the
/// Holm-adjusted p within each (budget, baseline, metric) over all cells and settings, and the seeds where
/// the focal setting was better (higher AP; lower ECE; for the mean predicted probability, closer to the
/// prevalence).
let conditions (d: Design) (records: RunRecord list) : ConditionRow list =
    let byCell = records |> List.collect (fun r -> cellsOf r |> List.map (fun c -> c, r)) |> List.groupBy fst |> List.map (fun (c, rs) -> c, List.map snd rs)
    let raw =
        [ for cell, runs in byCell do
            let bySeed loss = runs |> List.filter (fun r -> r.Config.Loss = loss) |> List.map (fun r -> r.Config.Seed, r) |> Map.ofList
            let ce = bySeed BinaryCrossEntropy
            let balanced = runs |> List.tryPick (fun r -> match r.Config.Loss with BalancedBinaryCrossEntropy a -> Some(BalancedBinaryCrossEntropy a) | _ -> None)
            for budget in [ Early; Converged ] do
                for setting in focalSettings do
                    let focal = bySeed setting
                    for baselineName, baseline in [ "CE", Some ce; "best alpha-CE", balanced |> Option.map bySeed ] do
                        match baseline with
                        | None -> ()
                        | Some baseline ->
                            for metric in conditionMetrics do
                                let pairs =
                                    [ for KeyValue(seed, f) in focal do
                                        match baseline.TryFind seed with
                                        | Some b ->
                                            let x, y = metricAt d budget metric f, metricAt d budget metric b
                                            if not (Double.IsNaN x || Double.IsNaN y) then yield seed, x, y, f.Metrics.TryFind "prevalence" |> Option.defaultValue nan
                                        | None -> () ]
                                let xs = pairs |> List.map (fun (_, x, _, _) -> x) |> Array.ofList
                                let ys = pairs |> List.map (fun (_, _, y, _) -> y) |> Array.ofList
                                let prevalence = pairs |> List.map (fun (_, _, _, p) -> p) |> List.tryHead |> Option.defaultValue nan
                                let ci, diffs = if xs.Length = 0 then { Stats.Mean = nan; Stats.Lo = nan; Stats.Hi = nan; Stats.N = 0 }, [||] else Stats.paired xs ys
                                let better =
                                    pairs |> List.filter (fun (_, x, y, p) ->
                                        match metric with
                                        | "average_precision" -> x > y
                                        | "mean_score" -> abs (x - p) < abs (y - p)
                                        | _ -> x < y) |> List.length
                                yield { PositiveRate = cell.PositiveRate; Optimizer = cell.Optimizer; BiasInit = cell.BiasInit; Normalisation = cell.Normalisation
                                        Budget = budgetName budget; Setting = Loss.label setting; Baseline = baselineName; Metric = metric
                                        MeanDiff = ci.Mean; CiLow = ci.Lo; CiHigh = ci.Hi
                                        PValue = (if diffs.Length >= 2 then Stats.pairedTTest diffs else nan); PAdjusted = nan
                                        SeedsBetter = better; Seeds = xs.Length
                                        SettingMean = Stats.mean xs; BaselineMean = Stats.mean ys; Prevalence = prevalence } ]
    raw
    |> List.groupBy (fun r -> r.Budget, r.Baseline, r.Metric)
    |> List.collect (fun (_, rows) ->
        let adjusted = Stats.holm (rows |> List.map _.PValue |> Array.ofList)
        List.map2 (fun r p -> { r with PAdjusted = p }) rows (List.ofArray adjusted))
    |> List.sortBy (fun r -> r.Budget, r.Baseline, r.Metric, r.Setting, -r.PositiveRate, r.Optimizer, r.BiasInit, r.Normalisation)

/// One factor level's marginal mean of a contrast: the mean of the cells' mean differences at that level, a
/// 95 % t-interval over those cells, and how many cells the focal setting won.
type MarginalRow =
    { Setting: string; Baseline: string; Budget: string; Metric: string; Factor: string; Level: string
      Mean: float; CiLow: float; CiHigh: float; Cells: int; CellsBetter: int }

/// Which factors decide the sign of the difference: for each factor, the marginal mean of the cells' paired
/// differences at each of its levels (averaged over the other factors), with a t-interval over the cells.
let marginals (rows: ConditionRow list) : MarginalRow list =
    let factors : (string * (ConditionRow -> string)) list =
        [ "positive_rate", (fun r -> r.PositiveRate.ToString("R", Globalization.CultureInfo.InvariantCulture))
          "optimizer", _.Optimizer; "bias_init", _.BiasInit; "normalisation", _.Normalisation ]
    [ for (setting, baseline, budget, metric), group in rows |> List.groupBy (fun r -> r.Setting, r.Baseline, r.Budget, r.Metric) do
        for factor, level in factors do
            for value, cells in group |> List.filter (fun r -> not (Double.IsNaN r.MeanDiff)) |> List.groupBy level |> List.sortBy fst do
                let ci = Stats.meanCI (cells |> List.map _.MeanDiff |> Array.ofList)
                let better r = if metric = "average_precision" then r.MeanDiff > 0.0 else r.MeanDiff < 0.0
                yield { Setting = setting; Baseline = baseline; Budget = budget; Metric = metric; Factor = factor; Level = value
                        Mean = ci.Mean; CiLow = ci.Lo; CiHigh = ci.Hi; Cells = cells.Length; CellsBetter = cells |> List.filter better |> List.length } ]

/// Writes a list of records as CSV through the report's writer (snake_case columns, atomic).
let writeCsv<'T> (path: string) (rows: 'T list) = Report.saveCsv (Frame.ofRecords rows) path
