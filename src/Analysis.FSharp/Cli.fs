/// Command lines of the scripts, the worker, the bench and the mutation check, through Argu: typed
/// options, generated `--help`, errors that list the valid values, and ranges checked before any work.
module Analysis.Cli

open System
open System.IO
open Argu
open Analysis.Config

/// Parses with Argu and a post-check; Error carries Argu's message (with the usage) or the range error.
let tryParse<'T, 'R when 'T :> IArgParserTemplate> (program: string) (argv: string array) (read: ParseResults<'T> -> 'R) : Result<'R, string> =
    let parser = ArgumentParser.Create<'T>(programName = program)
    try
        let results = parser.ParseCommandLine(argv, raiseOnUsage = true)
        Ok(read results)
    with
    | :? ArguParseException as e -> Error e.Message
    | :? ArgumentException as e ->
        let message = match e.ParamName with null -> e.Message | p -> e.Message.Replace($" (Parameter '{p}')", "")
        Error($"{message}{Environment.NewLine}{parser.PrintUsage()}")

/// Parses, or prints the message and exits: 0 for --help, 2 for an error. For scripts and programs. (From
/// `dotnet fsi script.fsx`, pass `-- --help`: without the `--`, dotnet fsi answers --help itself.)
let parseOrExit<'T, 'R when 'T :> IArgParserTemplate> (program: string) (argv: string array) (read: ParseResults<'T> -> 'R) : 'R =
    let wantsHelp = argv |> Array.exists (fun a -> a = "--help" || a = "-h" || a = "/?")
    match tryParse<'T, 'R> program argv read with
    | Ok r -> r
    | Error message when wantsHelp -> printfn "%s" message; exit 0
    | Error message -> eprintfn "%s" message; exit 2

/// The arguments after the script name of a `dotnet fsi script.fsx ...` call.
let scriptArguments (commandLineArgs: string array) = if commandLineArgs.Length = 0 then [||] else commandLineArgs[1..]

let private atLeast (name: string) (minimum: int) (value: int) =
    if value < minimum then invalidArg name $"--{name} must be >= {minimum}, got {value}"
    value

/// The options every sweep script shares, as typed values.
type Sweep =
    { /// Seeds 0..Seeds-1 per setting (>= 1).
      Seeds: int
      /// Training epochs (>= 1).
      Epochs: int
      Device: Device
      /// Worker processes (>= 1).
      Workers: int
      /// This machine's k-th of n slices of the grid.
      Shard: (int * int) option
      /// The results root folder.
      Results: string }

/// The default results root: <repo>/results.
let defaultResults () = Path.Combine(Data.repoRoot, "results")

/// At most this many worker processes per core: each is a process of its own (about 200 MB) with torch threads.
let maxWorkersPerCore = 4

/// A results root: a folder (created when missing), never an existing file.
let resultsFolder (path: string) =
    let full = Path.GetFullPath path
    if File.Exists full then invalidArg "results" $"--results must be a folder, got the file '{path}'"
    full

/// A device that this machine has: the name parsed, then resolved by torch (CUDA must be available).
let availableDevice (text: string) =
    let device = Device.parse text
    FocalLoss.Infrastructure.Devices.Resolve(Device.text device) |> ignore
    device

let private sweepOf seeds epochs device workers shard results =
    let maxWorkers = maxWorkersPerCore * Environment.ProcessorCount
    if workers > maxWorkers then
        invalidArg "workers" $"--workers must be <= {maxWorkers} ({maxWorkersPerCore} per core on this {Environment.ProcessorCount}-core machine; each worker is a process of about 200 MB), got {workers}"
    { Seeds = atLeast "seeds" 1 seeds
      Epochs = atLeast "epochs" 1 epochs
      Device = availableDevice device
      Workers = atLeast "workers" 1 workers
      Shard = shard |> Option.bind (fun s -> match Runner.parseShard s with 1, 1 -> None | k, n -> Some(k, n))
      Results = resultsFolder results }

/// Options of the sweep scripts (focal-vs-ce, alpha-gamma-grid, mnist).
type SweepArgs =
    | [<Unique>] Seeds of int
    | [<Unique>] Epochs of int
    | [<Unique>] Device of string
    | [<Unique>] Workers of int
    | [<Unique>] Shard of string
    | [<Unique>] Results of path: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Seeds _ -> "seeds per setting, 0..N-1 (N >= 1)"
            | Epochs _ -> "training epochs (>= 1)"
            | Device _ -> "auto, cpu, cuda or cuda:N (default auto)"
            | Workers _ -> "parallel worker processes (>= 1; default: the core count)"
            | Shard _ -> "k/n: run the k-th of n slices of the grid, for clusters (default 1/1)"
            | Results _ -> "results root folder (default: <repo>/results)"

