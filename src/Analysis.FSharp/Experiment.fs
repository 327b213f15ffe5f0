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

/// The experiment folder of your-data.fsx for a CSV and a label column: your-data/<file name>-<first 8 hex
/// digits of its content's SHA-256>/<label column>, so two files of one name, two contents of one file and
/// two label columns never share a report. Characters a folder name cannot hold become '_'.
let yourDataExperiment (csv: string) (label: string) =
    let clean (s: string) =
        let invalid = Path.GetInvalidFileNameChars()
        String(s.ToCharArray() |> Array.map (fun ch -> if Array.contains ch invalid || ch = '.' && s.Trim('.') = "" then '_' else ch))
    let name = clean (Path.GetFileNameWithoutExtension csv |> nonNull)
    let column = match clean label with "" | "." | ".." -> "_" | c -> c
    $"your-data/{name}-{(contentHash csv).Substring(0, 8)}/{column}"

/// The seeds 0..N-1 of --seeds.
let seeds (cli: Cli.Sweep) = [ 0 .. cli.Seeds - 1 ]

/// Applies the standard overrides (--epochs, --device) to a config.
let applyStandard (cli: Cli.Sweep) (c: RunConfig) = { c with Epochs = cli.Epochs; Device = cli.Device }

/// Sweep options from the standard script options.
let sweepOptions (cli: Cli.Sweep) : Runner.SweepOptions =
    { Runner.defaultSweep with Workers = cli.Workers; Shard = cli.Shard; ResultsRoot = cli.Results }

/// In a script that defines its own losses, call this after registering them and before anything else:
/// when the script was started as a sweep's worker (`dotnet fsi script.fsx worker --runs ... --threads ...`)
/// it runs the configs it receives on stdin and exits; otherwise it returns and the script goes on.
let serveAsWorker (commandLineArgs: string array) =
    match Cli.scriptArguments commandLineArgs |> List.ofArray with
    | "worker" :: rest ->
        let folder, threads = Cli.worker (Array.ofList rest)
        exit (Runner.worker folder threads)
    | _ -> ()

/// The worker program of a script that defines its own losses: the script itself.
let scriptWorker (scriptPath: string) = Runner.Script(Path.GetFullPath scriptPath)

/// Runs the sweep and, unless this is one shard of several, writes the report. Prints the device, the
/// grid size, progress, timings and the verdicts. Returns the records and the report (None for a shard).
let runAndReportWith (worker: Runner.WorkerProgram) (title: string) (description: string) (cli: Cli.Sweep) (configs: RunConfig list) =
    // Invalid settings are a usage error: say what is wrong, once, and exit 2 before any work.
    let workerProblems =
        match worker, configs |> List.tryPick (fun c -> match c.Loss with Custom(name, _) -> Some name | _ -> None) with
        | Runner.Library _, Some name ->
            [ $"Loss '{name}' is defined in a script, so the sweep's workers must be that script: Experiment.runAndReportWith (Experiment.scriptWorker (Path.Combine(__SOURCE_DIRECTORY__, __SOURCE_FILE__))), with Experiment.serveAsWorker fsi.CommandLineArgs at the top" ]
        | _ -> []
    match workerProblems @ allProblems configs with
    | [] -> ()
    | problems ->
        eprintfn "%d invalid setting(s):" problems.Length
        for p in problems do eprintfn "  %s" p
        exit 2
    let sweep = { sweepOptions cli with Worker = worker }
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
    let before = Runner.loadAll (Runner.runsFolder sweep.ResultsRoot experiment) |> List.map _.Id |> Set.ofList
    let clock = Stopwatch.StartNew()
    let records = Runner.sweep sweep configs
    let seconds = clock.Elapsed.TotalSeconds
    printfn "sweep: %d runs ready in %.1f s (%d diverged)" records.Length seconds (records |> List.filter _.Diverged |> List.length)
    match sweep.Shard with
    | Some(k, n) ->
        printfn "shard %d/%d done: when every shard is done, copy their %s folders into one, then run this script again without --shard on that results root (every finished run is reused and the full report is written; experiments/merge.fsx --experiment %s --from <roots> --results <root> writes the generic report only)" k n (Runner.runsFolder sweep.ResultsRoot experiment) experiment
        records, None
    | None ->
        let folder = Path.Combine(sweep.ResultsRoot, experiment)
        let written = Report.write folder title description { Seconds = seconds; Workers = Some workers; ThreadsPerWorker = Some(max 1 (Environment.ProcessorCount / workers)); Trained = Some(records |> List.filter (fun r -> not (before.Contains r.Id)) |> List.length) } records
        for dataset, lines in written.Verdicts do
            printfn "\n%s" dataset
            for l in lines do printfn "  %s" l
        printfn "\nwrote %s (%d charts) and %s in %.1f s total" written.Html written.Charts written.Markdown clock.Elapsed.TotalSeconds
        records, Some written

