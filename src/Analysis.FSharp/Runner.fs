/// Runs experiment configs: builds data, model and loss from a typed RunConfig, trains with the C#
/// trainer, and stores one JSON file per run (atomically) so an interrupted sweep resumes where it stopped.
/// Sweeps run in parallel worker processes and can be sharded across machines.
module Analysis.Runner

open System
open System.Collections.Generic
open System.Diagnostics
open System.IO
open System.Text.Json
open System.Threading
open TorchSharp
open FocalLoss
open FocalLoss.Data
open FocalLoss.Infrastructure
open FocalLoss.Metrics
open FocalLoss.Training
open Analysis.Config
open Analysis.Data

/// One point of a curve.
type Point = { X: float; Y: float }

/// One bin of a reliability diagram: mean predicted probability, fraction of positives, samples in the bin.
type Bin = { MeanScore: float; Fraction: float; Count: int }

/// Everything a run produced. A diverged run's metrics are those of the weights it kept (the last finite ones).
type RunRecord =
    { Id: string
      Config: RunConfig
      /// The files the run read, with their content hashes (part of the id).
      Inputs: InputFile list
      /// The task, read from the training labels.
      Task: Task
      Device: string
      Diverged: bool
      /// Step at which the loss or a gradient became non-finite, -1 if it never did.
      DivergedAtStep: int64
      Steps: int64
      Seconds: float
      /// Test metrics of the final weights (binary: average_precision, roc_auc, ...; multi-class: top1, macro_f1, ...).
      Metrics: Map<string, float>
      /// Mean training loss per epoch.
      TrainLoss: float[]
      /// The primary metric (AP or macro-F1) on the test set after each epoch.
      TestCurve: float[]
      /// Every test metric after each epoch (index 0 = epoch 1): an early checkpoint and the converged model
      /// recorded from the same run. Importance-weighted where the test set carries weights.
      EpochMetrics: Map<string, float>[]
      /// Precision-recall curve on the test set (binary; at most 200 points).
      PrCurve: Point[]
      /// Reliability diagram on the test set (binary), 15 equal-width bins (empty bins left out).
      Reliability: Bin[]
      /// The temperature fitted on the calibration slice (NaN when the run diverged).
      Temperature: float
      /// How the temperature was found: Converged, or why it is a bound (Separable, Uninformative, ...).
      TemperatureFit: string
      /// The code that produced the run: git commit and whether tracked or untracked files differed from it.
      Code: string
      /// The final weights of linear and logistic models by parameter name (e.g. "fc.weight", "fc.bias"),
      /// flattened; empty for the larger models.
      Parameters: Map<string, float[]> }

/// The metric curves are about: average precision (binary), macro-F1 (multi-class) or mean average precision (multi-label).
let primaryMetric (task: Task) =
    match task with
    | Binary -> "average_precision"
    | MultiClass _ -> "macro_f1"
    | MultiLabel _ -> "mean_average_precision"

/// The C# model for a config (binary tasks get one output, multi-class ones one per class), its output
/// bias set as the config says (after the default initialisation, so the other weights are the same).
let createModel (model: Model) (bias: OutputBias) (inputs: int) (outputs: int) : unit -> torch.nn.Module<torch.Tensor, torch.Tensor> =
    fun () ->
        let m =
            match model with
            | Linear -> new FocalLoss.Models.LinearNet(inputs) :> torch.nn.Module<torch.Tensor, torch.Tensor>
            | Logistic -> new FocalLoss.Models.LogisticRegression(inputs, outputs)
            | Mlp hidden -> new FocalLoss.Models.Mlp(inputs, outputs, Array.ofList hidden)
            | Cnn -> new FocalLoss.Models.DigitCnn(outputs)
        match bias with
        | DefaultBias -> ()
        | ZeroBias -> FocalLoss.Models.OutputBias.Set(m, 0.0) |> ignore
        | PriorBias p -> FocalLoss.Models.OutputBias.Set(m, FocalLoss.Models.OutputBias.ForPrior p) |> ignore
        m

