/// Experiment definitions: one immutable run configuration with commented defaults, validation that
/// names the field, a stable id (hash of the config), and grid helpers.
module Analysis.Config

open System
open System.Globalization
open System.Security.Cryptography
open System.Text

/// One training run. An experiment is a list of these, usually a grid (losses x alpha x gamma x dataset x seeds).
/// Alpha = -1 means "no class weighting" (torchvision's convention), and is what losses without alpha record.
type RunConfig =
    { /// Results go to results/<Experiment>/.
      Experiment: string
      /// seed-line | line | gaussian | dense-easy-negatives | mnist-one-vs-rest | mnist-long-tailed | csv
      Dataset: string
      /// Fraction of positives (line, gaussian, dense-easy-negatives, mnist-one-vs-rest).
      PositiveRate: float
      /// Fraction of training labels flipped (line, gaussian); test labels stay clean.
      LabelNoise: float
      /// Number of features (gaussian).
      Features: int
      /// Training samples (synthetic datasets).
      TrainCount: int
      /// Test samples (synthetic datasets); real data uses a 30 % stratified split instead.
      TestCount: int
      /// The positive digit (mnist-one-vs-rest).
      Digit: int
      /// Largest over smallest class count (mnist-long-tailed).
      ImbalanceRatio: float
      /// The file (csv).
      CsvPath: string
      /// The label column (csv).
      LabelColumn: string
      /// linear | logistic | mlp | cnn
      Model: string
      /// Hidden width of the mlp.
      Hidden: int
      /// A name from FocalLoss.Losses.Names.
      Loss: string
      /// Positive-class weight in [0, 1], or -1 for none.
      Alpha: float
      /// Focusing parameter >= 0 (0 for cross-entropy baselines).
      Gamma: float
      /// sgd | adam
      Optimizer: string
      LearningRate: float
      /// SGD momentum.
      Momentum: float
      Epochs: int
      BatchSize: int
      /// mean | sum (batch reduction of the loss)
      Reduction: string
      /// auto | cpu | cuda | cuda:N
      Device: string
      /// Seeds the data, the initialisation and the shuffling; runs that differ only in the loss share data.
      Seed: int }

/// The defaults every experiment overrides: a 2-D Gaussian task at 10 % positives, logistic regression,
/// focal loss with the paper's alpha 0.25 and gamma 2, Adam at 0.01 for 10 epochs of batch 64.
let defaults =
    { Experiment = "default"
      Dataset = "gaussian"
      PositiveRate = 0.1
      LabelNoise = 0.0
      Features = 2
      TrainCount = 4000
      TestCount = 4000
      Digit = 3
      ImbalanceRatio = 100.0
      CsvPath = ""
      LabelColumn = "label"
      Model = "logistic"
      Hidden = 32
      Loss = "sigmoid_focal"
      Alpha = 0.25
      Gamma = 2.0
      Optimizer = "adam"
      LearningRate = 0.01
      Momentum = 0.9
      Epochs = 10
      BatchSize = 64
      Reduction = "mean"
      Device = "auto"
      Seed = 0 }

let datasets = [ "seed-line"; "line"; "gaussian"; "dense-easy-negatives"; "mnist-one-vs-rest"; "mnist-long-tailed"; "csv" ]
let multiClassDatasets = [ "mnist-long-tailed" ]
let models = [ "linear"; "logistic"; "mlp"; "cnn" ]
let binaryLosses = [ "sigmoid_focal"; "focal_from_probabilities"; "bce"; "balanced_bce" ]
let multiClassLosses = [ "softmax_focal"; "cross_entropy" ]

let private num (v: float) = v.ToString("R", CultureInfo.InvariantCulture)

