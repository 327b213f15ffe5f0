// What: when does focal loss beat cross-entropy? The dense-discs study (dense detection at CPU scale): a pilot on
// its own seed chooses the learning rates and the balanced CE's alpha, then positive rate x optimiser x output-bias
// initialisation x normalisation x loss x seed, each run scored at an early and a converged checkpoint, against
// CE and against the best alpha-balanced CE; plus the paper's alpha x gamma question on this task.
// Writes results/when-focal-wins/ (report.html, summary.md, conditions.csv, factors.csv, pilot.csv) and the
// pilot's and the grid's own reports under pilot/ and alpha-gamma/.
// How: dotnet build -c Release && dotnet fsi experiments/when-focal-wins.fsx [--quick] [--seeds 5 --workers 2 --shard k/n]
// (-- --help lists the options). --quick: one positive rate, 3 seeds, 1,000 steps, in results/when-focal-wins-quick/.
// Cluster: run every shard with --shard k/n (each also runs the small pilot), copy the shards' runs/ folders into
// one results/when-focal-wins/runs/, then run the script once without --shard: every run is reused, and the
// report and tables are written.
#load "load.fsx"
open System
open System.IO
open Analysis
open Analysis.Config
open Analysis.WhenFocalWins

let quickRun, cli = Cli.study "when-focal-wins.fsx" (Cli.scriptArguments fsi.CommandLineArgs)
let design = { (if quickRun then quick else full) with Seeds = [ 0 .. cli.Seeds - 1 ] }
let inv = Globalization.CultureInfo.InvariantCulture
let n (v: float) = Verdicts.number v

// 1. The pilot, whole on every shard (it is small and decides the design).
let pilotRecords, _ =
    Experiment.runAndReport "Pilot of the dense-discs study"
        $"Learning rates (SGD with momentum 0.9: {design.SgdRates}; Adam: {design.AdamRates}) and the balanced CE's alpha ({design.BalancedAlphas}) chosen on seed {design.PilotSeed}, which no test run uses, at pi = {design.PilotRate} with RetinaNet's prior bias, per optimiser and normalisation."
        { cli with Shard = None } (pilotConfigs design cli.Device)
let choices = choose design pilotRecords
printfn "\npilot choices:"
for c in choices do
    printfn "  %s, %s: learning rate %s, balanced CE alpha %s (each loss's own best: %s)" (optimizerName c.Optimizer) (normalisationName c.Normalisation)
        (n c.LearningRate) (n c.BalancedAlpha) (String.Join("; ", c.PerLoss |> List.map (fun (l, r) -> $"{l} {n r}")))

// 2. The design.
let configs = designConfigs design cli.Device choices
let epochsText = String.Join(", ", design.Rates |> List.map (fun r -> $"{epochsFor design r} at pi {r}"))
let earlyText = String.Join(", ", design.Rates |> List.map (fun r -> $"{earlyEpochFor design r} at pi {r}"))
let records, written =
    Experiment.runAndReport "When does focal loss beat cross-entropy? Dense discs"
        $"Dense detection at CPU scale: 2-D points, 4 positive discs of radius 0.1 with a soft boundary, each in a ring of hard negatives to 0.3, easy negatives filling [-2, 2]^2; the positive rate pi is set by the number of easy negatives. Design: pi in {design.Rates} x optimiser (SGD momentum 0.9, Adam; rates from the pilot) x output bias (zero, RetinaNet's prior 0.01, the true prevalence) x normalisation (batch mean, batch sum over the positives in the batch, RetinaNet's max(1, n_pos)) x loss (CE, the pilot's best alpha-balanced CE, focal a=0.25 g=2, focal a=none g=2, focal a=0.25 g=1) x {design.Seeds.Length} seeds; MLP 2-64-64-1, batch {design.BatchSize}, about {design.Steps} optimiser steps at every rate (epochs: {epochsText}; the early checkpoint after {design.EarlyShare * 100.0} %% of them: epoch {earlyText}). The test set keeps {4 * design.TestHardPerDisc} hard points and {design.TestEasySample} easy ones, importance-weighted to the true prevalence: every metric is weighted."
        cli configs

