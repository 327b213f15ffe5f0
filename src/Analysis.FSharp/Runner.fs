/// Runs experiment configs: builds data, model and loss from a RunConfig, trains with the C# trainer, and
/// stores one JSON file per run (atomically) so an interrupted sweep resumes where it stopped. Sweeps run
/// in parallel across cores and can be sharded across machines.
module Analysis.Runner

open System
open System.Collections.Generic
open System.Diagnostics
open System.IO
open System.Text.Json
open System.Text.Json.Serialization
open System.Threading
open TorchSharp
open FocalLoss
open FocalLoss.Data
open FocalLoss.Metrics
open FocalLoss.Training
open Analysis.Config

/// The repository root (the folder holding Workbench.sln), found from this assembly's location.
let repoRoot =
    let rec up (dir: DirectoryInfo | null) =
        match dir with
        | null -> Directory.GetCurrentDirectory()
        | d when File.Exists(Path.Combine(d.FullName, "Workbench.sln")) -> d.FullName
        | d -> up d.Parent
    up (DirectoryInfo(Path.GetDirectoryName(typeof<RunConfig>.Assembly.Location) |> nonNull))

/// The 10k real digits shipped in data/mnist-10k, read once.
let digits = lazy (Idx.Load(Path.Combine(repoRoot, "data", "mnist-10k", "images-idx3-ubyte.gz"), Path.Combine(repoRoot, "data", "mnist-10k", "labels-idx1-ubyte.gz")))

/// One point of a curve.
type Point = { X: float; Y: float }

/// Everything a run produced. Metrics of a diverged run are those of its last complete epoch (or none).
type RunRecord =
    { Id: string
      Config: RunConfig
      Device: string
      Diverged: bool
      /// Step at which the loss became non-finite, -1 if it never did.
      DivergedAtStep: int64
      Steps: int64
      Seconds: float
      /// Test metrics after the last epoch (binary: average_precision, roc_auc, ...; multi-class: top1, macro_f1, ...).
      Metrics: Dictionary<string, float>
      /// Mean training loss per epoch.
      TrainLoss: float[]
      /// The primary metric (AP or macro-F1) on the test set after each epoch.
      TestCurve: float[]
      /// Precision-recall curve on the test set (binary; at most 200 points).
      PrCurve: Point[]
      /// Reliability diagram on the test set (binary): mean score (X) against fraction positive (Y) per bin.
      Reliability: Point[] }

/// The metric verdicts and curves are about: average precision (binary) or macro-F1 (multi-class).
let primaryMetric (c: RunConfig) = if List.contains c.Dataset multiClassDatasets then "macro_f1" else "average_precision"

let private hyperParameters (c: RunConfig) : IReadOnlyDictionary<string, string> =
    let alpha = if c.Alpha < 0.0 then "none" else c.Alpha.ToString("R", Globalization.CultureInfo.InvariantCulture)
    let gamma = c.Gamma.ToString("R", Globalization.CultureInfo.InvariantCulture)
    match c.Loss with
    | "sigmoid_focal" | "focal_from_probabilities" -> readOnlyDict [ "alpha", alpha; "gamma", gamma ]
    | "balanced_bce" -> readOnlyDict [ "alpha", (if c.Alpha < 0.0 then "0.25" else alpha) ]
    | "softmax_focal" -> readOnlyDict [ "gamma", gamma ]
    | _ -> readOnlyDict []

