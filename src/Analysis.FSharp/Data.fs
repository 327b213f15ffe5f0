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

/// Images per class in the class-balanced test set of the long-tailed digits task (Cui et al. 2019).
let balancedTestPerClass = 100

/// The class-balanced digits held out before the long-tailed split is drawn from the rest.
let private balancedDigits (images: bool) (seed: int) =
    let struct (data, used) = DigitTasks.BalancedSample(digits.Value, balancedTestPerClass, int64 seed, not images)
    data, used

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
    | DenseDiscs(rate, hard, testHard, testEasy) ->
        FocalLoss.Data.DenseDiscs.Train(rate, seed64, hard), FocalLoss.Data.DenseDiscs.Test(rate, testSeed, testHard, testEasy)
    | MnistOneVsRest(digit, rate) -> split (DigitTasks.OneVsRest(digits.Value, digit, rate, seed64, not images))
    | MnistLongTailed ratio ->
        let balanced, used = balancedDigits images seed
        balanced.Dispose()
        split (DigitTasks.LongTailed(digits.Value, ratio, seed64, not images, null, used))
    | MultiLabelLinear(s, k, f, rate) ->
        Synthetic.MultiLabel(s.Train, k, rate, seed64, f, taskSeed = seed64), Synthetic.MultiLabel(s.Test, k, rate, testSeed, f, taskSeed = seed64)
    | MnistPairs(s, maxDigits) ->
        let struct (trainPool, testPool) = DigitTasks.DisjointSources(digits.Value, testFraction, seed64)
        DigitTasks.Pairs(digits.Value, s.Train, seed64, maxDigits, not images, null, trainPool),
        DigitTasks.Pairs(digits.Value, s.Test, testSeed, maxDigits, not images, null, testPool)
    | Csv(path, label) ->
        let train, test = split (CsvTable.Load(path, label).ToDataset())
        use train = train
        use test = test
        let scaler = Standardizer.Fit train
        scaler.Transform train, scaler.Transform test

/// Further test sets a dataset is scored on, by name: the long-tailed digits are also scored on a
/// class-balanced test set drawn before the long-tailed split, so no image is in both.
let extraTests (dataset: Dataset) (images: bool) (seed: int) : (string * TensorDataset) list =
    match dataset with
    | MnistLongTailed _ -> [ "balanced_test", fst (balancedDigits images seed) ]
    | _ -> []

/// The data of one run: what it trains on, the held-out calibration slice of the training split (if any),
/// the test set and any further test sets.
type RunData =
    { Train: TensorDataset
      Calibration: TensorDataset option
      Test: TensorDataset
      ExtraTests: (string * TensorDataset) list }
    interface IDisposable with
        member d.Dispose() =
            d.Train.Dispose(); d.Calibration |> Option.iter _.Dispose(); d.Test.Dispose()
            for _, e in d.ExtraTests do e.Dispose()

/// Builds a run's data: the dataset's train and test sets, with a stratified slice of the training set
/// held out for temperature scaling when the config asks for one (seeded by the run's seed).
let buildRun (dataset: Dataset) (images: bool) (recalibration: Recalibration) (seed: int) =
    let all, test = build dataset images seed
    let train, calibration =
        match recalibration with
        | NoRecalibration -> all, None
        | TemperatureOnHeldOut fraction ->
            use all = all
            let struct (train, calibration) = Splits.Stratified(all, fraction, int64 seed + 7L)
            train, Some calibration
    { Train = train; Calibration = calibration; Test = test; ExtraTests = extraTests dataset images seed }

/// The task a dataset poses, read from its labels.
let taskOf (data: TensorDataset) =
    match data.Task with
    | LossTask.Binary -> Binary
    | LossTask.MultiLabel -> MultiLabel data.NumClasses
    | _ -> MultiClass data.NumClasses

let private factsCache = ConcurrentDictionary<string, Result<DataFacts, string>>()