/// The C# trainer settings of a config: every field of the run reaches the trainer.
let trainerConfig (c: RunConfig) =
    let optimizer, lr, momentum =
        match c.Optimizer with
        | Sgd(lr, m) -> OptimizerKind.Sgd, lr, Nullable m
        | Adam lr -> OptimizerKind.Adam, lr, Nullable()
    TrainerConfig(Device = Device.text c.Device, Optimizer = optimizer, LearningRate = lr, Momentum = momentum,
                  BatchSize = c.BatchSize, Epochs = c.Epochs, Seed = int64 c.Seed, Progress = false,
                  Reduction =
                      (match c.Reduction with
                       | BatchMean -> FocalLoss.Training.BatchReduction.Mean
                       | BatchSum -> FocalLoss.Training.BatchReduction.Sum
                       | BatchSumOverPositives -> FocalLoss.Training.BatchReduction.SumOverPositives))

let private downsample (maxPoints: int) (points: Point[]) =
    if points.Length <= maxPoints then points
    else Array.init maxPoints (fun i -> points[int (float i * float (points.Length - 1) / float (maxPoints - 1))])

/// Metrics of temperature-scaled probabilities on the test set, keyed with a "_recal" suffix: the
/// calibration metrics the reports compare before and after (binary: ece15, brier, log_loss;
/// multi-class: top_label_ece15, classwise_ece15; multi-label: slot_ece15, slot_brier, slot_log_loss).
let recalibratedMetrics (task: Task) (temperature: float) (testLogits: torch.Tensor) (labels: int[]) (weights: float[] option) =
    use scaled = testLogits / temperature
    match task with
    | Binary ->
        use probs = scaled.sigmoid()
        let scores = ReadOnlySpan(probs.data<float>().ToArray())
        let report = match weights with Some w -> BinaryMetrics.Evaluate(scores, ReadOnlySpan labels, ReadOnlySpan w) | None -> BinaryMetrics.Evaluate(scores, ReadOnlySpan labels)
        let values = report.Values()
        [ for kv in values do if kv.Key = "ece15" || kv.Key = "brier" || kv.Key = "log_loss" then kv.Key + "_recal", kv.Value ]
    | MultiClass k ->
        use probs = torch.nn.functional.softmax(scaled, 1L)
        let values = MultiClassMetrics.Evaluate(ReadOnlySpan(probs.data<float>().ToArray()), ReadOnlySpan labels, k).Values()
        [ for kv in values do if kv.Key = "top_label_ece15" || kv.Key = "classwise_ece15" then kv.Key + "_recal", kv.Value ]
    | MultiLabel k ->
        use probs = scaled.sigmoid()
        let values = MultiLabelMetrics.Evaluate(ReadOnlySpan(probs.data<float>().ToArray()), ReadOnlySpan labels, k).Values()
        [ for kv in values do if kv.Key = "slot_ece15" || kv.Key = "slot_brier" || kv.Key = "slot_log_loss" then kv.Key + "_recal", kv.Value ]

/// Labels of a dataset as host integers (0/1 or class ids; multi-label [N, C] labels row-major).
let labelsOf (data: TensorDataset) =
    use labels = data.Labels.to_type(torch.ScalarType.Int32).cpu()
    labels.data<int>().ToArray()

/// The code this process runs, read once: "<commit> (clean)" or "<commit> (dirty: ...)".
let codeVersion = lazy (let p = Provenance.read repoRoot in $"{p.Commit} ({p.Dirty})")

