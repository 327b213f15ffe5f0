/// The flow every experiment script shares: options, sweep (parallel, resumable, shardable), report.
/// Scripts only wire these functions together.
module Analysis.Experiment

open System
open System.Diagnostics
open System.IO
open Analysis.Config
open Analysis.ScriptArgs

/// Options every sweep script accepts; scripts add their own.
let standardOptions (seeds: int) (epochs: int) : OptionSpec list =
    [ { Name = "seeds"; Default = string seeds; Help = "seeds per setting, 0..N-1" }
      { Name = "epochs"; Default = string epochs; Help = "training epochs" }
      { Name = "device"; Default = "auto"; Help = "auto, cpu, cuda or cuda:N" }
      { Name = "workers"; Default = string Environment.ProcessorCount; Help = "parallel runs" }
      { Name = "shard"; Default = "1/1"; Help = "k/n: run the k-th of n slices of the grid, for clusters" }
      { Name = "results"; Default = Path.Combine(Runner.repoRoot, "results"); Help = "results root folder" } ]

/// Applies the standard overrides (--epochs, --device) to a config.
let applyStandard (options: Map<string, string>) (c: RunConfig) =
    { c with Epochs = ScriptArgs.int options "epochs"; Device = options["device"] }

/// The seeds 0..N-1 of --seeds.
let seeds (options: Map<string, string>) = [ 0 .. ScriptArgs.int options "seeds" - 1 ]

/// Sweep options from the standard script options.
let sweepOptions (options: Map<string, string>) : Runner.SweepOptions =
    let k, n = Runner.parseShard options["shard"]
    { Runner.defaultSweep with
        Workers = ScriptArgs.int options "workers"
        Shard = (if n = 1 then None else Some(k, n))
        ResultsRoot = options["results"] }

/// Runs the sweep and, unless this is one shard of several, writes the report. Prints the device, the
/// grid size, progress, timings and the verdicts. Returns the records and the report (None for a shard).
let runAndReport (title: string) (description: string) (options: Map<string, string>) (configs: RunConfig list) =
    validateAll configs
    let sweep = sweepOptions options
    let experiment = (List.head configs).Experiment
    let device = FocalLoss.Training.Devices.Resolve((List.head configs).Device)
    printfn "%s" title
    printfn "device: %O; workers: %d; torch threads per worker: %d" device sweep.Workers (max 1 (Environment.ProcessorCount / sweep.Workers))
    printfn "grid: %d runs (%d settings x %d seeds)%s" configs.Length (configs |> List.map settingId |> List.distinct |> List.length)
        (configs |> List.map _.Seed |> List.distinct |> List.length)
        (match sweep.Shard with Some(k, n) -> $"; this is shard {k}/{n}" | None -> "")
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

/// For the alpha x gamma grid: per gamma, the alpha with the best mean of the metric (the paper reports
/// that the best alpha falls as gamma rises).
let bestAlphaPerGamma (dataset: string) (metric: string) (summary: Frames.SummaryRow list) =
    summary
    |> List.filter (fun s -> s.Dataset = dataset && s.Metric = metric && s.Loss = "sigmoid_focal" && s.Alpha >= 0.0 && not (Double.IsNaN s.Mean))
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