/// What the data of a config shows, read from its seed-0 training and test sets (built once per dataset,
/// model input form and input content). A dataset that cannot be built gives its error.
let facts (c: RunConfig) : Result<DataFacts, string> =
    let images = (c.Model = Cnn)
    match (try Ok(inputFiles repoRoot c) with :? ArgumentException as e -> Error e.Message) with
    | Error e -> Error e
    | Ok inputs ->
    let key = Config.canonical { defaults with Dataset = c.Dataset; Model = (if images then Cnn else Logistic); Recalibration = c.Recalibration } + String.Join("|", inputs |> List.map _.Sha256)
    factsCache.GetOrAdd(key, fun _ ->
        try
            use data = buildRun c.Dataset images c.Recalibration 0
            let counts (d: TensorDataset) = d.ClassCounts() |> List.ofArray
            let noise =
                match c.Dataset with
                | Line(_, _, n) | Gaussian(_, _, _, n) when n > 0.0 ->
                    // The clean twin: the same generator and seed without noise has the same features.
                    let clean = match c.Dataset with Line(s, r, _) -> Line(s, r, 0.0) | Gaussian(s, f, r, _) -> Gaussian(s, f, r, 0.0) | d -> d
                    let noisyTrain, noisyTest = build c.Dataset images 0
                    let cleanTrain, cleanTest = build clean images 0
                    use noisyTrain = noisyTrain
                    use noisyTest = noisyTest
                    use cleanTrain = cleanTrain
                    use cleanTest = cleanTest
                    let host (d: TensorDataset) =
                        use l = d.Labels.to_type(TorchSharp.torch.ScalarType.Int64).cpu()
                        l.data<int64>().ToArray()
                    let clean, noisy = host cleanTrain, host noisyTrain
                    let lost = Array.fold2 (fun n c y -> if c = 1L && y = 0L then n + 1 else n) 0 clean noisy
                    let gained = Array.fold2 (fun n c y -> if c = 0L && y = 1L then n + 1 else n) 0 clean noisy
                    let testFlips = Array.fold2 (fun n c y -> if c <> y then n + 1 else n) 0 (host cleanTest) (host noisyTest)
                    let positives = clean |> Array.sumBy int
                    let labelled = noisy |> Array.sumBy int
                    Some $"{n * 100.0:G3} %% of training labels flipped, test labels clean ({testFlips} test labels differ from the clean twin): of {positives} true training positives {lost} became negatives, and {gained} of {clean.Length - positives} negatives became positives, so {labelled} training labels say positive, {gained} of them wrongly (seed 0, before the calibration slice is held out)"
                | _ -> None
            Ok { Task = taskOf data.Train; FeatureShape = List.ofArray data.Train.Features.shape |> List.tail
                 TrainCount = data.Train.Count; TestCount = data.Test.Count
                 Splits =
                    [ yield "train", data.Train.Count, counts data.Train
                      match data.Calibration with
                      | Some cal -> yield "calibration", cal.Count, counts cal
                      | None -> ()
                      yield "test", data.Test.Count, counts data.Test
                      for name, e in data.ExtraTests -> name, e.Count, counts e ]
                 Noise = noise }
        with
        | :? ArgumentException as e -> Error e.Message
        | :? InvalidDataException as e -> Error e.Message
        | :? IOException as e -> Error e.Message)

/// Every problem of every config (its own values, then against its data), each naming the run.
let allProblems (configs: RunConfig seq) =
    let configs = List.ofSeq configs
    // A device that is not there is one problem, not one per run.
    let devices =
        configs |> List.map _.Device |> List.distinct
        |> List.choose (fun d ->
            try Infrastructure.Devices.Resolve(Device.text d) |> ignore; None
            with :? ArgumentException as e -> Some e.Message)
    if not devices.IsEmpty then devices
    else
    configs
    |> Seq.collect (fun c ->
        let own = problems c
        let data =
            if not own.IsEmpty then []
            else
                match facts c with
                | Ok f -> dataProblems f c
                | Error message -> [ $"Dataset {Dataset.label c.Dataset} cannot be read: {message}" ]
        own @ data |> List.map (fun p -> $"{Loss.label c.Loss} on {Dataset.label c.Dataset} (seed {c.Seed}): {p}"))
    |> Seq.distinct
    |> List.ofSeq

/// Raises ArgumentException listing every problem of every config, before any run starts.
let validateAll (configs: RunConfig seq) =
    let all = allProblems configs
    if not all.IsEmpty then
        raise (ArgumentException($"{all.Length} invalid setting(s):{Environment.NewLine}  " + String.Join(Environment.NewLine + "  ", all)))