/// Trains one config and returns its record (a diverged run is a record, not an exception). The model
/// trains on the training split without its calibration slice; after training, a temperature is fitted
/// on that slice and the test set is scored again with it, and every further test set is scored.
let runOne (c: RunConfig) : RunRecord =
    let inputs = inputFiles repoRoot c
    use data = buildRun c.Dataset (c.Model = Cnn) c.Recalibration c.Seed
    let loss = Loss.create c.Loss
    use _ = { new IDisposable with member _.Dispose() = match box loss with :? IDisposable as d -> d.Dispose() | _ -> () }
    let task = taskOf data.Train
    let outputs = match task with Binary -> 1 | MultiClass k | MultiLabel k -> k
    let curve = List<float>()
    let epochMetrics = List<Map<string, float>>()
    let primary = primaryMetric task
    let struct (model, result) =
        Trainer.Run(createModel c.Model c.OutputBias (int data.Train.FeatureCount) outputs, loss, data.Train, data.Test, trainerConfig c,
                    fun e ->
                        curve.Add(match e.Metrics.TryGetValue primary with | true, v -> v | _ -> nan)
                        epochMetrics.Add(e.Metrics |> Seq.map (fun kv -> kv.Key, kv.Value) |> Map.ofSeq))
    use model = model
    let testLabels = labelsOf data.Test
    let testWeights = data.Test.Weights |> Option.ofObj |> Option.map (fun w -> use cpu = w.cpu() in cpu.data<float>().ToArray())
    let pr, reliability, (temperature, temperatureFit), recalibrated, extra =
        if result.Diverged then [||], [||], (nan, "not fitted (diverged)"), [], []
        else
            use testLogits = Trainer.PredictLogits(model, data.Test)
            let temperature, fitText =
                match data.Calibration with
                | None -> nan, "not fitted (no calibration slice)"
                | Some calibration ->
                    use calibrationLogits = Trainer.PredictLogits(model, calibration)
                    let calibrationScores = ReadOnlySpan(calibrationLogits.data<float>().ToArray())
                    let calibrationLabels = ReadOnlySpan(labelsOf calibration)
                    let fit =
                        match task with
                        // Multi-label: one temperature for every label, fitted on the pooled slots.
                        | Binary | MultiLabel _ -> Calibration.FitTemperature(calibrationScores, calibrationLabels)
                        | MultiClass k -> Calibration.FitTemperature(calibrationScores, calibrationLabels, k)
                    fit.Temperature, $"{fit.Status}" + (if fit.SingleClass then " (one class in the calibration slice)" else "")
            // A temperature at a bound of its search (separable or uninformative calibration data) is no fit:
            // the run then has no recalibrated metrics rather than extreme ones.
            let recalibrated =
                if Double.IsNaN temperature || not (fitText.StartsWith(string TemperatureFitStatus.Converged)) then []
                else recalibratedMetrics task temperature testLogits testLabels testWeights
            let extra =
                [ for name, set in data.ExtraTests do
                    for kv in Trainer.Evaluate(model, set) -> $"{name}.{kv.Key}", kv.Value ]
            match task with
            | Binary | MultiLabel _ ->
                // Multi-label: the curve and bins of all label slots pooled (the micro-averaged PR curve).
                use probs = testLogits.sigmoid()
                let scores = probs.data<float>().ToArray()
                // Weighted test sets (a stratified sample standing for the full prevalence): weighted curves, and
                // each bin's count is its weight, rounded.
                let struct (recall, precision, _), struct (meanScore, fraction, count) =
                    match testWeights with
                    | Some w ->
                        let struct (m, f, bw) = BinaryMetrics.ReliabilityBins(ReadOnlySpan scores, ReadOnlySpan testLabels, ReadOnlySpan w)
                        BinaryMetrics.PrecisionRecallCurve(ReadOnlySpan scores, ReadOnlySpan testLabels, ReadOnlySpan w), struct (m, f, bw |> Array.map (fun v -> int (Math.Round v)))
                    | None -> BinaryMetrics.PrecisionRecallCurve(ReadOnlySpan scores, ReadOnlySpan testLabels), BinaryMetrics.ReliabilityBins(ReadOnlySpan scores, ReadOnlySpan testLabels)
                Array.map2 (fun r p -> { X = r; Y = p }) recall precision |> downsample 200,
                Array.init meanScore.Length (fun i -> { MeanScore = meanScore[i]; Fraction = fraction[i]; Count = count[i] }),
                (temperature, fitText), recalibrated, extra
            | MultiClass _ -> [||], [||], (temperature, fitText), recalibrated, extra
    let parameters =
        match c.Model with
        | Linear | Logistic ->
            model.named_parameters()
            |> Seq.map (fun struct (name, p) ->
                use values = p.detach().to_type(torch.ScalarType.Float64).cpu().flatten()
                name, values.data<float>().ToArray())
            |> Map.ofSeq
        | Mlp _ | Cnn -> Map.empty
    { Id = runIdWith repoRoot c
      Config = c
      Inputs = inputs
      Task = task
      Device = result.Device
      Diverged = result.Diverged
      DivergedAtStep = (if result.DivergedAtStep.HasValue then result.DivergedAtStep.Value else -1L)
      Steps = result.Steps
      Seconds = result.Seconds
      Metrics = Seq.append (result.FinalMetrics |> Seq.map (fun kv -> kv.Key, kv.Value)) (recalibrated @ extra) |> Map.ofSeq
      TrainLoss = result.Epochs |> Seq.map _.TrainLoss |> Array.ofSeq
      TestCurve = curve.ToArray()
      EpochMetrics = epochMetrics.ToArray()
      PrCurve = pr
      Reliability = reliability
      Temperature = temperature
      TemperatureFit = temperatureFit
      Code = codeVersion.Value
      Parameters = parameters }