/// Builds the train and test sets of a config (same seed, same data for every loss).
let buildData (c: RunConfig) : TensorDataset * TensorDataset =
    let testSeed = int64 c.Seed + 1_000_000L
    let split (all: TensorDataset) =
        use all = all
        let struct (train, test) = Splits.Stratified(all, 0.3, int64 c.Seed)
        train, test
    match c.Dataset with
    | "seed-line" -> Synthetic.SeedLine(c.TrainCount, int64 c.Seed), Synthetic.SeedLine(c.TestCount, testSeed)
    | "line" -> Synthetic.ImbalancedLine(c.TrainCount, c.PositiveRate, int64 c.Seed, c.LabelNoise), Synthetic.ImbalancedLine(c.TestCount, c.PositiveRate, testSeed)
    | "gaussian" -> Synthetic.ImbalancedGaussian(c.TrainCount, c.PositiveRate, int64 c.Seed, c.Features, 2.0, c.LabelNoise), Synthetic.ImbalancedGaussian(c.TestCount, c.PositiveRate, testSeed, c.Features)
    | "dense-easy-negatives" -> Synthetic.DenseEasyNegatives(c.TrainCount, c.PositiveRate, int64 c.Seed), Synthetic.DenseEasyNegatives(c.TestCount, c.PositiveRate, testSeed)
    | "mnist-one-vs-rest" -> split (DigitTasks.OneVsRest(digits.Value, c.Digit, c.PositiveRate, int64 c.Seed, (c.Model <> "cnn")))
    | "mnist-long-tailed" -> split (DigitTasks.LongTailed(digits.Value, c.ImbalanceRatio, int64 c.Seed, (c.Model <> "cnn")))
    | "csv" ->
        let train, test = split (CsvTable.Load(c.CsvPath, c.LabelColumn).ToDataset())
        let scaler = Standardizer.Fit train
        use train = train
        use test = test
        scaler.Transform train, scaler.Transform test
    | other -> invalidArg "Dataset" $"unknown dataset '{other}'"

let private createModel (c: RunConfig) (inputs: int) (outputs: int) : unit -> torch.nn.Module<torch.Tensor, torch.Tensor> =
    fun () ->
        match c.Model with
        | "mlp" -> new FocalLoss.Models.Mlp(inputs, outputs, c.Hidden) :> torch.nn.Module<torch.Tensor, torch.Tensor>
        | name -> FocalLoss.Models.ModelFactory.Create(name, inputs, outputs)

let private downsample (maxPoints: int) (points: Point[]) =
    if points.Length <= maxPoints then points
    else Array.init maxPoints (fun i -> points[int (float i * float (points.Length - 1) / float (maxPoints - 1))])

/// Trains one config and returns its record (a diverged run is a record, not an exception).
let runOne (c: RunConfig) : RunRecord =
    let train, test = buildData c
    use train = train
    use test = test
    use loss = Losses.Create(c.Loss, hyperParameters c)
    let outputs = if train.Task = LossTask.Binary then 1 else train.NumClasses
    let trainerConfig =
        TrainerConfig(Device = c.Device, Optimizer = c.Optimizer, LearningRate = c.LearningRate, Momentum = c.Momentum,
                      BatchSize = c.BatchSize, Epochs = c.Epochs, Seed = int64 c.Seed, Progress = false,
                      Reduction = (if c.Reduction = "sum" then BatchReduction.Sum else BatchReduction.Mean))
    let curve = List<float>()
    let primary = primaryMetric c
    let struct (model, result) =
        Trainer.Run(createModel c (int train.FeatureCount) outputs, loss, train, test, trainerConfig,
                    fun e -> curve.Add(match e.Metrics.TryGetValue primary with | true, v -> v | _ -> nan))
    use model = model
    let pr, reliability =
        if train.Task = LossTask.Binary && not result.Diverged then
            use probs = Trainer.PredictProbabilities(model, test)
            let scores = probs.data<float>().ToArray()
            use labelsTensor = test.Labels.to_type(torch.ScalarType.Int32).cpu()
            let labels = labelsTensor.data<int>().ToArray()
            let struct (recall, precision, _) = BinaryMetrics.PrecisionRecallCurve(ReadOnlySpan scores, ReadOnlySpan labels)
            let struct (meanScore, fraction, _) = BinaryMetrics.ReliabilityBins(ReadOnlySpan scores, ReadOnlySpan labels)
            Array.map2 (fun r p -> { X = r; Y = p }) recall precision |> downsample 200,
            Array.map2 (fun m f -> { X = m; Y = f }) meanScore fraction
        else [||], [||]
    { Id = runId c
      Config = c
      Device = result.Device
      Diverged = result.Diverged
      DivergedAtStep = (if result.DivergedAtStep.HasValue then result.DivergedAtStep.Value else -1L)
      Steps = result.Steps
      Seconds = result.Seconds
      Metrics = Dictionary<string, float>(result.FinalMetrics)
      TrainLoss = result.Epochs |> Seq.map _.TrainLoss |> Array.ofSeq
      TestCurve = curve.ToArray()
      PrCurve = pr
      Reliability = reliability }

