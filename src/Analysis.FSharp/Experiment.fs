/// The flow every experiment script shares: grid, sweep (parallel, resumable, shardable), report.
/// Scripts only wire these functions together.
module Analysis.Experiment

open System
open System.Diagnostics
open System.IO
open Analysis.Config
open Analysis.Data

/// The grid: every dataset variant x every loss variant x every seed, without duplicates.
let grid (baseConfig: RunConfig) (datasetVariants: (RunConfig -> RunConfig) list) (lossVariants: (RunConfig -> RunConfig) list) (seeds: int list) =
    [ for d in datasetVariants do
        for l in lossVariants do
            for s in seeds -> l (d { baseConfig with Seed = s }) ]
    |> List.distinctBy runId

/// The seeds 0..N-1 of --seeds.
let seeds (cli: Cli.Sweep) = [ 0 .. cli.Seeds - 1 ]

/// Applies the standard overrides (--epochs, --device) to a config.
let applyStandard (cli: Cli.Sweep) (c: RunConfig) = { c with Epochs = cli.Epochs; Device = cli.Device }

/// Sweep options from the standard script options.
let sweepOptions (cli: Cli.Sweep) : Runner.SweepOptions =
    { Runner.defaultSweep with Workers = cli.Workers; Shard = cli.Shard; ResultsRoot = cli.Results }

/// Runs the sweep and, unless this is one shard of several, writes the report. Prints the device, the
/// grid size, progress, timings and the verdicts. Returns the records and the report (None for a shard).
let runAndReport (title: string) (description: string) (cli: Cli.Sweep) (configs: RunConfig list) =
    validateAll configs
    let sweep = sweepOptions cli
    let experiment = (List.head configs).Experiment
    let device = FocalLoss.Infrastructure.Devices.Resolve(Device.text (List.head configs).Device)
    let todo = match sweep.Shard with Some s -> Runner.shard s configs | None -> configs
    let workers = min sweep.Workers (max 1 todo.Length)
    printfn "%s" title
    printfn "device: %O; workers: %d; torch threads per worker: %d" device workers (max 1 (Environment.ProcessorCount / workers))
    printfn "grid: %d runs (%d settings x %d seeds)%s" configs.Length (configs |> List.map settingId |> List.distinct |> List.length)
        (configs |> List.map _.Seed |> List.distinct |> List.length)
        (match sweep.Shard with Some(k, n) -> $"; this is shard {k}/{n} ({todo.Length} runs)" | None -> "")
    printfn "base config: %A" { (List.head configs) with Seed = 0 }
    let clock = Stopwatch.StartNew()
    let records = Runner.sweep sweep configs
    let seconds = clock.Elapsed.TotalSeconds
    printfn "sweep: %d runs ready in %.1f s (%d diverged)" records.Length seconds (records |> List.filter _.Diverged |> List.length)
    match sweep.Shard with
    | Some(k, n) ->
        printfn "shard %d/%d done: merge the shards' %s folders, then run experiments/merge.fsx --experiment %s" k n (Runner.runsFolder sweep.ResultsRoot experiment) experiment
        records, None
    | None ->
        let folder = Path.Combine(sweep.ResultsRoot, experiment)
        let written = Report.write folder title description seconds records
        for dataset, lines in written.Verdicts do
            printfn "\n%s" dataset
            for l in lines do printfn "  %s" l
        printfn "\nwrote %s (%d charts) and %s in %.1f s total" written.Html written.Charts written.Markdown clock.Elapsed.TotalSeconds
        records, Some written

/// For the alpha x gamma grid: per gamma, the alpha with the best mean of the metric among the sigmoid
/// focal settings with an alpha (the paper reports that the best alpha falls as gamma rises).
let bestAlphaPerGamma (dataset: string) (metric: string) (summary: Frames.SummaryRow list) =
    summary
    |> List.filter (fun s -> s.Dataset = dataset && s.Metric = metric && s.Loss = nameof FocalLoss.Functional.sigmoid_focal_loss && not (Double.IsNaN s.Alpha) && not (Double.IsNaN s.Mean))
    |> List.groupBy _.Gamma
    |> List.sortBy fst
    |> List.map (fun (g, rows) -> let best = rows |> List.maxBy _.Mean in g, best.Alpha, best.Mean)

/// "Yes" when the best alpha never rises with gamma and falls at least once, as a sentence with the numbers.
let describeBestAlpha (rows: (float * float * float) list) =
    let alphas = rows |> List.map (fun (_, a, _) -> a)
    let nonIncreasing = alphas |> List.pairwise |> List.forall (fun (a, b) -> b <= a)
    let falls = alphas |> List.pairwise |> List.exists (fun (a, b) -> b < a)
    let table = String.Join("; ", rows |> List.map (fun (g, a, m) -> $"gamma {g}: best alpha {a} (mean {m:F3})"))
    let answer =
        if nonIncreasing && falls then "Yes: the best alpha falls as gamma rises, as the paper reports."
        elif nonIncreasing then "No change: the best alpha is the same for every gamma."
        else "No: the best alpha does not fall monotonically as gamma rises here."
    $"{answer} {table}."