/// The folder of an experiment's run files: results/<experiment>/runs under <paramref name="resultsRoot"/>.
let runsFolder (resultsRoot: string) (experiment: string) = Path.Combine(resultsRoot, experiment, "runs")

/// Writes a record to runs/<id>.json through a temporary file and a rename.
let save (folder: string) (record: RunRecord) =
    AtomicFile.WriteAllText(Path.Combine(folder, record.Id + ".json"), JsonSerializer.Serialize(record, jsonOptionsIndented))

/// Reads a run file; None for a file that is not a complete record of the current format (it is then rerun).
let tryLoad (path: string) : RunRecord option =
    if not (File.Exists path) then None
    else
    try
        match JsonSerializer.Deserialize<RunRecord>(File.ReadAllText path, jsonOptions) with
        | null -> None
        | r when isNull (box r.Config) || isNull (box r.Metrics) || isNull (box r.EpochMetrics) -> None
        | r when r.Id <> nonNull (Path.GetFileNameWithoutExtension(path: string)) -> None
        | r -> Some r
    with
    | :? JsonException
    | :? NotSupportedException
    | :? InvalidOperationException -> None

/// The .json files of a runs folder that are not complete records (truncated, another format, renamed).
let incompleteFiles (folder: string) =
    if not (Directory.Exists folder) then []
    else Directory.GetFiles(folder, "*.json") |> Array.sort |> Array.filter (fun f -> (tryLoad f).IsNone) |> List.ofArray

/// Every complete record in a runs folder.
let loadAll (folder: string) : RunRecord list =
    if not (Directory.Exists folder) then []
    else Directory.GetFiles(folder, "*.json") |> Array.sort |> Array.choose tryLoad |> List.ofArray

/// Parses "k/n" (1 <= k <= n): this machine runs the k-th of n deterministic slices of the grid.
let parseShard (text: string) =
    let fail () = invalidArg "shard" $"--shard must be k/n with 1 <= k <= n, got '{text}'"
    match text.Split '/' with
    | [| k; n |] ->
        match Int32.TryParse k, Int32.TryParse n with
        | (true, k), (true, n) when n >= 1 && k >= 1 && k <= n -> k, n
        | _ -> fail ()
    | _ -> fail ()

/// The k-th of n slices: configs sorted by id, every n-th from position k-1. The n slices partition the grid.
let shard (k: int, n: int) (configs: RunConfig list) =
    configs |> List.distinctBy runId |> List.sortBy runId |> List.indexed |> List.filter (fun (i, _) -> i % n = k - 1) |> List.map snd

/// Copies every complete run file of the source folders into the target folder (the merge step after a
/// sharded sweep); returns how many runs the target then holds. Identical ids are the same run.
let merge (sources: string list) (target: string) =
    let found = sources |> List.sumBy (fun s -> (loadAll s).Length)
    if found > 0 then Directory.CreateDirectory target |> ignore
    for source in sources do
        for record in loadAll source do
            let path = Path.Combine(target, record.Id + ".json")
            if not (File.Exists path) then save target record
    (loadAll target).Length

/// How a sweep runs.
type SweepOptions =
    { /// Parallel worker processes (default: processor count); torch's intra-op threads are divided among them.
      Workers: int
      /// Optional k/n slice of the grid.
      Shard: (int * int) option
      /// Root of the results tree (default: <repo>/results).
      ResultsRoot: string
      /// Progress line on stderr (never when stderr is redirected).
      Progress: bool
      /// The program the workers run: by default this assembly, which is also a program; a script whose
      /// losses are defined in it serves as its own worker (Experiment.serveAsWorker).
      Worker: WorkerProgram }

/// What a sweep's worker processes run.
and WorkerProgram =
    /// `dotnet <assembly> worker --runs ... --threads ...`.
    | Library of assembly: string
    /// `dotnet fsi --quiet <script> worker --runs ... --threads ...`: the script registers its losses, then
    /// calls Experiment.serveAsWorker, which runs the configs it is given on stdin and exits.
    | Script of path: string

let defaultSweep =
    { Workers = Environment.ProcessorCount; Shard = None; ResultsRoot = Path.Combine(repoRoot, "results"); Progress = true
      Worker = Library typeof<RunConfig>.Assembly.Location }