/// JSON settings of the run files (NaN and infinities allowed, indented).
let jsonOptions = JsonSerializerOptions(WriteIndented = true, NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)

/// The folder of an experiment's run files: results/<experiment>/runs under <paramref name="resultsRoot"/>.
let runsFolder (resultsRoot: string) (experiment: string) = Path.Combine(resultsRoot, experiment, "runs")

/// Writes a record to runs/<id>.json through a temporary file and a rename.
let save (folder: string) (record: RunRecord) =
    AtomicFile.WriteAllText(Path.Combine(folder, record.Id + ".json"), JsonSerializer.Serialize(record, jsonOptions))

/// Reads a run file; None for a file that is not a complete record (it is then rerun).
let tryLoad (path: string) : RunRecord option =
    if not (File.Exists path) then None
    else
    try
        match JsonSerializer.Deserialize<RunRecord>(File.ReadAllText path, jsonOptions) with
        | null -> None
        | r when isNull (box r.Config) || isNull (box r.Metrics) || r.Id <> nonNull (Path.GetFileNameWithoutExtension(path: string)) -> None
        | r -> Some r
    with :? JsonException -> None

/// Every complete record in a runs folder.
let loadAll (folder: string) : RunRecord list =
    if not (Directory.Exists folder) then []
    else Directory.GetFiles(folder, "*.json") |> Array.sort |> Array.choose tryLoad |> List.ofArray

/// Parses "k/n" (1 <= k <= n): this machine runs the k-th of n deterministic slices of the grid.
let parseShard (text: string) =
    match text.Split '/' with
    | [| k; n |] ->
        match Int32.TryParse k, Int32.TryParse n with
        | (true, k), (true, n) when n >= 1 && k >= 1 && k <= n -> k, n
        | _ -> invalidArg "shard" $"--shard must be k/n with 1 <= k <= n, got '{text}'"
    | _ -> invalidArg "shard" $"--shard must be k/n with 1 <= k <= n, got '{text}'"

/// The k-th of n slices: configs sorted by id, every n-th from position k-1. The n slices partition the grid.
let shard (k: int, n: int) (configs: RunConfig list) =
    configs |> List.distinctBy runId |> List.sortBy runId |> List.indexed |> List.filter (fun (i, _) -> i % n = k - 1) |> List.map snd

/// Copies every complete run file of the source folders into the target folder (the merge step after a
/// sharded sweep); returns how many runs the target then holds. Identical ids are the same run.
let merge (sources: string list) (target: string) =
    Directory.CreateDirectory target |> ignore
    for source in sources do
        for record in loadAll source do
            let path = Path.Combine(target, record.Id + ".json")
            if not (File.Exists path) then save target record
    (loadAll target).Length

/// How a sweep runs.
type SweepOptions =
    { /// Parallel runs (default: processor count); torch's intra-op threads are divided among them.
      Workers: int
      /// Optional k/n slice of the grid.
      Shard: (int * int) option
      /// Root of the results tree (default: <repo>/results).
      ResultsRoot: string
      /// Progress line on stderr (never when stderr is redirected).
      Progress: bool }

let defaultSweep = { Workers = Environment.ProcessorCount; Shard = None; ResultsRoot = Path.Combine(repoRoot, "results"); Progress = true }

/// The worker host: src/Workbench's build output in the same configuration (Release/Debug) as this library.
let workerHost () =
    let here = Path.GetDirectoryName(typeof<RunConfig>.Assembly.Location) |> nonNull
    let configuration = DirectoryInfo(here).Parent |> nonNull |> _.Name   // bin/<configuration>/net10.0
    let path = Path.Combine(repoRoot, "src", "Workbench", "bin", configuration, "net10.0", "Workbench.dll")
    if File.Exists path then Some path else None

/// Runs configs one after another in this process, saving each record (the worker's loop).
let runSequential (folder: string) (configs: RunConfig list) (onDone: unit -> unit) =
    for c in configs do
        if (tryLoad (Path.Combine(folder, runId c + ".json"))).IsNone then   // missing or not a complete record
            save folder (runOne c)
        onDone ()

