/// Builds the data of a config and reads from it the facts that validation needs (task, class count,
/// feature shape), so that the task is derived from the data and every problem is found before any run.
module Analysis.Data

open System
open System.Collections.Concurrent
open System.IO
open FocalLoss
open FocalLoss.Data
open Analysis.Config

/// The repository root (the folder holding Workbench.sln), found from this assembly's location.
let repoRoot =
    let rec up (dir: DirectoryInfo | null) =
        match dir with
        | null -> Directory.GetCurrentDirectory()
        | d when File.Exists(Path.Combine(d.FullName, "Workbench.sln")) -> d.FullName
        | d -> up d.Parent
    up (DirectoryInfo(Path.GetDirectoryName(typeof<RunConfig>.Assembly.Location) |> nonNull))

/// A run's id: a hash of the whole config and of the content of every file it reads.
let runId (c: RunConfig) = runIdWith repoRoot c

/// The id of the run's setting with the seed left out: runs that differ only by seed share it.
let settingId (c: RunConfig) = runId { c with Seed = 0 }

/// The 10k real digits shipped in data/mnist-10k, read once.
let digits =
    lazy
        (match Dataset.inputs repoRoot (MnistLongTailed 1.0) with
         | [ images; labels ] -> Idx.Load(images, labels)
         | other -> failwithf "unexpected MNIST inputs %A" other)

/// The fraction of a real dataset held out for testing (stratified, per seed).
let testFraction = 0.3

/// Builds the train and test sets of a dataset for a seed (the same seed gives the same data to every
/// loss). `images` keeps digits as [N, 1, 28, 28] for the CNN instead of flattening them.
let build (dataset: Dataset) (images: bool) (seed: int) : TensorDataset * TensorDataset =
    TorchRuntime.EnsureLoaded() |> ignore
    let seed64 = int64 seed
    let testSeed = seed64 + 1_000_000L
    let split (all: TensorDataset) =
        use all = all
        let struct (train, test) = Splits.Stratified(all, testFraction, seed64)
        train, test
    match dataset with
    | SeedLine s -> Synthetic.SeedLine(s.Train, seed64), Synthetic.SeedLine(s.Test, testSeed)
    | Line(s, rate, noise) -> Synthetic.ImbalancedLine(s.Train, rate, seed64, noise), Synthetic.ImbalancedLine(s.Test, rate, testSeed)
    | Gaussian(s, features, rate, noise) ->
        Synthetic.ImbalancedGaussian(s.Train, rate, seed64, features, 2.0, noise), Synthetic.ImbalancedGaussian(s.Test, rate, testSeed, features)
    | DenseEasyNegatives(s, rate) -> Synthetic.DenseEasyNegatives(s.Train, rate, seed64), Synthetic.DenseEasyNegatives(s.Test, rate, testSeed)
    | MnistOneVsRest(digit, rate) -> split (DigitTasks.OneVsRest(digits.Value, digit, rate, seed64, not images))
    | MnistLongTailed ratio -> split (DigitTasks.LongTailed(digits.Value, ratio, seed64, not images))
    | Csv(path, label) ->
        let train, test = split (CsvTable.Load(path, label).ToDataset())
        use train = train
        use test = test
        let scaler = Standardizer.Fit train
        scaler.Transform train, scaler.Transform test

/// The task a dataset poses, read from its labels.
let taskOf (data: TensorDataset) =
    if data.Task = LossTask.Binary then Binary else MultiClass data.NumClasses

let private factsCache = ConcurrentDictionary<string, Result<DataFacts, string>>()

/// What the data of a config shows, read from its seed-0 training and test sets (built once per dataset,
/// model input form and input content). A dataset that cannot be built gives its error.
let facts (c: RunConfig) : Result<DataFacts, string> =
    let images = (c.Model = Cnn)
    let key = Config.canonical { defaults with Dataset = c.Dataset; Model = (if images then Cnn else Logistic) } + String.Join("|", inputFiles repoRoot c |> List.map _.Sha256)
    factsCache.GetOrAdd(key, fun _ ->
        try
            let train, test = build c.Dataset images 0
            use train = train
            use test = test
            Ok { Task = taskOf train; FeatureShape = List.ofArray train.Features.shape |> List.tail; TrainCount = train.Count; TestCount = test.Count }
        with
        | :? ArgumentException as e -> Error e.Message
        | :? InvalidDataException as e -> Error e.Message
        | :? IOException as e -> Error e.Message)

/// Every problem of every config (its own values, then against its data), each naming the run.
let allProblems (configs: RunConfig seq) =
    configs
    |> Seq.collect (fun c ->
        let own = problems c
        let data =
            if not own.IsEmpty then []
            else
                match facts c with
                | Ok f -> dataProblems f c
                | Error message -> [ $"Dataset {Dataset.label c.Dataset} cannot be read: {message}" ]
        let device =
            try Infrastructure.Devices.Resolve(Device.text c.Device) |> ignore; []
            with :? ArgumentException as e -> [ e.Message ]
        own @ data @ device |> List.map (fun p -> $"{Loss.label c.Loss} on {Dataset.label c.Dataset} (seed {c.Seed}): {p}"))
    |> Seq.distinct
    |> List.ofSeq

/// Raises ArgumentException listing every problem of every config, before any run starts.
let validateAll (configs: RunConfig seq) =
    let all = allProblems configs
    if not all.IsEmpty then
        raise (ArgumentException($"{all.Length} invalid setting(s):{Environment.NewLine}  " + String.Join(Environment.NewLine + "  ", all)))