/// Every problem with a config, each naming its field, the expectation and the value.
let problems (c: RunConfig) : string list =
    let bad cond field expected (got: string) = if cond then [ $"{field} must be {expected}, got {got}" ] else []
    let knownLosses = binaryLosses @ multiClassLosses
    let segments = c.Experiment.Split('/')
    let badName = String.IsNullOrWhiteSpace c.Experiment || segments |> Array.exists (fun s -> s = "" || s = "." || s = ".." || s.IndexOfAny(IO.Path.GetInvalidFileNameChars()) >= 0)
    [ yield! bad badName "Experiment" "a relative folder name under results/ (names separated by /, no . or ..)" $"'{c.Experiment}'"
      yield! bad (not (List.contains c.Dataset datasets)) "Dataset" (String.Join(", ", datasets)) $"'{c.Dataset}'"
      yield! bad (not (c.PositiveRate > 0.0 && c.PositiveRate < 1.0)) "PositiveRate" "in (0, 1)" (num c.PositiveRate)
      yield! bad (not (c.LabelNoise >= 0.0 && c.LabelNoise < 0.5)) "LabelNoise" "in [0, 0.5)" (num c.LabelNoise)
      yield! bad (c.Features < 1) "Features" ">= 1" (string c.Features)
      yield! bad (c.TrainCount < 2) "TrainCount" ">= 2" (string c.TrainCount)
      yield! bad (c.TestCount < 2) "TestCount" ">= 2" (string c.TestCount)
      yield! bad (c.Digit < 0 || c.Digit > 9) "Digit" "in [0, 9]" (string c.Digit)
      yield! bad (not (c.ImbalanceRatio >= 1.0) || Double.IsInfinity c.ImbalanceRatio) "ImbalanceRatio" "finite and >= 1" (num c.ImbalanceRatio)
      yield! bad (c.Dataset = "csv" && not (IO.File.Exists c.CsvPath)) "CsvPath" "an existing file for dataset csv" $"'{c.CsvPath}'"
      yield! bad (c.Dataset = "csv" && String.IsNullOrWhiteSpace c.LabelColumn) "LabelColumn" "a column name for dataset csv" $"'{c.LabelColumn}'"
      yield! bad (not (List.contains c.Model models)) "Model" (String.Join(", ", models)) $"'{c.Model}'"
      yield! bad (c.Model = "cnn" && not (c.Dataset.StartsWith "mnist")) "Model" "used with an mnist dataset when it is cnn" $"'cnn' with '{c.Dataset}'"
      yield! bad (c.Model = "linear" && List.contains c.Dataset multiClassDatasets) "Model" "a multi-class model (not linear) for a multi-class dataset" $"'linear' with '{c.Dataset}'"
      yield! bad (c.Hidden < 1) "Hidden" ">= 1" (string c.Hidden)
      yield! bad (not (List.contains c.Loss knownLosses)) "Loss" (String.Join(", ", knownLosses)) $"'{c.Loss}'"
      yield! bad (List.contains c.Dataset multiClassDatasets && List.contains c.Loss binaryLosses) "Loss" "a multi-class loss (softmax_focal, cross_entropy) for a multi-class dataset" $"'{c.Loss}' with '{c.Dataset}'"
      yield! bad (not (List.contains c.Dataset multiClassDatasets) && List.contains c.Loss multiClassLosses && c.Dataset <> "csv") "Loss" "a binary loss for a binary dataset" $"'{c.Loss}' with '{c.Dataset}'"
      yield! bad (not (c.Alpha = -1.0 || (c.Alpha >= 0.0 && c.Alpha <= 1.0))) "Alpha" "in [0, 1] or -1 (none)" (num c.Alpha)
      yield! bad (not (c.Gamma >= 0.0) || Double.IsInfinity c.Gamma) "Gamma" "finite and >= 0" (num c.Gamma)
      yield! bad (c.Optimizer <> "sgd" && c.Optimizer <> "adam") "Optimizer" "sgd or adam" $"'{c.Optimizer}'"
      yield! bad (not (c.LearningRate > 0.0) || Double.IsInfinity c.LearningRate) "LearningRate" "finite and > 0" (num c.LearningRate)
      yield! bad (not (c.Momentum >= 0.0 && c.Momentum < 1.0)) "Momentum" "in [0, 1)" (num c.Momentum)
      yield! bad (c.Epochs < 1) "Epochs" ">= 1" (string c.Epochs)
      yield! bad (c.BatchSize < 1) "BatchSize" ">= 1" (string c.BatchSize)
      yield! bad (c.Reduction <> "mean" && c.Reduction <> "sum") "Reduction" "mean or sum" $"'{c.Reduction}'"
      yield! bad (not (c.Device = "auto" || c.Device = "cpu" || c.Device = "cuda" || c.Device.StartsWith "cuda:")) "Device" "auto, cpu, cuda or cuda:N" $"'{c.Device}'"
      yield! bad (c.Seed < 0) "Seed" ">= 0" (string c.Seed) ]

/// Raises ArgumentException listing every problem of every config, before any run starts.
let validateAll (configs: RunConfig seq) =
    let all = configs |> Seq.collect (fun c -> problems c |> List.map (fun p -> $"{c.Loss} on {c.Dataset} (seed {c.Seed}): {p}")) |> Seq.distinct |> List.ofSeq
    if not all.IsEmpty then
        raise (ArgumentException($"{all.Length} invalid setting(s):{Environment.NewLine}  " + String.Join(Environment.NewLine + "  ", all)))