match written with
| None -> ()   // one shard of several: the tables are written by the run without --shard
| Some written ->
    let folder = Path.GetDirectoryName written.Markdown |> nonNull
    let rows = conditions design records
    writeCsv (Path.Combine(folder, "conditions.csv")) rows
    let factorRows = marginals rows
    writeCsv (Path.Combine(folder, "factors.csv")) factorRows
    writeCsv (Path.Combine(folder, "pilot.csv"))
        [ for c in choices -> {| optimizer = optimizerName c.Optimizer; normalisation = normalisationName c.Normalisation; learning_rate = c.LearningRate
                                 balanced_alpha = c.BalancedAlpha; per_loss_best_rate = String.Join("; ", c.PerLoss |> List.map (fun (l, r) -> $"{l} {n r}")) |} ]
    // 3. The alpha x gamma question on this task.
    let gridRecords, _ =
        Experiment.runAndReport "Alpha x gamma on dense discs"
            $"Focal loss over alpha in {design.GridAlphas} and gamma in {design.GridGammas} at pi = {design.PilotRate}, SGD with the pilot's rate, the prior bias and positive-count normalisation (the paper's setting), {design.GridSeeds.Length} seeds, against CE."
            { cli with Shard = None } (gridConfigs design cli.Device choices)
    let gridSummary = Frames.summaries gridRecords
    let gridTask = Frames.taskOf (List.head gridRecords)
    let bestAlpha = Experiment.bestAlphaPerGamma gridTask "average_precision" gridSummary (Frames.pairedDifferences gridRecords) |> Experiment.describeBestAlpha
    // 4. The tables in summary.md.
    let table (header: string list) (lines: string list list) =
        String.Join("\n", [ "| " + String.Join(" | ", header) + " |"; "|" + String.replicate header.Length "---|" ] @ (lines |> List.map (fun l -> "| " + String.Join(" | ", l) + " |")))
    let cellText (r: ConditionRow) = $"{r.PositiveRate.ToString(inv)} | {r.Optimizer} | {r.BiasInit} | {r.Normalisation}"
    let diffText (r: ConditionRow) =
        let star = if r.PAdjusted < 0.05 then " *" else ""
        $"{Verdicts.signed r.MeanDiff} [{n r.CiLow}, {n r.CiHigh}]{star} ({r.SeedsBetter}/{r.Seeds})"
    let headline setting budget metric =
        let pick baseline = rows |> List.filter (fun r -> r.Setting = setting && r.Budget = budget && r.Metric = metric && r.Baseline = baseline)
        let ce, bal = pick "CE", pick "best alpha-CE"
        table [ "pi"; "optimizer"; "bias"; "normalisation"; $"vs CE"; "vs best alpha-CE" ]
            [ for r in ce ->
                let b = bal |> List.tryFind (fun b -> cellText b = cellText r)
                [ cellText r; diffText r; (match b with Some b -> diffText b | None -> "") ] ]
    let marginalTable setting budget metric =
        table [ "factor"; "level"; "vs CE: mean [95 % interval over cells]"; "cells won"; "vs best alpha-CE"; "cells won" ]
            [ for r in factorRows |> List.filter (fun r -> r.Setting = setting && r.Budget = budget && r.Metric = metric && r.Baseline = "CE") ->
                let b = factorRows |> List.tryFind (fun b -> b.Setting = setting && b.Budget = budget && b.Metric = metric && b.Baseline = "best alpha-CE" && b.Factor = r.Factor && b.Level = r.Level)
                [ r.Factor; r.Level; $"{Verdicts.signed r.Mean} [{n r.CiLow}, {n r.CiHigh}]"; $"{r.CellsBetter}/{r.Cells}"
                  (match b with Some b -> $"{Verdicts.signed b.Mean} [{n b.CiLow}, {n b.CiHigh}]" | None -> ""); (match b with Some b -> $"{b.CellsBetter}/{b.Cells}" | None -> "") ] ]
    let calibration =
        let converged = rows |> List.filter (fun r -> r.Budget = "converged" && r.Baseline = "CE" && r.Metric = "mean_score")
        table [ "pi"; "optimizer"; "bias"; "normalisation"; "setting"; "mean predicted p (CE)"; "mean predicted p (setting)"; "prevalence" ]
            [ for r in converged -> [ cellText r; r.Setting; n r.BaselineMean; n r.SettingMean; n r.Prevalence ] ]
    let focal = "focal a=0.25 g=2"
    let sections =
        [ "## Pilot (seed " + string design.PilotSeed + ")"
          table [ "optimizer"; "normalisation"; "learning rate"; "balanced CE alpha"; "each loss's own best rate" ]
              [ for c in choices -> [ optimizerName c.Optimizer; normalisationName c.Normalisation; n c.LearningRate; n c.BalancedAlpha; String.Join("; ", c.PerLoss |> List.map (fun (l, r) -> $"{l} {n r}")) ] ]
          for budget in [ "converged"; "early" ] do
              $"## Condition table: {focal} minus the baselines, AP, {budget} checkpoint"
              "Mean paired difference over seeds [95 % t-interval], * = Holm-adjusted p < 0.05 within this budget, baseline and metric over all cells and settings, (seeds where focal was better / seeds). Every setting and metric: conditions.csv."
              headline focal budget "average_precision"
          $"## Condition table: {focal} minus the baselines, ECE (lower is better), converged"
          headline focal "converged" "ece15"
          "## Which factors decide the sign? Marginal means, AP, converged"
          $"{focal} minus each baseline, averaged over the other factors: the mean of the cells' mean differences at each level, a 95 %% t-interval over those cells, and the cells where focal loss was better. Every setting, budget and metric: factors.csv."
          marginalTable focal "converged" "average_precision"
          "## Over- or under-prediction: mean predicted probability against the prevalence, converged"
          calibration
          "## Does the best alpha fall as gamma rises? (dense discs)"
          bestAlpha ]
    File.AppendAllText(written.Markdown, "\n" + String.Join("\n\n", sections) + "\n")
    printfn "\nwrote %s, %s, %s and the tables in %s" (Path.Combine(folder, "conditions.csv")) (Path.Combine(folder, "factors.csv")) (Path.Combine(folder, "pilot.csv")) written.Markdown
    printfn "Does the best alpha fall as gamma rises (dense discs)? %s" bestAlpha