/// The best alpha of one gamma in an alpha x gamma grid, and how much the alphas' means differ against the
/// uncertainty of each mean.
type BestAlpha =
    { Gamma: float
      Alpha: float
      Mean: float
      /// Highest minus lowest mean over the alphas of this gamma.
      Spread: float
      /// Median half-width of the 95 % intervals of the alphas' paired differences against CE (the seeds'
      /// shared variation removed, as every alpha trains on the same data per seed).
      HalfWidth: float }

/// Runs the sweep with the library's own worker program and writes the report (see runAndReportWith).
let runAndReport (title: string) (description: string) (cli: Cli.Sweep) (configs: RunConfig list) =
    runAndReportWith Runner.defaultSweep.Worker title description cli configs

/// For the alpha x gamma grid: per gamma, the alpha with the best mean of the metric among the sigmoid
/// focal settings with an alpha (the paper reports that the best alpha falls as gamma rises).
let bestAlphaPerGamma (dataset: string) (metric: string) (summary: Frames.SummaryRow list) (paired: Frames.PairedRow list) =
    summary
    |> List.filter (fun s -> s.Dataset = dataset && s.Metric = metric && Frames.isPlainSigmoidFocal s.Setting s.Alpha s.Gamma && not (Double.IsNaN s.Mean))
    |> List.groupBy _.Gamma
    |> List.sortBy fst
    |> List.map (fun (g, rows) ->
        let best = rows |> List.maxBy _.Mean
        let means = rows |> List.map _.Mean
        let halves =
            paired
            |> List.filter (fun p -> p.Dataset = dataset && p.Metric = metric && Frames.isPlainSigmoidFocal p.Setting p.Alpha p.Gamma && p.Gamma = g)
            |> List.map (fun p -> (p.Hi - p.Lo) / 2.0) |> List.filter (Double.IsNaN >> not) |> List.sort
        { Gamma = g; Alpha = best.Alpha; Mean = best.Mean; Spread = List.max means - List.min means
          HalfWidth = if halves.IsEmpty then nan else halves[halves.Length / 2] })

/// The answer to "does the best alpha fall as gamma rises?", with the numbers. When, for every gamma, the
/// alphas' means differ by less than the half-width of their intervals, the grid cannot tell which alpha is
/// best, and the answer says so instead of reading noise.
let describeBestAlpha (rows: BestAlpha list) =
    let table = String.Join("; ", rows |> List.map (fun r -> $"gamma {r.Gamma}: best alpha {r.Alpha} (mean {Verdicts.number r.Mean}; the alphas' means span {Verdicts.number r.Spread}, paired interval half-width {Verdicts.number r.HalfWidth})"))
    let alphas = rows |> List.map _.Alpha
    let nonIncreasing = alphas |> List.pairwise |> List.forall (fun (a, b) -> b <= a)
    let falls = alphas |> List.pairwise |> List.exists (fun (a, b) -> b < a)
    let answer =
        if rows |> List.forall (fun r -> r.Spread < r.HalfWidth) then
            "Undecided: for every gamma the alphas' means differ by less than the half-width of the 95 % intervals of their paired differences against CE, so this grid cannot say which alpha is best, let alone whether it falls."
        elif nonIncreasing && falls then "Yes: the best alpha falls as gamma rises, as the paper reports."
        elif nonIncreasing then "No change: the best alpha is the same for every gamma."
        else "No: the best alpha does not fall monotonically as gamma rises here."
    $"{answer} {table}."