/// Checks a worker program and returns the command that starts one (program and arguments before the
/// worker's own): the assembly and the runtimeconfig beside it that `dotnet` needs, or the script.
let workerCommand (worker: WorkerProgram) =
    match worker with
    | Library assembly ->
        let runtimeConfig = Path.ChangeExtension(assembly, ".runtimeconfig.json")
        if not (File.Exists assembly) then Error $"the worker host {assembly} does not exist (build src/Analysis.FSharp: dotnet build -c Release)"
        elif not (File.Exists runtimeConfig) then Error $"the worker host {assembly} has no {Path.GetFileName runtimeConfig} beside it (build src/Analysis.FSharp: dotnet build -c Release)"
        else Ok [ assembly; "worker" ]
    | Script path ->
        if File.Exists path then Ok [ "fsi"; "--quiet"; path; "worker" ]
        else Error $"the worker script {path} does not exist"

/// Runs configs one after another in this process, saving each record that is not there yet.
let runSequential (folder: string) (configs: RunConfig list) (onDone: unit -> unit) =
    for c in configs do
        if (tryLoad (Path.Combine(folder, runId c + ".json"))).IsNone then   // missing or not a complete record
            save folder (runOne c)
        onDone ()

[<System.Runtime.InteropServices.DllImport("libc", EntryPoint = "getppid")>]
extern int private getppid()

/// This process's parent (Linux; 0 elsewhere). When it changes, the parent has died and this process was
/// handed to another one.
let parentProcessId () = if OperatingSystem.IsLinux() then getppid () else 0

/// Removes temporary files that a killed process left in a runs folder (their names carry the writer's PID).
let removeStaleTemporaries (folder: string) =
    let alive (pid: int) =
        try
            use p = Process.GetProcessById pid
            not p.HasExited
        with :? ArgumentException -> false
    for temp in Directory.GetFiles(folder, ".*.tmp") do
        let m = Text.RegularExpressions.Regex.Match(Path.GetFileName(temp: string) |> nonNull, @"\.(\d+)\.[0-9a-f]{32}\.tmp$")
        if m.Success && not (alive (int m.Groups[1].Value)) then File.Delete temp

/// The worker loop (`Analysis.FSharp.dll worker`): reads one line of JSON configs from stdin, then watches
/// stdin in the background: the parent holds its end open for the worker's whole life, so end-of-file
/// means the parent is gone (even after kill -9) and the worker exits at once instead of running on.
let worker (folder: string) (threads: int) =
    TorchRuntime.EnsureLoaded() |> ignore
    torch.set_num_threads threads
    match Console.In.ReadLine() with
    | null -> 3
    | line ->
        let configs = JsonSerializer.Deserialize<RunConfig[]>(line, jsonOptions) |> nonNull |> List.ofArray
        let watch = Thread((fun () ->
            while Console.In.Read() >= 0 do ()
            eprintfn "worker %d: the sweep process is gone (stdin closed); stopping" Environment.ProcessId
            exit 3), IsBackground = true)
        watch.Start()
        runSequential folder configs ignore
        0

