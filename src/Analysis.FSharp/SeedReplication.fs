/// A faithful rerun of the seed tutorial (shared/seed/README.md) over many seeds: x ~ Uniform(-10, 10),
/// y = 1 if 2x + 3 > 0, 10,000 training samples in batches of 16 reshuffled every epoch, the single
/// linear unit with Normal(0, 0.02) initialisation, the probability-form focal loss (alpha 0.25,
/// gamma 2), momentum SGD (lr 0.005, momentum 0.9), 10 epochs (6,250 steps), prediction at x = -1. The
/// seed's MindSpore code differentiates the **sum** over the batch (its loss returns per-sample values,
/// and value_and_grad back-propagates ones); the mean is the PyTorch-style alternative.
module Analysis.SeedReplication

open System
open System.IO
open System.Text
open FocalLoss.Infrastructure
open Analysis.Config

/// The seed's reported weight, bias and prediction at x = -1.
let reportedW, reportedB, reportedPrediction = 2.61318, 3.47061, 0.70212436

/// Training and held-out samples (the seed trains on 10,000).
let trainCount, testCount = 10_000, 10_000

/// One replication run: the learned w and b, the implied boundary -b / w (true: -1.5), the prediction at
/// x = -1 (true label 1), the test accuracy at 0.5 on fresh samples, and whether it diverged.
type SeedRun =
    { Seed: int; Reduction: BatchReduction; W: float; B: float; Boundary: float; PAtMinus1: float
      TestAccuracy: float; Diverged: bool; Device: string }

/// The tutorial's run for a seed and batch reduction, as a typed config: its data (10,000 training and
/// 10,000 fresh test samples), the single unit, the probability-form focal loss (alpha 0.25, gamma 2),
/// momentum SGD 0.005/0.9, batch 16, 10 epochs.
let config (device: Device) (reduction: BatchReduction) (seed: int) =
    { Experiment = "seed-replication"
      Dataset = SeedLine { Train = trainCount; Test = testCount }
      Model = Linear
      OutputBias = DefaultBias   // the tutorial's Normal(0, 0.02) bias
      Loss = FocalFromProbabilities(Some 0.25, 2.0)
      Optimizer = Sgd(0.005, 0.9)
      Epochs = 10
      BatchSize = 16
      Reduction = reduction
      Device = device
      Recalibration = NoRecalibration   // the tutorial trains on all 10,000 samples
      Seed = seed }

/// The replication numbers of a finished run (its recorded weight and bias, and test accuracy).
let ofRecord (r: Runner.RunRecord) =
    let w = r.Parameters["fc.weight"][0]
    let b = r.Parameters["fc.bias"][0]
    { Seed = r.Config.Seed; Reduction = r.Config.Reduction; W = w; B = b; Boundary = -b / w
      PAtMinus1 = 1.0 / (1.0 + exp (-(w * -1.0 + b)))
      TestAccuracy = r.Metrics.TryFind "accuracy" |> Option.defaultValue nan
      Diverged = r.Diverged; Device = r.Device }

let private reductionText = function BatchSum -> "sum" | BatchMean -> "mean" | BatchSumOverPositives -> "sum over positives"
let private g9 (v: float) = v.ToString("G9", Globalization.CultureInfo.InvariantCulture)

/// The median of a non-empty array (the mean of the two middle values for an even count).
let median (values: float[]) =
    if values.Length = 0 then invalidArg (nameof values) "values must not be empty"
    let s = Array.sort values
    if s.Length % 2 = 1 then s[s.Length / 2] else (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2.0

/// The runs as CSV: seed,reduction,w,b,boundary,p_at_minus1,test_accuracy,diverged.
let runsCsv (runs: SeedRun list) =
    let sb = StringBuilder("seed,reduction,w,b,boundary,p_at_minus1,test_accuracy,diverged\n")
    for r in runs do
        sb.Append($"{r.Seed},{reductionText r.Reduction},{g9 r.W},{g9 r.B},{g9 r.Boundary},{g9 r.PAtMinus1},{g9 r.TestAccuracy},{r.Diverged}\n") |> ignore
    sb.ToString()

/// One summary row: a quantity's median, min and max over the runs of one reduction, beside the seed's value.
type SummaryRow =
    { Reduction: BatchReduction; Quantity: string; Runs: int; Diverged: int; Median: float; Min: float; Max: float; SeedValue: float option }
    /// Whether the seed's value lies within [min, max] of the replicated runs (None when the seed reported none).
    member r.SeedInsideRange = r.SeedValue |> Option.map (fun v -> v >= r.Min && v <= r.Max)

/// Median, min and max of w, b, boundary, p_at_minus1 and test_accuracy per reduction (diverged runs counted, not dropped).
let summarise (runs: SeedRun list) =
    [ for reduction, group in runs |> List.groupBy _.Reduction do
        let diverged = group |> List.filter _.Diverged |> List.length
        for quantity, select, seedValue in
            [ "w", (fun r -> r.W), Some reportedW; "b", (fun r -> r.B), Some reportedB; "boundary", (fun r -> r.Boundary), Some(-reportedB / reportedW)
              "p_at_minus1", (fun r -> r.PAtMinus1), Some reportedPrediction; "test_accuracy", (fun (r: SeedRun) -> r.TestAccuracy), None ] do
            let values = group |> List.map select |> Array.ofList
            { Reduction = reduction; Quantity = quantity; Runs = values.Length; Diverged = diverged
              Median = median values; Min = Array.min values; Max = Array.max values; SeedValue = seedValue } ]

/// The summary as CSV: reduction,quantity,runs,diverged,median,min,max,seed_value,seed_inside_range.
let summaryCsv (rows: SummaryRow list) =
    let sb = StringBuilder("reduction,quantity,runs,diverged,median,min,max,seed_value,seed_inside_range\n")
    for r in rows do
        let seed = r.SeedValue |> Option.map g9 |> Option.defaultValue ""
        let inside = r.SeedInsideRange |> Option.map (fun i -> if i then "yes" else "no") |> Option.defaultValue ""
        sb.Append($"{reductionText r.Reduction},{r.Quantity},{r.Runs},{r.Diverged},{g9 r.Median},{g9 r.Min},{g9 r.Max},{seed},{inside}\n") |> ignore
    sb.ToString()

/// Writes runs.csv and summary.csv into a folder atomically.
let write (folder: string) (runs: SeedRun list) =
    AtomicFile.WriteAllText(Path.Combine(folder, "runs.csv"), runsCsv runs)
    AtomicFile.WriteAllText(Path.Combine(folder, "summary.csv"), summaryCsv (summarise runs))