/// Reads parsed sweep options with a script's default seeds and epochs, checking every range.
let readSweep (seeds: int) (epochs: int) (r: ParseResults<SweepArgs>) =
    sweepOf (r.GetResult(SweepArgs.Seeds, seeds)) (r.GetResult(SweepArgs.Epochs, epochs)) (r.GetResult(SweepArgs.Device, "auto"))
            (r.GetResult(SweepArgs.Workers, Environment.ProcessorCount)) (r.TryGetResult SweepArgs.Shard) (r.GetResult(SweepArgs.Results, defaultResults ()))

/// Parses a sweep script's options with its default seeds and epochs (or prints the error and exits).
let sweep (program: string) (seeds: int) (epochs: int) (argv: string array) =
    parseOrExit<SweepArgs, Sweep> program argv (readSweep seeds epochs)

/// The model of your-data.fsx.
type YourModel =
    | Logistic
    | Mlp

/// Options of your-data.fsx: the sweep options plus the file, its label column and the model.
type YourDataArgs =
    | [<Mandatory; Unique>] Data of csv: string
    | [<Unique>] Label of column: string
    | [<Unique>] Model of YourModel
    | [<Unique>] Seeds of int
    | [<Unique>] Epochs of int
    | [<Unique>] Device of string
    | [<Unique>] Workers of int
    | [<Unique>] Shard of string
    | [<Unique>] Results of path: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Data _ -> "the CSV file: a header, numeric features, a label column of class ids 0..C-1"
            | Label _ -> "the label column (default label)"
            | Model _ -> "the model (default logistic)"
            | Seeds _ -> "seeds per setting, 0..N-1 (N >= 1; default 5)"
            | Epochs _ -> "training epochs (>= 1; default 20)"
            | Device _ -> "auto, cpu, cuda or cuda:N (default auto)"
            | Workers _ -> "parallel worker processes (>= 1; default: the core count)"
            | Shard _ -> "k/n: run the k-th of n slices of the grid (default 1/1)"
            | Results _ -> "results root folder (default: <repo>/results)"

/// your-data.fsx's options, typed.
type YourData = { Csv: string; Label: string; Model: Config.Model; Sweep: Sweep }

/// Reads your-data.fsx's parsed options; the CSV must exist.
let readYourData (r: ParseResults<YourDataArgs>) =
        let csv = Path.GetFullPath(r.GetResult YourDataArgs.Data)
        if not (File.Exists csv) then invalidArg "data" $"--data must be an existing CSV file, got '{r.GetResult YourDataArgs.Data}'"
        { Csv = csv
          Label = r.GetResult(YourDataArgs.Label, "label")
          Model = (match r.GetResult(YourDataArgs.Model, YourModel.Logistic) with YourModel.Logistic -> Config.Logistic | YourModel.Mlp -> Config.Mlp [ 32 ])
          Sweep =
            sweepOf (r.GetResult(YourDataArgs.Seeds, 5)) (r.GetResult(YourDataArgs.Epochs, 20)) (r.GetResult(YourDataArgs.Device, "auto"))
                    (r.GetResult(YourDataArgs.Workers, Environment.ProcessorCount)) (r.TryGetResult YourDataArgs.Shard) (r.GetResult(YourDataArgs.Results, defaultResults ())) }

/// Parses your-data.fsx's options (or prints the error and exits).
let yourData (program: string) (argv: string array) = parseOrExit<YourDataArgs, YourData> program argv readYourData

/// Options of seed-replication.fsx.
type SeedReplicationArgs =
    | [<Unique>] Seeds of int
    | [<Unique>] Device of string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Seeds _ -> "seeds 0..N-1 (N >= 1; default 20)"
            | Device _ -> "auto, cpu, cuda or cuda:N (default auto)"

/// seed-replication.fsx's seeds and device.
let seedReplication (program: string) (argv: string array) =
    parseOrExit<SeedReplicationArgs, int * Config.Device> program argv (fun r ->
        atLeast "seeds" 1 (r.GetResult(SeedReplicationArgs.Seeds, 20)), availableDevice (r.GetResult(SeedReplicationArgs.Device, "auto")))