/// Reads a worker's config list (JSON array of RunConfig).
let readConfigs (path: string) : RunConfig list =
    JsonSerializer.Deserialize<RunConfig[]>(File.ReadAllText path, jsonOptions) |> nonNull |> List.ofArray

/// Runs the configs that have no complete record yet (resume) and returns every record of the (sharded)
/// grid, finished earlier or now. Validates every config before the first run starts. With more than one
/// worker, runs go to that many worker processes (src/Workbench's `worker` command), each with
/// cores / workers torch threads: TorchSharp 0.107 is not safe to train from several threads of one
/// process (its implicitly created Scalars can be finalised by a GC that another thread triggers while
/// native code still uses them), so parallel runs are separate processes.
let sweep (options: SweepOptions) (configs: RunConfig list) : RunRecord list =
    validateAll configs
    if options.Workers < 1 then invalidArg "Workers" $"Workers must be >= 1, got {options.Workers}"
    let experiments = configs |> List.map _.Experiment |> List.distinct
    if experiments.Length > 1 then
        let names = String.Join(", ", experiments)
        invalidArg "configs" $"one sweep writes one experiment, got {names}"
    let selected = match options.Shard with Some s -> shard s configs | None -> configs |> List.distinctBy runId
    let folder = runsFolder options.ResultsRoot (List.head experiments)
    Directory.CreateDirectory folder |> ignore
    let existing = loadAll folder |> List.map (fun r -> r.Id, r) |> Map.ofList
    let todo = selected |> List.filter (fun c -> not (existing.ContainsKey(runId c)))
    let threads = max 1 (Environment.ProcessorCount / options.Workers)
    let progress = ProgressBar($"{List.head experiments}: runs", int64 todo.Length, options.Progress)
    let workers = min options.Workers todo.Length
    match workerHost () with
    | Some host when workers > 1 ->
        let inputs = Path.Combine(folder, $".worker-inputs-{Guid.NewGuid():N}")
        Directory.CreateDirectory inputs |> ignore
        try
            let procs =
                [ for w in 0 .. workers - 1 ->
                    let mine = todo |> List.indexed |> List.filter (fun (i, _) -> i % workers = w) |> List.map snd |> Array.ofList
                    let input = Path.Combine(inputs, $"worker-{w}.json")
                    File.WriteAllText(input, JsonSerializer.Serialize(mine, jsonOptions))
                    let info = ProcessStartInfo("dotnet", [ host; "worker"; "--configs"; input; "--runs"; folder; "--threads"; string threads ],
                                                RedirectStandardOutput = true, RedirectStandardError = true)
                    let proc = Process.Start info |> nonNull
                    let err = proc.StandardError.ReadToEndAsync()
                    proc.StandardOutput.ReadToEndAsync() |> ignore
                    proc, err ]
            while procs |> List.exists (fun (p, _) -> not p.HasExited) do
                Thread.Sleep 250
                progress.Report(todo |> List.filter (fun c -> File.Exists(Path.Combine(folder, runId c + ".json"))) |> List.length |> int64)
            for p, err in procs do
                p.WaitForExit()
                if p.ExitCode <> 0 then failwithf "a worker process failed (exit %d): %s" p.ExitCode (err.Result.Trim())
                p.Dispose()
        finally
            Directory.Delete(inputs, true)
    | _ ->
        TorchRuntime.EnsureLoaded() |> ignore
        torch.set_num_threads (max 1 Environment.ProcessorCount)
        let finished = ref 0L
        runSequential folder todo (fun () -> progress.Report(Interlocked.Increment finished))
    progress.Done()
    let byId = Seq.append existing.Values (todo |> List.choose (fun c -> tryLoad (Path.Combine(folder, runId c + ".json")))) |> Seq.map (fun r -> r.Id, r) |> dict
    selected |> List.map (fun c ->
        match byId.TryGetValue(runId c) with
        | true, r -> r
        | _ -> failwithf "run %s (%s, %s, seed %d) produced no record" (runId c) (datasetLabel c) (lossLabel c) c.Seed)