/// Runs the configs that have no complete record yet (resume) and returns every record of the (sharded)
/// grid, finished earlier or now. Validates every config before the first run starts. Runs go to
/// `Workers` worker processes, each with cores / workers torch threads: TorchSharp 0.107 is not safe to
/// train from several threads of one process (its implicitly created Scalars can be finalised by a GC that
/// another thread triggers while native code still uses them), so parallel runs are separate processes.
/// One worker runs in this process when it has concurrent GC off (TorchSharp's implicit Scalars can be
/// finalised by a background GC while native code reads them). A worker that fails stops the others.
let sweep (options: SweepOptions) (configs: RunConfig list) : RunRecord list =
    if options.Workers < 1 then invalidArg "Workers" $"Workers must be >= 1, got {options.Workers}"
    match options.Shard with
    | Some(k, n) when not (n >= 1 && k >= 1 && k <= n) -> invalidArg "Shard" $"Shard must be k/n with 1 <= k <= n, got {k}/{n}"
    | _ -> ()
    if configs.IsEmpty then invalidArg "configs" "configs must not be empty: a sweep needs at least one run"
    validateAll configs
    let experiments = configs |> List.map _.Experiment |> List.distinct
    if experiments.Length > 1 then
        let names = String.Join(", ", experiments)
        invalidArg "configs" $"one sweep writes one experiment, got {names}"
    let selected = match options.Shard with Some s -> shard s configs | None -> configs |> List.distinctBy runId
    let folder = runsFolder options.ResultsRoot (List.head experiments)
    if File.Exists options.ResultsRoot then invalidArg "ResultsRoot" $"ResultsRoot must be a folder, got the file '{options.ResultsRoot}'"
    if options.Workers > 1 && selected.Length > 1 then
        match workerCommand options.Worker with
        | Error e -> invalidOp $"cannot start {min options.Workers selected.Length} worker processes: {e}"
        | Ok _ -> ()
    match options.Worker, configs |> List.tryPick (fun c -> match c.Loss with Custom(name, _) -> Some name | _ -> None) with
    | Library _, Some name ->
        invalidArg "configs" $"the loss '{name}' is defined in a script: its worker processes must be that script (Runner.SweepOptions.Worker = Script path; Experiment.serveAsWorker in the script)"
    | _ -> ()
    Directory.CreateDirectory folder |> ignore
    removeStaleTemporaries folder
    let existing = loadAll folder |> List.map (fun r -> r.Id, r) |> Map.ofList
    let todo = selected |> List.filter (fun c -> not (existing.ContainsKey(runId c)))
    let todoFiles = todo |> List.map (fun c -> Path.Combine(folder, runId c + ".json"))
    let workers = min options.Workers (max 1 todo.Length)
    let threads = max 1 (Environment.ProcessorCount / workers)
    let progress = ProgressBar($"{List.head experiments}: runs", int64 todo.Length, options.Progress)
    // Train in this process only when it runs without concurrent GC (the workbench's own programs, see
    // Directory.Build.props); a dotnet fsi host has it on, so even one worker is a separate process there.
    let concurrentGcOff =
        match AppContext.GetData "System.GC.Concurrent" with
        | :? string as v -> v.Equals("false", StringComparison.OrdinalIgnoreCase)
        | :? bool as v -> not v
        | _ -> false
    let inProcess = workers = 1 && concurrentGcOff && (match options.Worker with Library _ -> true | Script _ -> false)
    if not inProcess && not todo.IsEmpty then
        let command = match workerCommand options.Worker with Ok c -> c | Error e -> invalidOp $"cannot start {workers} worker processes: {e}"
        let procs =
            [ for w in 0 .. workers - 1 ->
                let mine = todo |> List.indexed |> List.filter (fun (i, _) -> i % workers = w) |> List.map snd |> Array.ofList
                let info = ProcessStartInfo("dotnet", command @ [ "--runs"; folder; "--threads"; string threads ],
                                            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true)
                let proc = Process.Start info |> nonNull
                proc.StandardInput.WriteLine(JsonSerializer.Serialize(mine, jsonOptions))
                proc.StandardInput.Flush()   // stdin stays open: closing it (or dying) tells the worker to stop
                let err = proc.StandardError.ReadToEndAsync()
                proc.StandardOutput.ReadToEndAsync() |> ignore
                proc, err ]
        try
            let failed () = procs |> List.tryFind (fun (p, _) -> p.HasExited && p.ExitCode <> 0)
            let parent = parentProcessId ()
            let orphaned () = parent > 1 && parentProcessId () <> parent
            while procs |> List.exists (fun (p, _) -> not p.HasExited) && (failed ()).IsNone && not (orphaned ()) do
                Thread.Sleep 250
                progress.Report(todoFiles |> List.filter File.Exists |> List.length |> int64)
            if orphaned () then
                // The process that started this one (e.g. the `dotnet fsi` launcher) is gone: stop, as the
                // workers would if this process were killed.
                eprintfn "the process that started this sweep (pid %d) is gone; stopping the workers" parent
                for p, _ in procs do (if not p.HasExited then p.Kill true)
                exit 137
            match failed () with
            | Some(p, err) -> failwithf "a worker process failed (exit %d); the other workers were stopped: %s" p.ExitCode (err.Result.Trim())
            | None -> ()
        finally
            for p, _ in procs do
                if not p.HasExited then p.Kill true
                p.WaitForExit()
                p.Dispose()
    else
        TorchRuntime.EnsureLoaded() |> ignore
        torch.set_num_threads threads
        let finished = ref 0L
        runSequential folder todo (fun () -> progress.Report(Interlocked.Increment finished))
    progress.Done()
    let byId = Seq.append existing.Values (todoFiles |> List.choose tryLoad) |> Seq.map (fun r -> r.Id, r) |> dict
    selected |> List.map (fun c ->
        match byId.TryGetValue(runId c) with
        | true, r -> r
        | _ -> failwithf "run %s (%s, %s, seed %d) produced no record" (runId c) (taskLabel c) (lossLabel c) c.Seed)