/// Options of loss-landscape.fsx.
type LandscapeArgs =
    | [<Unique>] Alpha of string
    | [<Unique>] Points of int
    | [<Unique>] Results of path: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Alpha _ -> "positive-class weight in [0, 1], or none (default none)"
            | Points _ -> "p_t values evenly spaced in (0, 1) (>= 1; default 199)"
            | Results _ -> "results root folder (default: <repo>/results)"

/// loss-landscape.fsx's alpha, number of points and results root.
let landscape (program: string) (argv: string array) =
    parseOrExit<LandscapeArgs, float option * int * string> program argv (fun r ->
        let alpha =
            match r.GetResult(LandscapeArgs.Alpha, "none") with
            | "none" -> None
            | text ->
                match Double.TryParse(text, Globalization.NumberStyles.Float, Globalization.CultureInfo.InvariantCulture) with
                | true, a when a >= 0.0 && a <= 1.0 -> Some a
                | _ -> invalidArg "alpha" $"--alpha must be a number in [0, 1] or none, got '{text}'"
        alpha, atLeast "points" 1 (r.GetResult(LandscapeArgs.Points, 199)), resultsFolder (r.GetResult(LandscapeArgs.Results, defaultResults ())))

/// Options of merge.fsx.
type MergeArgs =
    | [<Mandatory; Unique>] Experiment of name: string
    | [<Mandatory; Unique>] From of roots: string
    | [<Unique>] Results of path: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Experiment _ -> "the experiment, e.g. focal-vs-ce"
            | From _ -> "comma-separated results roots of the shards"
            | Results _ -> "results root to merge into (default: <repo>/results)"

/// Reads merge.fsx's parsed options: the experiment (a valid relative name), the shard roots (each must
/// exist) and the target root.
let readMerge (r: ParseResults<MergeArgs>) =
        let roots = (r.GetResult MergeArgs.From).Split(',', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries) |> List.ofArray
        if roots.IsEmpty then invalidArg "from" "--from must name at least one shard results root"
        for root in roots do
            if not (Directory.Exists root) then invalidArg "from" $"--from: shard results root '{root}' does not exist"
        let experiment = r.GetResult MergeArgs.Experiment
        match Config.problems { Config.defaults with Experiment = experiment } |> List.filter (fun p -> p.StartsWith "Experiment") with
        | [] -> ()
        | p :: _ -> invalidArg "experiment" $"--experiment: {p}"
        experiment, roots, resultsFolder (r.GetResult(MergeArgs.Results, defaultResults ()))

/// merge.fsx's options (or prints the error and exits).
let merge (program: string) (argv: string array) = parseOrExit<MergeArgs, string * string list * string> program argv readMerge

/// Options of the worker process that parallel sweeps start (configs arrive on stdin).
type WorkerArgs =
    | [<Mandatory; Unique>] Runs of folder: string
    | [<Unique>] Threads of int
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Runs _ -> "folder for the run files"
            | Threads _ -> "torch intra-op threads (>= 1; default 1)"

/// The worker's runs folder and thread count.
let worker (argv: string array) =
    parseOrExit<WorkerArgs, string * int> "Analysis.FSharp worker" argv (fun r ->
        r.GetResult WorkerArgs.Runs, atLeast "threads" 1 (r.GetResult(WorkerArgs.Threads, 1)))

/// Options of the seed-loop benchmark (`bench ... seed-loop`).
type SeedLoopArgs =
    | [<Unique>] Repeats of int
    interface IArgParserTemplate with
        member a.Usage = match a with Repeats _ -> "repeats per loop (>= 1; default 3)"

/// Options of the loss benchmark (bench/FocalLoss.Bench); `seed-loop` runs the training-loop benchmark instead.
type BenchArgs =
    | [<CliPrefix(CliPrefix.None)>] Seed_Loop of ParseResults<SeedLoopArgs>
    | [<Unique>] Sizes of csv: string
    | [<Unique>] Threads of csv: string
    | [<Unique>] Min_Seconds of float
    | [<Unique>] Pytorch of json: string
    | [<CliPrefix(CliPrefix.None)>] Kernel
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Kernel -> "run the BenchmarkDotNet micro-benchmarks of the fused kernel against the composite instead"
            | Pytorch _ -> "PyTorch's timings of the same rows (JSON lines written by bench/focal_pytorch.py) to print beside them"
            | Seed_Loop _ -> "time the seed experiment's training loop against PyTorch eager instead"
            | Sizes _ -> "comma-separated element counts (default 10000,100000,1000000,10000000)"
            | Threads _ -> "comma-separated intra-op thread counts (default 1,2)"
            | Min_Seconds _ -> "least time per measurement in seconds (> 0; default 1)"

