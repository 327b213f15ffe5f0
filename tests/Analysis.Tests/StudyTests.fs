/// The when-focal-wins study's tables on constructed runs, where the right answer is known by construction.
module Analysis.Tests.StudyTests

open Expecto
open Analysis
open Analysis.Config
open Analysis.WhenFocalWins

let private design = { quick with Rates = [ 1e-2; 1e-3 ]; Seeds = [ 0 .. 3 ] }

/// A finished design run with AP and ECE at the converged checkpoint and (from the per-epoch record) early.
let private run rate bias loss seed (ap: float) (earlyAp: float) (ece: float) =
    let c = config design Cpu rate (Adam 0.003) bias BatchSumOverPositives loss seed
    let epochs = epochsFor design rate
    let early = earlyEpochFor design rate
    let metrics ap = Map.ofList [ "average_precision", ap; "ece15", ece; "mean_score", 0.02; "prevalence", rate ]
    { ReportTests.record c [] with
        Metrics = metrics ap
        EpochMetrics = Array.init epochs (fun e -> if e + 1 = early then metrics earlyAp else metrics nan) }

let private seedNoise = [| 0.0; 0.03; -0.02; 0.01 |]

/// CE, balanced CE and the three focal settings on 4 seeds in two cells; focal a=0.25 g=2 is 0.05 AP better than
/// CE on every seed at convergence (0.02 better than balanced CE) and 0.01 worse early; ECE 0.03 worse.
let private records =
    [ for rate, bias in [ 1e-2, PriorBias 0.01; 1e-3, ZeroBias ] do
        for seed in 0 .. 3 do
            let n = seedNoise[seed]
            yield run rate bias BinaryCrossEntropy seed (0.5 + n) (0.3 + n) 0.01
            yield run rate bias (BalancedBinaryCrossEntropy 0.75) seed (0.53 + n) (0.3 + n) 0.01
            for setting in focalSettings ->
                if setting = SigmoidFocal(Some 0.25, 2.0) then run rate bias setting seed (0.55 + n + 0.001 * float seed) (0.29 + n) 0.04
                else run rate bias setting seed (0.5 + n) (0.3 + n) 0.01 ]

[<Tests>]
let tests =
    testList "when-focal-wins tables" [
        test "the condition table pairs each focal setting with CE and the best alpha-CE of its cell and seed, at both checkpoints" {
            let rows = conditions design records
            let pick cellRate biasName budget baseline metric =
                rows |> List.find (fun r ->
                    r.PositiveRate = cellRate && r.BiasInit = biasName && r.Budget = budget && r.Baseline = baseline
                    && r.Metric = metric && r.Setting = "focal a=0.25 g=2")
            let converged = pick 1e-3 "zero" "converged" "CE" "average_precision"
            Expect.floatClose Accuracy.high converged.MeanDiff 0.0515 "0.05 + the mean of 0.001 seed: the per-seed noise cancels in the pairs"
            Expect.isLessThan (converged.CiHigh - converged.CiLow) 0.01 "paired by seed: a narrow interval despite the +-0.03 noise"
            Expect.equal (converged.SeedsBetter, converged.Seeds) (4, 4) "better on every seed"
            Expect.isLessThan converged.PAdjusted 0.05 "significant after Holm"
            Expect.floatClose Accuracy.high (pick 1e-3 "zero" "converged" "best alpha-CE" "average_precision").MeanDiff 0.0215 "against the cell's best balanced CE"
            let early = pick 1e-3 "zero" "early" "CE" "average_precision"
            Expect.floatClose Accuracy.high early.MeanDiff -0.01 "the early checkpoint is read from the per-epoch metrics"
            Expect.equal early.SeedsBetter 0 "worse early on every seed"
            let ece = pick 1e-3 "zero" "converged" "CE" "ece15"
            Expect.floatClose Accuracy.high ece.MeanDiff 0.03 "ECE difference"
            Expect.equal ece.SeedsBetter 0 "higher ECE is worse: no seed better"
            Expect.equal ece.Prevalence 1e-3 "the test set's prevalence beside the mean probability"
        }

        test "at pi = 0.01 the prior-bias runs also stand for the prevalence-bias cell" {
            let rows = conditions design records
            let cellsAt rate = rows |> List.filter (fun r -> r.PositiveRate = rate) |> List.map _.BiasInit |> List.distinct |> List.sort
            Expect.equal (cellsAt 1e-2) [ "prevalence"; "prior" ] "one set of runs, two cells"
            Expect.equal (cellsAt 1e-3) [ "zero" ] "elsewhere one cell a bias"
        }

        test "marginal means average the cells at each factor level, and count the cells focal loss won" {
            let rows = conditions design records
            let marginal = marginals rows |> List.filter (fun m -> m.Setting = "focal a=0.25 g=2" && m.Budget = "converged" && m.Baseline = "CE" && m.Metric = "average_precision")
            let rate = marginal |> List.filter (fun m -> m.Factor = "positive_rate")
            Expect.equal (rate |> List.map (fun m -> m.Level, m.Cells, m.CellsBetter)) [ "0.001", 1, 1; "0.01", 2, 2 ] "cells per rate, all won"
            let bias = marginal |> List.filter (fun m -> m.Factor = "bias_init") |> List.map _.Level
            Expect.equal bias [ "prevalence"; "prior"; "zero" ] "every bias level"
            Expect.floatClose Accuracy.high (marginal |> List.find (fun m -> m.Factor = "optimizer")).Mean 0.0515 "one optimiser: the mean over all three cells"
        }

        test "the pilot's choice maximises the mean pilot AP over the losses at one rate, and picks the balanced CE's alpha there" {
            let pilot =
                [ for c in pilotConfigs design Cpu ->
                    let lr = learningRate c.Optimizer
                    // AP peaks at the middle rate of each grid; balanced CE at alpha 0.75 there.
                    let best = match c.Optimizer with Sgd _ -> 0.1 | Adam _ -> 0.003
                    let ap = 0.5 - abs (log10 lr - log10 best) * 0.1 + (match c.Loss with BalancedBinaryCrossEntropy a when a = 0.75 -> 0.05 | _ -> 0.0)
                    { ReportTests.record c [ "average_precision", ap ] with Config = c } ]
            let choices = choose design pilot
            Expect.equal choices.Length 4 "per optimiser and normalisation"
            for c in choices do
                Expect.equal c.LearningRate (match c.Optimizer with SgdMomentum -> 0.1 | AdamKind -> 0.003) $"{c.Optimizer} {c.Normalisation}"
                Expect.equal c.BalancedAlpha 0.75 "the balanced CE's best alpha at that rate"
        }
    ]