/// The fields that define a run, as canonical text (invariant numbers, fixed order; the experiment name excluded).
let canonical (c: RunConfig) =
    String.Join("|",
        [ c.Dataset; num c.PositiveRate; num c.LabelNoise; string c.Features; string c.TrainCount; string c.TestCount
          string c.Digit; num c.ImbalanceRatio; c.CsvPath; c.LabelColumn; c.Model; string c.Hidden; c.Loss; num c.Alpha
          num c.Gamma; c.Optimizer; num c.LearningRate; num c.Momentum; string c.Epochs; string c.BatchSize; c.Reduction
          c.Device; string c.Seed ])

/// A run's id: the first 16 hex digits of the SHA-256 of its canonical text.
let runId (c: RunConfig) = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(canonical c))).Substring(0, 16)

/// The id of the run's configuration with the seed left out: runs that differ only by seed share it.
let settingId (c: RunConfig) = runId { c with Seed = 0 }

/// A short label for the task, e.g. "gaussian 2-D, 1 % positives".
let datasetLabel (c: RunConfig) =
    let pct = (c.PositiveRate * 100.0).ToString("0.###", CultureInfo.InvariantCulture)
    let noise = if c.LabelNoise > 0.0 then $", {c.LabelNoise * 100.0:F0} %% noise" else ""
    match c.Dataset with
    | "seed-line" -> "seed line (1 feature)"
    | "line" -> $"line (1 feature), {pct} %% positives{noise}"
    | "gaussian" -> $"gaussian {c.Features}-D, {pct} %% positives{noise}"
    | "dense-easy-negatives" -> $"dense easy negatives (2-D), {pct} %% positives"
    | "mnist-one-vs-rest" -> $"MNIST {c.Digit} vs rest, {pct} %% positives"
    | "mnist-long-tailed" -> $"MNIST long-tailed, ratio {c.ImbalanceRatio:G4}"
    | "csv" -> $"{IO.Path.GetFileName c.CsvPath} ({c.LabelColumn})"
    | other -> other

/// The task a comparison is about: the dataset and the model trained on it, e.g. "gaussian 2-D, 1 % positives; logistic".
let taskLabel (c: RunConfig) = $"{datasetLabel c}; {c.Model}"

/// A short label for the loss setting, e.g. "focal a=0.25 g=2", "CE", "balanced CE a=0.25".
let lossLabel (c: RunConfig) =
    let a = if c.Alpha < 0.0 then "none" else c.Alpha.ToString("G4", CultureInfo.InvariantCulture)
    let g = c.Gamma.ToString("G4", CultureInfo.InvariantCulture)
    match c.Loss with
    | "bce" | "cross_entropy" -> "CE"
    | "balanced_bce" -> $"balanced CE a={a}"
    | "softmax_focal" when c.Alpha < 0.0 -> $"softmax focal g={g}"
    | _ -> $"focal a={a} g={g}"

/// The cross-entropy baseline a run is compared with: the same config with plain CE for its task.
let baselineOf (c: RunConfig) =
    let ce = if List.contains c.Loss multiClassLosses then "cross_entropy" else "bce"
    { c with Loss = ce; Alpha = -1.0; Gamma = 0.0 }

/// True for the plain cross-entropy baselines.
let isBaseline (c: RunConfig) = c.Loss = "bce" || c.Loss = "cross_entropy"

/// Normalises the settings a loss ignores, so equal runs get equal ids (CE records alpha -1 and gamma 0;
/// balanced CE gamma 0; the probability form is the seed's and keeps both).
let normalise (c: RunConfig) =
    match c.Loss with
    | "bce" | "cross_entropy" -> { c with Alpha = -1.0; Gamma = 0.0 }
    | "balanced_bce" -> { c with Gamma = 0.0 }
    | _ -> c

/// The grid: every dataset variant x every loss variant x every seed, normalised and without duplicates.
let grid (baseConfig: RunConfig) (datasetVariants: (RunConfig -> RunConfig) list) (lossVariants: (RunConfig -> RunConfig) list) (seeds: int list) =
    [ for d in datasetVariants do
        for l in lossVariants do
            for s in seeds -> normalise (l (d { baseConfig with Seed = s })) ]
    |> List.distinctBy runId