/// The loss benchmark's settings; SeedLoopRepeats is Some when `seed-loop` was asked for.
type Bench = { Sizes: int64 list; Threads: int list; MinSeconds: float; SeedLoopRepeats: int option; PyTorch: string option; Kernel: bool }

let private positiveList<'T when 'T: comparison> (name: string) (parse: string -> 'T option) (zero: 'T) (csv: string) =
    let parts = csv.Split(',', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries) |> List.ofArray
    let values = parts |> List.map (fun p -> match parse p with Some v when v > zero -> v | _ -> invalidArg name $"--{name} must be a comma-separated list of positive integers, got '{csv}'")
    if values.IsEmpty then invalidArg name $"--{name} must name at least one value, got '{csv}'"
    values

/// Reads the benchmark's parsed options, checking every range.
let readBench (r: ParseResults<BenchArgs>) =
    let int64Of (s: string) = match Int64.TryParse s with | true, v -> Some v | _ -> None
    let intOf (s: string) = match Int32.TryParse s with | true, v -> Some v | _ -> None
    let minSeconds = r.GetResult(BenchArgs.Min_Seconds, 1.0)
    if not (minSeconds > 0.0) || Double.IsInfinity minSeconds then invalidArg "min-seconds" $"--min-seconds must be finite and > 0, got {minSeconds}"
    { Sizes = r.TryGetResult BenchArgs.Sizes |> Option.map (positiveList "sizes" int64Of 0L) |> Option.defaultValue [ 10_000L; 100_000L; 1_000_000L; 10_000_000L ]
      Threads = r.TryGetResult BenchArgs.Threads |> Option.map (positiveList "threads" intOf 0) |> Option.defaultValue [ 1; 2 ]
      MinSeconds = minSeconds
      SeedLoopRepeats = r.TryGetResult BenchArgs.Seed_Loop |> Option.map (fun s -> atLeast "repeats" 1 (s.GetResult(SeedLoopArgs.Repeats, 3)))
      PyTorch =
        r.TryGetResult BenchArgs.Pytorch
        |> Option.map (fun path -> if File.Exists path then path else invalidArg "pytorch" $"--pytorch must name an existing file, got '{path}'")
      Kernel = r.Contains BenchArgs.Kernel }

/// Parses the benchmark's options (or prints the error and exits).
let bench (argv: string array) = parseOrExit<BenchArgs, Bench> "FocalLoss.Bench" argv readBench

/// Options of when-focal-wins.fsx: the sweep options, and --quick for the reduced design.
type StudyArgs =
    | Quick
    | [<Unique>] Seeds of int
    | [<Unique>] Device of string
    | [<Unique>] Workers of int
    | [<Unique>] Shard of string
    | [<Unique>] Results of path: string
    interface IArgParserTemplate with
        member a.Usage =
            match a with
            | Quick -> "the reduced design (one positive rate, 3 seeds, 1,000 steps) for a first look, in results/when-focal-wins-quick/"
            | Seeds _ -> "seeds per cell and setting, 0..N-1 (N >= 2; default 5, --quick 3)"
            | Device _ -> "auto, cpu, cuda or cuda:N (default auto)"
            | Workers _ -> "parallel worker processes (>= 1; default: the core count)"
            | Shard _ -> "k/n: run the k-th of n slices of the design, for clusters (default 1/1); the pilot runs whole on every shard"
            | Results _ -> "results root folder (default: <repo>/results)"

/// Parses when-focal-wins.fsx's options: (quick, the sweep options; Epochs is the design's, not an option).
let study (program: string) (argv: string array) =
    parseOrExit<StudyArgs, bool * Sweep> program argv (fun r ->
        let quick = r.Contains StudyArgs.Quick
        let seeds = r.GetResult(StudyArgs.Seeds, if quick then 3 else 5)
        if seeds < 2 then invalidArg "seeds" $"--seeds must be >= 2 (a paired interval needs two seeds), got {seeds}"
        quick,
        sweepOf seeds 1 (r.GetResult(StudyArgs.Device, "auto")) (r.GetResult(StudyArgs.Workers, Environment.ProcessorCount))
                (r.TryGetResult StudyArgs.Shard) (r.GetResult(StudyArgs.Results, defaultResults ())))
