/// Experiment definitions as typed values: a run is one immutable record whose every field is a
/// discriminated union or a number, so a setting either reaches the computation or is refused. Each loss
/// carries exactly the hyper-parameters it uses (no sentinel for "off", no string map to the C# losses).
/// Validation names the field, the expectation and the value; a run's id hashes the whole config and the
/// content of every file it reads.
module Analysis.Config

open System
open System.Globalization
open System.IO
open System.Security.Cryptography
open System.Text
open System.Text.Json
open System.Text.Json.Serialization
open System.Text.RegularExpressions
open FocalLoss

/// Sizes of a synthetic dataset's two splits (the test set is drawn with its own seed).
type Sizes = { Train: int; Test: int }

/// The data a run trains and is scored on. Each case carries exactly the settings its generator uses.
type Dataset =
    /// The seed tutorial's task: x ~ U(-10, 10), y = 1 if 2x + 3 > 0 (one feature).
    | SeedLine of sizes: Sizes
    /// The seed's one feature with the boundary moved to a positive rate; a fraction of training labels flipped.
    | Line of sizes: Sizes * positiveRate: float * labelNoise: float
    /// Two Gaussian classes 2 sd apart in `features` dimensions; a fraction of training labels flipped.
    | Gaussian of sizes: Sizes * features: int * positiveRate: float * labelNoise: float
    /// 2-D: a flood of easy negatives far away and a band of hard negatives overlapping few positives.
    | DenseEasyNegatives of sizes: Sizes * positiveRate: float
    /// One real digit (data/mnist-10k) against the rest at a positive rate; 30 % held out.
    | MnistOneVsRest of digit: int * positiveRate: float
    /// The ten real digits with class counts decaying geometrically to an imbalance ratio; 30 % held out.
    | MnistLongTailed of imbalanceRatio: float
    /// A CSV file with a header, numeric features and a label column of class ids 0..C-1; 30 % held out,
    /// features standardised on the training split only.
    | Csv of path: string * labelColumn: string
    /// Multi-label: `labels` binary labels, each positive when a noisy linear score of `features` Gaussian
    /// features passes the quantile that gives `positiveRate` (Synthetic.MultiLabel; the directions are
    /// seeded by the run's seed, train and test share them).
    | MultiLabelLinear of sizes: Sizes * labels: int * features: int * positiveRate: float
    /// Multi-label digits: 28 x 84 images of 2 to `maxDigits` real digits side by side, labels = the digits
    /// present (10 labels, about 77 % of label slots negative with 3 digits); train and test drawn from
    /// disjoint halves of data/mnist-10k.
    | MnistPairs of sizes: Sizes * maxDigits: int
    /// Dense detection at CPU scale (FocalLoss.Data.DenseDiscs): 2-D points, 4 small positive discs with a
    /// soft boundary, each in a ring of hard negatives, and easy negatives filling [-2, 2]^2; the positive
    /// rate is set by the number of easy negatives (about 1.1 million at 1e-4 with 250 hard points a disc).
    /// The test set keeps `testHardPerDisc` hard points a disc and a sample of `testEasySample` easy ones,
    /// weighted so that its metrics stand for the full prevalence.
    | DenseDiscs of positiveRate: float * hardPerDisc: int * testHardPerDisc: int * testEasySample: int

/// The model trained: its architecture and what it needs.
type Model =
    /// The seed's single unit (inputs -> 1) with Normal(0, 0.02) initialisation; binary tasks only.
    | Linear
    /// One linear layer, PyTorch's default initialisation.
    | Logistic
    /// Hidden ReLU layers of the given widths, then a linear head (PyTorch's default initialisation).
    | Mlp of hidden: int list
    /// A small convolutional network for 28 x 28 digit images.
    | Cnn

/// A gamma schedule of the sample-dependent focal loss (FLSD): the gamma of the first step whose threshold
/// p_t is below, else `Final`; thresholds strictly ascending in (0, 1], gammas finite and >= 0.
type GammaSteps =
    { /// (threshold, gamma) pairs: a sample with p_t below the threshold gets the gamma.
      Steps: (float * float) list
      /// The gamma of every sample at or above the last threshold.
      Final: float }

module GammaSteps =
    /// FLSD-53 (Mukhoti et al. 2020): gamma 5 for p_t below 0.2, else 3.
    let flsd53 = { Steps = [ 0.2, 5.0 ]; Final = 3.0 }

    /// One gamma for every sample: FLSD reduces to focal loss.
    let constant (gamma: float) = { Steps = []; Final = gamma }

/// A loss of the family with its own hyper-parameters; `None` turns an optional weighting off.
type Loss =
    /// Plain binary cross-entropy on logits: the baseline of binary tasks.
    | BinaryCrossEntropy
    /// Alpha-balanced binary cross-entropy (focal loss with gamma = 0); alpha in [0, 1] weights the positives.
    | BalancedBinaryCrossEntropy of alpha: float
    /// Focal loss on logits (Lin et al. 2017); alpha in [0, 1] or None, gamma >= 0.
    | SigmoidFocal of alpha: float option * gamma: float
    /// The seed tutorial's focal loss on probabilities; alpha in [0, 1] or None, gamma >= 0.
    | FocalFromProbabilities of alpha: float option * gamma: float
    /// Softmax cross-entropy: the baseline of multi-class tasks.
    | SoftmaxCrossEntropy
    /// Multi-class focal loss; per-class alpha (length C, finite, >= 0) or None, gamma >= 0.
    | SoftmaxFocal of alpha: float[] option * gamma: float
    /// Asymmetric Loss (Ridnik et al. 2021) for multi-label (and binary) logits: gammaNeg, gammaPos finite
    /// and >= 0, the probability margin clip in [0, 1); detachFocusingWeight as the authors'
    /// disable_torch_grad_focal_loss (same value, another gradient).
    | Asymmetric of gammaNeg: float * gammaPos: float * clip: float * detachFocusingWeight: bool
    /// Poly-1 cross-entropy (Leng et al. 2022): CE + epsilon (1 - p_t), epsilon finite and >= -1.
    | Poly1CrossEntropy of epsilon: float
    /// Poly-1 focal loss: FL + epsilon (1 - p_t)^(gamma + 1); alpha weights the focal term.
    | Poly1Focal of alpha: float option * gamma: float * epsilon: float
    /// Softmax Poly-1 cross-entropy.
    | SoftmaxPoly1CrossEntropy of epsilon: float
    /// Softmax Poly-1 focal loss; per-class alpha or None.
    | SoftmaxPoly1Focal of alpha: float[] option * gamma: float * epsilon: float
    /// FL* (Lin et al. 2017, appendix A): -log sigmoid(gamma x_t + beta) / gamma; gamma > 0, beta finite.
    | FocalStar of gamma: float * beta: float
    /// Focal loss with a gamma chosen per sample from p_t (FLSD, Mukhoti et al. 2020); alpha in [0, 1] or None.
    | SigmoidFocalSampleDependent of schedule: GammaSteps * alpha: float option
    /// Softmax focal loss with a gamma chosen per sample from p_t; per-class alpha or None.
    | SoftmaxFocalSampleDependent of schedule: GammaSteps * alpha: float[] option
    /// A loss of the family trained on smoothed targets, labelSmoothing in (0, 1): binary targets move towards
    /// 1/2, class targets towards the uniform distribution. For the losses with a labelSmoothing parameter
    /// (the cross-entropies, sigmoid and softmax focal loss, the Poly-1 losses).
    | Smoothed of labelSmoothing: float * loss: Loss
    /// A loss written by the user (e.g. in a script) and registered by name with `CustomLosses.register`,
    /// with its named hyper-parameters in the declared order.
    | Custom of name: string * parameters: (string * float) list

/// The optimiser and its settings.
type Optimizer =
    /// SGD with momentum in [0, 1).
    | Sgd of learningRate: float * momentum: float
    /// Adam with PyTorch's default betas.
    | Adam of learningRate: float

/// Where a run trains.
type Device =
    /// CUDA when available, else the CPU.
    | Auto
    | Cpu
    /// CUDA (`None`: the current device; `Some n`: cuda:n).
    | Cuda of index: int option

/// How a batch's per-sample losses become the number that is differentiated.
type BatchReduction =
    /// The batch mean (PyTorch's default).
    | BatchMean
    /// The batch sum (what the seed's MindSpore code trains with).
    | BatchSum
    /// The batch sum over max(1, positive targets in the batch): the detection convention (RetinaNet);
    /// binary and multi-label losses only.
    | BatchSumOverPositives

/// Post-hoc recalibration of a run's probabilities (Guo et al. 2017).
type Recalibration =
    /// Hold out a stratified fraction of the training split (never trained on), fit a temperature T on it
    /// and score the test set again with softmax(z / T) (sigmoid for binary).
    | TemperatureOnHeldOut of fraction: float
    /// Train on the whole training split; no temperature, no recalibrated metrics (e.g. a faithful replication).
    | NoRecalibration

/// How the output layer's bias starts (the binary and multi-label logits' bias).
type OutputBias =
    /// PyTorch's default initialisation of the model.
    | DefaultBias
    /// Zero.
    | ZeroBias
    /// RetinaNet's prior-probability initialisation (Lin et al. 2017, section 4.1): b = -log((1 - pi) / pi),
    /// so that every output starts at probability pi (0.01 in the paper).
    | PriorBias of prior: float

/// One training run. An experiment is a list of these, usually a grid (datasets x losses x seeds).
type RunConfig =
    { /// Results go to results/<Experiment>/ (excluded from the run id).
      Experiment: string
      Dataset: Dataset
      Model: Model
      /// How the output layer's bias starts.
      OutputBias: OutputBias
      Loss: Loss
      Optimizer: Optimizer
      Epochs: int
      BatchSize: int
      Reduction: BatchReduction
      Device: Device
      /// Whether a slice of the training split is held out to fit a temperature.
      Recalibration: Recalibration
      /// Seeds the data, the initialisation and the shuffling; runs that differ only in the loss share data.
      Seed: int }

/// The task a dataset poses, read from its labels (never from its name).
type Task =
    | Binary
    | MultiClass of classes: int
    /// Independent binary labels per sample.
    | MultiLabel of labels: int

/// What an input file is to a run.
type InputKind =
    /// Data the run reads (a CSV, the MNIST files).
    | Data
    /// The source file that defines a custom loss: editing the loss is a new run, not a reused one.
    | LossCode

/// A file a run reads, with the SHA-256 of its content.
type InputFile = { Path: string; Sha256: string; Kind: InputKind }

/// A loss written by the user and registered by name: its task, its hyper-parameters' names, how to build it,
/// and the file that registered it ("" when unknown).
type CustomLoss =
    { Name: string
      Task: FocalLoss.Data.LossTask
      Parameters: string list
      Create: Map<string, float> -> ILossFunction
      Source: string }

/// The losses a script registers before it sweeps them. A sweep's worker processes must register the same
/// losses: for a script-defined loss the script itself is the worker (Experiment.serveAsWorker).
[<AbstractClass; Sealed>]
type CustomLosses private () =
    static let registry = Collections.Concurrent.ConcurrentDictionary<string, CustomLoss>()

    /// Registers a loss under a name: lower-case letters, digits and '_', starting with a letter, not the
    /// name of a loss of the family. Registering the same name again replaces it. The file that calls this
    /// (the compiler fills `source` in) is part of every run id of the loss, so an edit to the loss is a new run.
    static member register(name: string, task: FocalLoss.Data.LossTask, parameters: string list, create: Map<string, float> -> ILossFunction,
                           [<Runtime.CompilerServices.CallerFilePath; Runtime.InteropServices.Optional; Runtime.InteropServices.DefaultParameterValue("")>] source: string) =
        if not (Text.RegularExpressions.Regex.IsMatch(name, "^[a-z][a-z0-9_]*$")) then
            invalidArg "name" $"a custom loss name must be lower-case letters, digits and '_', starting with a letter, got '{name}'"
        if LossRegistry.Names |> Seq.contains name then invalidArg "name" $"'{name}' is a loss of the family; give your loss another name"
        for p in parameters do
            if not (Text.RegularExpressions.Regex.IsMatch(p, "^[a-z][a-z0-9_]*$")) then invalidArg "parameters" $"a parameter name must be lower-case letters, digits and '_', got '{p}'"
        if (List.distinct parameters).Length <> parameters.Length then invalidArg "parameters" $"parameter names must be distinct, got %A{parameters}"
        registry[name] <- { Name = name; Task = task; Parameters = parameters; Create = create; Source = (if File.Exists source then Path.GetFullPath source else "") }

    /// The registration of a name, if any.
    static member tryFind(name: string) = match registry.TryGetValue name with | true, c -> Some c | _ -> None

/// The defaults every experiment overrides: a 2-D Gaussian task at 10 % positives, logistic regression,
/// focal loss with the paper's alpha 0.25 and gamma 2, Adam at 0.01 for 10 epochs of batch 64 (mean), 10 %
/// of the training split held out to fit a temperature.
let defaults =
    { Experiment = "default"
      Dataset = Gaussian({ Train = 4000; Test = 4000 }, features = 2, positiveRate = 0.1, labelNoise = 0.0)
      Model = Logistic
      OutputBias = DefaultBias
      Loss = SigmoidFocal(Some 0.25, 2.0)
      Optimizer = Adam 0.01
      Epochs = 10
      BatchSize = 64
      Reduction = BatchMean
      Device = Auto
      Recalibration = TemperatureOnHeldOut 0.1
      Seed = 0 }

let private inv = CultureInfo.InvariantCulture

/// A number as labels and messages show it: invariant culture, round-trip precision.
let num (v: float) = v.ToString("R", inv)

/// JSON options for configs and run files: unions as {"Case": {named fields}}, options unwrapped, NaN allowed.
let jsonOptions =
    let o = JsonSerializerOptions(NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals)
    o.Converters.Add(JsonFSharpConverter(JsonUnionEncoding.ExternalTag ||| JsonUnionEncoding.NamedFields ||| JsonUnionEncoding.UnwrapFieldlessTags ||| JsonUnionEncoding.UnwrapOption))
    o

/// The same options, indented (run files).
let jsonOptionsIndented = JsonSerializerOptions(jsonOptions, WriteIndented = true)

module Device =
    /// `auto`, `cpu`, `cuda` or `cuda:N`, as PyTorch writes devices.
    let text = function
        | Auto -> "auto"
        | Cpu -> "cpu"
        | Cuda None -> "cuda"
        | Cuda(Some n) -> $"cuda:{n}"

    /// Parses `auto`, `cpu`, `cuda` or `cuda:N`; anything else is an error listing them.
    let parse (s: string) =
        match s with
        | "auto" -> Auto
        | "cpu" -> Cpu
        | "cuda" -> Cuda None
        | _ when Regex.IsMatch(s, "^cuda:(0|[1-9][0-9]{0,8})$") -> Cuda(Some(Int32.Parse(s.Substring 5, inv)))
        | _ -> invalidArg "device" $"device must be auto, cpu, cuda or cuda:N with N >= 0, got '{s}'"

module Model =
    /// The short name reports print: linear, logistic, mlp(64), cnn.
    let label = function
        | Linear -> "linear"
        | Logistic -> "logistic"
        | Mlp h -> $"""mlp({String.Join("-", h)})"""
        | Cnn -> "cnn"

module Loss =
    /// The loss's canonical name in the C# family (FocalLoss.LossRegistry), which is its functional form's name.
    let rec name = function
        | BinaryCrossEntropy -> nameof Functional.binary_cross_entropy_with_logits
        | BalancedBinaryCrossEntropy _ -> nameof Functional.balanced_binary_cross_entropy_with_logits
        | SigmoidFocal _ -> nameof Functional.sigmoid_focal_loss
        | FocalFromProbabilities _ -> nameof Functional.focal_loss_from_probabilities
        | SoftmaxCrossEntropy -> nameof Functional.softmax_cross_entropy
        | SoftmaxFocal _ -> nameof Functional.softmax_focal_loss
        | Asymmetric _ -> nameof Functional.asymmetric_loss
        | Poly1CrossEntropy _ -> nameof Functional.poly1_cross_entropy
        | Poly1Focal _ -> nameof Functional.poly1_focal_loss
        | SoftmaxPoly1CrossEntropy _ -> nameof Functional.softmax_poly1_cross_entropy
        | SoftmaxPoly1Focal _ -> nameof Functional.softmax_poly1_focal_loss
        | FocalStar _ -> nameof Functional.focal_loss_star
        | SigmoidFocalSampleDependent _ -> nameof Functional.sigmoid_focal_loss_sample_dependent
        | SoftmaxFocalSampleDependent _ -> nameof Functional.softmax_focal_loss_sample_dependent
        | Smoothed(_, inner) -> name inner
        | Custom(name, _) -> name

    /// The task the loss trains for, from the family's registry or the custom registration.
    let task (loss: Loss) =
        match loss with
        | Custom(name, _) ->
            match CustomLosses.tryFind name with
            | Some c -> c.Task
            | None -> invalidArg "loss" $"custom loss '{name}' is not registered in this process (CustomLosses.register)"
        | _ -> (LossRegistry.Get(name loss)).Task

    /// The plain cross-entropy of the loss's task: what every setting is compared with (element-wise sigmoid
    /// cross-entropy for binary and multi-label losses, softmax cross-entropy for multi-class ones).
    let baseline (loss: Loss) =
        if task loss = Data.LossTask.MultiClass then SoftmaxCrossEntropy else BinaryCrossEntropy

    /// True for the plain cross-entropy baselines.
    let isBaseline (loss: Loss) = loss = BinaryCrossEntropy || loss = SoftmaxCrossEntropy

    let private alphaText = function Some a -> num a | None -> "none"
    let private weightsText = function Some (w: float[]) -> $"""[{String.Join(", ", w |> Array.map num)}]""" | None -> "none"
    let private stepsText (s: GammaSteps) =
        let steps = s.Steps |> List.map (fun (t, g) -> $"p<{num t}: {num g}")
        $"""[{String.Join(", ", steps @ [ $"else {num s.Final}" ])}]"""

    /// The label reports print, e.g. "CE", "balanced CE a=0.25", "focal a=none g=2", "focal(p) a=0.25 g=2",
    /// "softmax CE", "softmax focal a=[1, 2.5] g=2", "ASL g-=4 g+=1 clip=0.05", "FLSD [p<0.2: 5, else 3] a=none",
    /// "focal a=0.25 g=2 ls=0.1". Every number is printed exactly, so the label parses back to the same loss
    /// (<see cref="ofLabel"/>).
    let rec label = function
        | BinaryCrossEntropy -> "CE"
        | BalancedBinaryCrossEntropy a -> $"balanced CE a={num a}"
        | SigmoidFocal(a, g) -> $"focal a={alphaText a} g={num g}"
        | FocalFromProbabilities(a, g) -> $"focal(p) a={alphaText a} g={num g}"
        | SoftmaxCrossEntropy -> "softmax CE"
        | SoftmaxFocal(None, g) -> $"softmax focal a=none g={num g}"
        | SoftmaxFocal(Some a, g) -> $"""softmax focal a=[{String.Join(", ", a |> Array.map num)}] g={num g}"""
        | Asymmetric(gn, gp, clip, detach) -> $"""ASL g-={num gn} g+={num gp} clip={num clip}{if detach then " detached" else ""}"""
        | Poly1CrossEntropy e -> $"poly-1 CE e={num e}"
        | Poly1Focal(a, g, e) -> $"poly-1 focal a={alphaText a} g={num g} e={num e}"
        | SoftmaxPoly1CrossEntropy e -> $"softmax poly-1 CE e={num e}"
        | SoftmaxPoly1Focal(a, g, e) -> $"softmax poly-1 focal a={weightsText a} g={num g} e={num e}"
        | FocalStar(g, b) -> $"FL* g={num g} b={num b}"
        | SigmoidFocalSampleDependent(s, a) -> $"FLSD {stepsText s} a={alphaText a}"
        | SoftmaxFocalSampleDependent(s, a) -> $"softmax FLSD {stepsText s} a={weightsText a}"
        | Smoothed(ls, inner) -> $"{label inner} ls={num ls}"
        | Custom(name, ps) -> $"""{name}({String.Join(", ", ps |> List.map (fun (k, v) -> $"{k}={num v}"))})"""

    let private number = @"(-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|NaN|-?Infinity)"
    let private optionalAlpha (text: string) = if text = "none" then None else Some(float text)
    let private weights (text: string) =
        if text = "none" then None
        else
            let parts = text.Trim('[', ']').Split(',', StringSplitOptions.TrimEntries)
            if parts |> Array.exists (fun p -> not (Regex.IsMatch(p, $"^{number}$"))) then
                invalidArg "text" $"a per-class alpha in a label must be numbers separated by commas, got [{text.Trim('[', ']')}]"
            Some(parts |> Array.map float)
    let private steps (text: string) =
        let parts = text.Trim('[', ']').Split(',', StringSplitOptions.TrimEntries) |> List.ofArray
        let bad () = invalidArg "text" $"a gamma schedule in a label must read [p<T: G, ..., else G], got {text}"
        match List.rev parts with
        | last :: before ->
            let final = Regex.Match(last, $"^else {number}$")
            if not final.Success then bad ()
            let stepOf (part: string) =
                let m = Regex.Match(part, $"^p<{number}: {number}$")
                if not m.Success then bad ()
                float m.Groups[1].Value, float m.Groups[2].Value
            { Steps = before |> List.rev |> List.map stepOf; Final = float final.Groups[1].Value }
        | [] -> bad ()
    let private forms =
        [ Regex($"^balanced CE a={number}$"), (fun (g: string list) -> BalancedBinaryCrossEntropy(float g[0]))
          Regex($"^focal a=(none|{number}) g={number}$"), (fun g -> SigmoidFocal((if g[0] = "none" then None else Some(float g[0])), float g[2]))
          Regex($@"^focal\(p\) a=(none|{number}) g={number}$"), (fun g -> FocalFromProbabilities((if g[0] = "none" then None else Some(float g[0])), float g[2]))
          Regex($@"^softmax focal a=(none|\[[^\]]*\]) g={number}$"), (fun g -> SoftmaxFocal(weights g[0], float g[1]))
          Regex($@"^ASL g-={number} g\+={number} clip={number}( detached)?$"), (fun g -> Asymmetric(float g[0], float g[1], float g[2], g[3] <> ""))
          Regex($"^poly-1 CE e={number}$"), (fun g -> Poly1CrossEntropy(float g[0]))
          Regex($"^poly-1 focal a=(none|{number}) g={number} e={number}$"), (fun g -> Poly1Focal(optionalAlpha g[0], float g[2], float g[3]))
          Regex($"^softmax poly-1 CE e={number}$"), (fun g -> SoftmaxPoly1CrossEntropy(float g[0]))
          Regex($@"^softmax poly-1 focal a=(none|\[[^\]]*\]) g={number} e={number}$"), (fun g -> SoftmaxPoly1Focal(weights g[0], float g[1], float g[2]))
          Regex($"^FL\* g={number} b={number}$"), (fun g -> FocalStar(float g[0], float g[1]))
          Regex($@"^FLSD (\[[^\]]*\]) a=(none|{number})$"), (fun g -> SigmoidFocalSampleDependent(steps g[0], optionalAlpha g[1]))
          Regex($@"^softmax FLSD (\[[^\]]*\]) a=(none|\[[^\]]*\])$"), (fun g -> SoftmaxFocalSampleDependent(steps g[0], weights g[1])) ]

    /// Every problem of a loss's own hyper-parameters, each naming the field, the expectation and the value.
    let rec problems (loss: Loss) : string list =
        let nonNegative field (g: float) = if not (g >= 0.0) || Double.IsInfinity g then [ $"Loss.{field} must be finite and >= 0, got {num g}" ] else []
        let gamma = nonNegative "gamma"
        let alpha (a: float) = if not (a >= 0.0 && a <= 1.0) then [ $"Loss.alpha must be in [0, 1], got {num a}" ] else []
        let optionalAlpha (a: float option) = a |> Option.map alpha |> Option.defaultValue []
        let weights (a: float[] option) =
            match a with
            | Some w when w.Length = 0 || w |> Array.exists (fun v -> not (v >= 0.0) || Double.IsInfinity v) || w |> Array.forall (fun v -> v = 0.0) ->
                [ $"""Loss.alpha must be per-class weights, finite and >= 0 with at least one > 0, got [{String.Join(", ", w |> Array.map num)}]""" ]
            | _ -> []
        let epsilon (e: float) = if not (e >= -1.0) || Double.IsInfinity e then [ $"Loss.epsilon must be finite and >= -1, got {num e}" ] else []
        let schedule (s: GammaSteps) =
            let thresholds = s.Steps |> List.map fst
            [ if thresholds |> List.exists (fun t -> not (t > 0.0 && t <= 1.0)) || thresholds |> List.pairwise |> List.exists (fun (a, b) -> not (a < b)) then
                  yield $"""Loss.schedule thresholds must be strictly ascending in (0, 1], got [{String.Join(", ", thresholds |> List.map num)}]"""
              for i, (_, g) in List.indexed s.Steps do yield! nonNegative $"schedule gamma {i}" g
              yield! nonNegative "schedule final gamma" s.Final ]
        match loss with
        | BalancedBinaryCrossEntropy a -> alpha a
        | SigmoidFocal(a, g)
        | FocalFromProbabilities(a, g) -> optionalAlpha a @ gamma g
        | SoftmaxFocal(a, g) -> weights a @ gamma g
        | Asymmetric(gn, gp, clip, _) ->
            nonNegative "gammaNeg" gn @ nonNegative "gammaPos" gp
            @ (if not (clip >= 0.0 && clip < 1.0) then [ $"Loss.clip must be in [0, 1), got {num clip}" ] else [])
        | Poly1CrossEntropy e | SoftmaxPoly1CrossEntropy e -> epsilon e
        | Poly1Focal(a, g, e) -> optionalAlpha a @ gamma g @ epsilon e
        | SoftmaxPoly1Focal(a, g, e) -> weights a @ gamma g @ epsilon e
        | FocalStar(g, b) ->
            (if not (g > 0.0) || Double.IsInfinity g then [ $"Loss.gamma must be finite and > 0 (FL* divides by it), got {num g}" ] else [])
            @ (if not (Double.IsFinite b) then [ $"Loss.beta must be finite, got {num b}" ] else [])
        | SigmoidFocalSampleDependent(s, a) -> schedule s @ optionalAlpha a
        | SoftmaxFocalSampleDependent(s, a) -> schedule s @ weights a
        | Smoothed(ls, inner) ->
            [ if not (ls > 0.0 && ls < 1.0) then yield $"Loss.labelSmoothing must be in (0, 1) (leave Smoothed out for none), got {num ls}"
              match inner with
              | BinaryCrossEntropy | BalancedBinaryCrossEntropy _ | SigmoidFocal _ | SoftmaxCrossEntropy | SoftmaxFocal _
              | Poly1CrossEntropy _ | Poly1Focal _ | SoftmaxPoly1CrossEntropy _ | SoftmaxPoly1Focal _ -> yield! problems inner
              | other -> yield $"Loss.loss of Smoothed must be a loss with label smoothing (CE, balanced CE, focal, softmax CE, softmax focal, poly-1), got '{label other}'" ]
        | BinaryCrossEntropy | SoftmaxCrossEntropy -> []
        | Custom(name, ps) ->
            match CustomLosses.tryFind name with
            | None -> [ $"Loss '{name}' is not registered: register it with CustomLosses.register before the sweep" ]
            | Some c ->
                [ if ps |> List.map fst <> c.Parameters then
                      yield $"""Loss {name} must have the parameters [{String.Join(", ", c.Parameters)}] in this order, got [{String.Join(", ", ps |> List.map fst)}]"""
                  for k, v in ps do
                      if not (Double.IsFinite v) then yield $"Loss {name} parameter {k} must be finite, got {num v}"
                  // The module the registration builds must be what it was registered as.
                  if ps |> List.map fst = c.Parameters && ps |> List.forall (snd >> Double.IsFinite) then
                      let built = try Ok(c.Create(Map.ofList ps)) with e -> Error e.Message
                      match built with
                      | Error e ->
                          let given = String.Join(", ", ps |> List.map (fun (k, v) -> k + "=" + num v))
                          yield $"Loss {name} could not be built from [{given}]: {e}"
                      | Ok m ->
                          if m.Task <> c.Task then yield $"Loss {name} is registered as a {c.Task} loss but its module says {m.Task}"
                          match box m with :? IDisposable as d -> d.Dispose() | _ -> () ]

    /// Parses a label printed by <see cref="label"/> back to its loss; anything else, or a loss whose
    /// hyper-parameters are out of range, is an error.
    let rec ofLabel (text: string) =
        let custom = Regex.Match(text, @"^([a-z][a-z0-9_]*)\((.*)\)$")
        let smoothed = Regex.Match(text, $"^(.*) ls={number}$")
        let valid (loss: Loss) =
            // A custom loss need not be registered to be named (a merged report's labels); its values must be finite and its names distinct.
            let ps =
                match loss with
                | Custom(name, ps) ->
                    [ for k, v in ps do if not (Double.IsFinite v) then yield $"Loss {name} parameter {k} must be finite, got {num v}"
                      if (ps |> List.map fst |> List.distinct).Length <> ps.Length then yield $"Loss {name} must name each parameter once" ]
                | _ -> problems loss
            match ps with
            | [] -> loss
            | ps -> invalidArg "text" $"""the label '{text}' names an invalid loss: {String.Join("; ", ps)}"""
        valid <|
        match text with
        | "CE" -> BinaryCrossEntropy
        | "softmax CE" -> SoftmaxCrossEntropy
        | _ when smoothed.Success -> Smoothed(float smoothed.Groups[2].Value, ofLabel smoothed.Groups[1].Value)
        | _ when custom.Success ->
            let ps =
                custom.Groups[2].Value.Split(',', StringSplitOptions.TrimEntries ||| StringSplitOptions.RemoveEmptyEntries)
                |> Array.map (fun kv ->
                    match kv.Split('=') with
                    | [| k; v |] when Regex.IsMatch(v, $"^{number}$") -> k, float v
                    | _ -> invalidArg "text" $"a custom loss label's parameters must be name=number, got '{kv}' in '{text}'")
                |> List.ofArray
            Custom(custom.Groups[1].Value, ps)
        | _ ->
            forms
            |> List.tryPick (fun (re, make) ->
                let m = re.Match text
                if m.Success then Some(make [ for i in 1 .. m.Groups.Count - 1 -> m.Groups[i].Value ]) else None)
            |> Option.defaultWith (fun () ->
                invalidArg "text" ("a loss label must be one of CE, softmax CE, 'balanced CE a=A', 'focal a=A|none g=G', 'focal(p) a=A|none g=G', "
                                   + "'softmax focal a=[A, ...]|none g=G', 'ASL g-=G g+=G clip=C[ detached]', 'poly-1 CE e=E', 'poly-1 focal a=A|none g=G e=E', "
                                   + "'softmax poly-1 CE e=E', 'softmax poly-1 focal a=[A, ...]|none g=G e=E', 'FL* g=G b=B', 'FLSD [p<T: G, ..., else G] a=A|none', "
                                   + "'softmax FLSD [p<T: G, ..., else G] a=[A, ...]|none', any of these followed by ' ls=S', or name(k=v, ...) of a registered loss; "
                                   + $"got '{text}'"))

    /// Builds a module from per-class weights as a float32 tensor (or null), disposed once the module has
    /// copied it.
    let private withWeights (a: float[] option) (make: TorchSharp.torch.Tensor | null -> ILossFunction) =
        match a with
        | Some w ->
            use t = TorchSharp.torch.tensor(w, dtype = TorchSharp.torch.ScalarType.Float32)
            make t
        | None -> make null

    let private gammaSchedule (s: GammaSteps) =
        GammaSchedule(s.Steps |> List.map fst |> Array.ofList, s.Steps |> List.map snd |> Array.ofList, s.Final)

    /// The loss to train with, its targets smoothed by `ls` where the case takes smoothing.
    let private createSmoothed (ls: float) (loss: Loss) : ILossFunction =
        match loss with
        | Custom(name, ps) ->
            match CustomLosses.tryFind name with
            | Some c -> c.Create(Map.ofList ps)
            | None -> invalidArg "loss" $"custom loss '{name}' is not registered in this process: a sweep of a script-defined loss needs the script as its worker (Experiment.serveAsWorker)"
        | BinaryCrossEntropy -> Losses.BinaryCrossEntropyWithLogitsLoss(labelSmoothing = ls) :> ILossFunction
        | BalancedBinaryCrossEntropy a -> Losses.BalancedBinaryCrossEntropyWithLogitsLoss(a, labelSmoothing = ls)
        | SigmoidFocal(a, g) -> Losses.SigmoidFocalLoss(Option.toNullable a, g, labelSmoothing = ls)
        | FocalFromProbabilities(a, g) -> Losses.FocalLossFromProbabilities(Option.toNullable a, g)
        | SoftmaxCrossEntropy -> Losses.SoftmaxCrossEntropyLoss(labelSmoothing = ls)
        | SoftmaxFocal(a, g) -> withWeights a (fun w -> Losses.SoftmaxFocalLoss(w, g, labelSmoothing = ls))
        | Asymmetric(gn, gp, clip, detach) -> Losses.AsymmetricLoss(gn, gp, clip, detach)
        | Poly1CrossEntropy e -> Losses.Poly1CrossEntropyLoss(e, labelSmoothing = ls)
        | Poly1Focal(a, g, e) -> Losses.Poly1FocalLoss(Option.toNullable a, g, e, labelSmoothing = ls)
        | SoftmaxPoly1CrossEntropy e -> Losses.SoftmaxPoly1CrossEntropyLoss(e, labelSmoothing = ls)
        | SoftmaxPoly1Focal(a, g, e) -> withWeights a (fun w -> Losses.SoftmaxPoly1FocalLoss(w, g, e, labelSmoothing = ls))
        | FocalStar(g, b) -> Losses.FocalLossStar(g, b)
        | SigmoidFocalSampleDependent(s, a) -> Losses.SigmoidFocalLossSampleDependent(gammaSchedule s, Option.toNullable a)
        | SoftmaxFocalSampleDependent(s, a) -> withWeights a (fun w -> Losses.SoftmaxFocalLossSampleDependent(gammaSchedule s, w))
        | Smoothed _ -> invalidArg "loss" $"Smoothed cannot hold another Smoothed, got '{label loss}'"

    /// The loss to train with (the caller disposes it when it is IDisposable, as the family's modules are).
    let create (loss: Loss) : ILossFunction =
        match problems loss with
        | [] -> ()
        | ps -> invalidArg "loss" (String.Join("; ", ps))
        match loss with
        | Smoothed(ls, inner) -> createSmoothed ls inner
        | _ -> createSmoothed 0.0 loss

    /// Alpha of a binary loss (NaN when it has none or is not binary); for tables and charts.
    let rec alpha = function
        | BalancedBinaryCrossEntropy a
        | SigmoidFocal(Some a, _)
        | FocalFromProbabilities(Some a, _)
        | Poly1Focal(Some a, _, _)
        | SigmoidFocalSampleDependent(_, Some a) -> a
        | Smoothed(_, inner) -> alpha inner
        | _ -> nan

    /// Gamma of a focal loss (0 for the cross-entropies, which have none; NaN for losses whose focusing is
    /// not one gamma: ASL, FLSD, a custom loss); for tables and charts.
    let rec gamma = function
        | SigmoidFocal(_, g)
        | FocalFromProbabilities(_, g)
        | SoftmaxFocal(_, g)
        | Poly1Focal(_, g, _)
        | SoftmaxPoly1Focal(_, g, _)
        | FocalStar(g, _) -> g
        | Smoothed(_, inner) -> gamma inner
        | BinaryCrossEntropy | BalancedBinaryCrossEntropy _ | SoftmaxCrossEntropy | Poly1CrossEntropy _ | SoftmaxPoly1CrossEntropy _ -> 0.0
        | Asymmetric _ | SigmoidFocalSampleDependent _ | SoftmaxFocalSampleDependent _ | Custom _ -> nan

module Dataset =
    /// The files a dataset reads (their content goes into the run id).
    let inputs (repoRoot: string) = function
        | Csv(path, _) -> [ Path.GetFullPath path ]
        | MnistOneVsRest _
        | MnistLongTailed _
        | MnistPairs _ ->
            [ Path.Combine(repoRoot, "data", "mnist-10k", "images-idx3-ubyte.gz"); Path.Combine(repoRoot, "data", "mnist-10k", "labels-idx1-ubyte.gz") ]
        | SeedLine _ | Line _ | Gaussian _ | DenseEasyNegatives _ | MultiLabelLinear _ | DenseDiscs _ -> []

    /// A short label for reports, e.g. "gaussian 2-D, 1 % positives, 10 % noise".
    let label (d: Dataset) =
        let pct (r: float) =   // short when that is exact, else every digit: two rates never print alike
            let short = (r * 100.0).ToString("G6", inv)
            if Double.Parse(short, inv) / 100.0 = r then short else (r * 100.0).ToString("R", inv)
        let noise (n: float) = if n > 0.0 then $", {pct n} %% noise" else ""
        let sizes (s: Sizes) = $", {s.Train}/{s.Test}"
        match d with
        | SeedLine s -> $"seed line (1 feature){sizes s}"
        | Line(s, rate, n) -> $"line (1 feature), {pct rate} %% positives{noise n}{sizes s}"
        | Gaussian(s, f, rate, n) -> $"gaussian {f}-D, {pct rate} %% positives{noise n}{sizes s}"
        | DenseEasyNegatives(s, rate) -> $"dense easy negatives (2-D), {pct rate} %% positives{sizes s}"
        | MnistOneVsRest(digit, rate) -> $"MNIST {digit} vs rest, {pct rate} %% positives"
        | MnistLongTailed ratio -> $"MNIST long-tailed, ratio {num ratio}"
        | Csv(path, label) -> $"{Path.GetFileName path} ({label})"
        | MultiLabelLinear(s, k, f, rate) -> $"multi-label linear, {k} labels, {f}-D, {pct rate} %% positive slots{sizes s}"
        | MnistPairs(s, m) -> $"MNIST pairs (2 to {m} digits, 10 labels){sizes s}"
        | DenseDiscs(rate, hard, testHard, testEasy) ->
            $"dense discs (2-D), {pct rate} %% positives, {hard} hard points a disc; test {testHard} hard a disc + {testEasy} easy, weighted"

    /// True for datasets with one feature, where every increasing linear model ranks the samples alike.
    let oneFeature = function SeedLine _ | Line _ -> true | _ -> false

/// The SHA-256 of a file's content, cached per (path, size, modification time) within the process.
let contentHash =
    let cache = Collections.Concurrent.ConcurrentDictionary<string * int64 * DateTime, string>()
    fun (path: string) ->
        let info = FileInfo path
        if not info.Exists then invalidArg "path" $"input file '{path}' does not exist"
        cache.GetOrAdd((info.FullName, info.Length, info.LastWriteTimeUtc), fun _ ->
            use stream = File.OpenRead info.FullName
            Convert.ToHexStringLower(SHA256.HashData stream))

/// The files a config reads, with their content hashes.
let inputFiles (repoRoot: string) (c: RunConfig) =
    [ for p in Dataset.inputs repoRoot c.Dataset -> { Path = p; Sha256 = contentHash p; Kind = Data }
      match c.Loss with
      | Custom(name, _) ->
          match CustomLosses.tryFind name with
          | Some l when l.Source <> "" -> yield { Path = l.Source; Sha256 = contentHash l.Source; Kind = LossCode }
          | _ -> ()
      | _ -> () ]

/// The config as canonical JSON without the experiment name (what identifies a run, with the inputs).
let canonical (c: RunConfig) = JsonSerializer.Serialize({ c with Experiment = "" }, jsonOptions)

/// A run's id from its config and the content hashes of the files it read: 16 hex digits of the SHA-256
/// of the canonical config and those hashes. A record's stored inputs give its id without reading any file.
let runIdOf (c: RunConfig) (inputs: InputFile list) =
    let text = String.Join("|", canonical c :: (inputs |> List.map _.Sha256))
    Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes text)).Substring(0, 16)

/// A run's id: the config and the content hash of every input file it reads now.
let runIdWith (repoRoot: string) (c: RunConfig) = runIdOf c (inputFiles repoRoot c)

/// The label of the task a comparison is about: the dataset with its sizes, the model, and every training
/// setting that differs from `defaults`, e.g. "gaussian 2-D, 1 % positives, 10000/10000; logistic; 2 epochs".
/// Two configs that differ in anything but the loss and the seed get different labels.
let taskLabel (c: RunConfig) =
    let optimizer = function Sgd(lr, m) -> $"SGD lr {num lr} momentum {num m}" | Adam lr -> $"Adam lr {num lr}"
    let recalibration = function TemperatureOnHeldOut f -> $"temperature on {num (f * 100.0)} %% held out" | NoRecalibration -> "no recalibration"
    let differing =
        [ if c.Optimizer <> defaults.Optimizer then optimizer c.Optimizer
          if c.Epochs <> defaults.Epochs then $"{c.Epochs} epochs"
          if c.BatchSize <> defaults.BatchSize then $"batch {c.BatchSize}"
          if c.Reduction <> defaults.Reduction then (match c.Reduction with BatchSum -> "batch sum" | BatchMean -> "batch mean" | BatchSumOverPositives -> "batch sum over positives")
          if c.Device <> defaults.Device then Device.text c.Device
          if c.Recalibration <> defaults.Recalibration then recalibration c.Recalibration
          match c.OutputBias with
          | DefaultBias -> ()
          | ZeroBias -> "output bias 0"
          | PriorBias p -> $"prior bias pi {num p}" ]
    String.Join("; ", $"{Dataset.label c.Dataset}; {Model.label c.Model}" :: differing)

/// The label of the loss setting, e.g. "focal a=0.25 g=2".
let lossLabel (c: RunConfig) = Loss.label c.Loss

/// The cross-entropy baseline a run is compared with: the same config with the plain CE of its task.
let baselineOf (c: RunConfig) = { c with Loss = Loss.baseline c.Loss }

/// True for the plain cross-entropy baselines.
let isBaseline (c: RunConfig) = Loss.isBaseline c.Loss

/// Every problem that the config's own values show, each naming its field, the expectation and the value.
let problems (c: RunConfig) : string list =
    let bad cond field expected (got: string) = if cond then [ $"{field} must be {expected}, got {got}" ] else []
    let rate field (r: float) = bad (not (r > 0.0 && r < 1.0)) field "in (0, 1)" (num r)
    let noise field (n: float) = bad (not (n >= 0.0 && n < 0.5)) field "in [0, 0.5)" (num n)
    let sizesUpTo (most: int) (s: Sizes) =
        bad (s.Train < 2 || s.Train > most) "Dataset.sizes.Train" $"in [2, {most}]" (string s.Train)
        @ bad (s.Test < 2 || s.Test > most) "Dataset.sizes.Test" $"in [2, {most}]" (string s.Test)
    let sizes = sizesUpTo 10_000_000
    let finitePositive field (v: float) = bad (not (v > 0.0) || Double.IsInfinity v) field "finite and > 0" (num v)
    let gamma (g: float) = bad (not (g >= 0.0) || Double.IsInfinity g) "Loss.gamma" "finite and >= 0" (num g)
    let alpha (a: float) = bad (not (a >= 0.0 && a <= 1.0)) "Loss.alpha" "in [0, 1]" (num a)
    let segments = c.Experiment.Split('/')
    let badName = String.IsNullOrWhiteSpace c.Experiment || segments |> Array.exists (fun s -> s = "" || s = "." || s = ".." || s.IndexOfAny(Path.GetInvalidFileNameChars()) >= 0)
    [ yield! bad badName "Experiment" "a relative folder name under results/ (names separated by /, no . or ..)" $"'{c.Experiment}'"
      match c.Dataset with
      | SeedLine s -> yield! sizes s
      | Line(s, r, n) -> yield! sizes s; yield! rate "Dataset.positiveRate" r; yield! noise "Dataset.labelNoise" n
      | Gaussian(s, f, r, n) ->
          yield! sizes s; yield! bad (f < 1) "Dataset.features" ">= 1" (string f)
          yield! rate "Dataset.positiveRate" r; yield! noise "Dataset.labelNoise" n
      | DenseEasyNegatives(s, r) -> yield! sizes s; yield! rate "Dataset.positiveRate" r
      | MnistOneVsRest(d, r) -> yield! bad (d < 0 || d > 9) "Dataset.digit" "in [0, 9]" (string d); yield! rate "Dataset.positiveRate" r
      | MnistLongTailed ratio -> yield! bad (not (ratio >= 1.0) || Double.IsInfinity ratio) "Dataset.imbalanceRatio" "finite and >= 1" (num ratio)
      | Csv(path, label) ->
          yield! bad (not (File.Exists path)) "Dataset.path" "an existing CSV file" $"'{path}'"
          yield! bad (String.IsNullOrWhiteSpace label) "Dataset.labelColumn" "a column name" $"'{label}'"
      | MultiLabelLinear(s, k, f, r) ->
          yield! sizes s; yield! bad (k < 2) "Dataset.labels" ">= 2" (string k)
          yield! bad (f < k + 1) "Dataset.features" $">= labels + 1 ({k + 1})" (string f)
          yield! rate "Dataset.positiveRate" r
      | MnistPairs(s, m) ->
          yield! sizesUpTo 200_000 s   // 28 x 84 float images: 200,000 take 1.9 GB
          yield! bad (m <> 2 && m <> 3) "Dataset.maxDigits" "2 or 3" (string m)
      | DenseDiscs(r, hard, testHard, testEasy) ->
          let q = FocalLoss.Data.DenseDiscsGeometry.Default.HardPositiveShare()
          yield! bad (not (r >= FocalLoss.Data.DenseDiscs.MinPositiveRate && r < q)) "Dataset.positiveRate" $"in [{num FocalLoss.Data.DenseDiscs.MinPositiveRate}, {num q})" (num r)
          yield! bad (hard < 1 || hard > 1_000_000) "Dataset.hardPerDisc" "in [1, 1000000]" (string hard)
          yield! bad (testHard < 1 || testHard > 1_000_000) "Dataset.testHardPerDisc" "in [1, 1000000]" (string testHard)
          if r >= FocalLoss.Data.DenseDiscs.MinPositiveRate && r < q && testHard >= 1 && hard >= 1 && hard <= 1_000_000 then
              let easy = FocalLoss.Data.DenseDiscs.EasyCount(4L * int64 testHard, r)
              yield! bad (testEasy < 1 || int64 testEasy > easy) "Dataset.testEasySample" $"in [1, {easy}] (the easy negatives the rate implies for the test's hard points)" (string testEasy)
              let train = 4L * int64 hard + FocalLoss.Data.DenseDiscs.EasyCount(4L * int64 hard, r)
              yield! bad (train > 20_000_000L) "Dataset.hardPerDisc" $"at most {20_000_000L * int64 hard / train} at this rate (the training set would hold {train} points, more than 20,000,000)" (string hard)
      match c.Model with
      | Mlp h ->
          yield! bad h.IsEmpty "Model.hidden" "at least one layer width" "[]"
          for w in h do yield! bad (w < 1) "Model.hidden" "widths >= 1" (string w)
      | _ -> ()
      match c.OutputBias with
      | PriorBias p -> yield! bad (not (p > 0.0 && p < 1.0)) "OutputBias.prior" "in (0, 1)" (num p)
      | DefaultBias | ZeroBias -> ()
      yield! Loss.problems c.Loss
      match c.Optimizer with
      | Sgd(lr, m) -> yield! finitePositive "Optimizer.learningRate" lr; yield! bad (not (m >= 0.0 && m < 1.0)) "Optimizer.momentum" "in [0, 1)" (num m)
      | Adam lr -> yield! finitePositive "Optimizer.learningRate" lr
      yield! bad (c.Epochs < 1) "Epochs" ">= 1" (string c.Epochs)
      yield! bad (c.BatchSize < 1) "BatchSize" ">= 1" (string c.BatchSize)
      match c.Device with
      | Cuda(Some n) -> yield! bad (n < 0) "Device" "cuda:N with N >= 0" (string n)
      | _ -> ()
      match c.Recalibration with
      | TemperatureOnHeldOut f -> yield! bad (not (f > 0.0 && f <= 0.5)) "Recalibration.fraction" "in (0, 0.5]" (num f)
      | NoRecalibration -> ()
      yield! bad (c.Seed < 0) "Seed" ">= 0" (string c.Seed) ]

/// What a dataset's labels and features show (read from the data, never from the dataset's name).
type DataFacts =
    { Task: Task
      FeatureShape: int64 list
      TrainCount: int64
      TestCount: int64
      /// Every split of seed 0 (training, calibration slice, test, further tests): its size and, per class,
      /// how many samples it holds (binary: negatives, positives).
      Splits: (string * int64 * int64 list) list
      /// Where label noise is applied and what it did to seed 0's training labels; None without noise.
      Noise: string option }

/// Problems between a config and the facts of its data: loss and model against the task, per-class
/// weights against the class count, the model against the feature shape.
let dataProblems (facts: DataFacts) (c: RunConfig) : string list =
    let task = match facts.Task with Binary -> "binary" | MultiClass k -> $"multi-class ({k} classes)" | MultiLabel k -> $"multi-label ({k} labels)"
    let lossTask = Loss.task c.Loss
    [ match facts.Task, lossTask with
      | Binary, Data.LossTask.MultiClass | MultiLabel _, Data.LossTask.MultiClass ->
          yield $"Loss must be an element-wise (binary or multi-label) loss for the {task} data of {Dataset.label c.Dataset}, got '{Loss.label c.Loss}' (a multi-class loss)"
      | MultiClass _, (Data.LossTask.Binary | Data.LossTask.MultiLabel) -> yield $"Loss must be a multi-class loss for the {task} data of {Dataset.label c.Dataset}, got '{Loss.label c.Loss}' (an element-wise loss)"
      | _ -> ()
      if c.Reduction = BatchSumOverPositives && lossTask = Data.LossTask.MultiClass then
          yield $"Reduction batch sum over positives needs a binary or multi-label loss (positives are counted in 0/1 targets), got '{Loss.label c.Loss}' (a multi-class loss)"
      let rec perClass = function
          | SoftmaxFocal(w, _) | SoftmaxPoly1Focal(w, _, _) | SoftmaxFocalSampleDependent(_, w) -> w
          | Smoothed(_, inner) -> perClass inner
          | _ -> None
      match facts.Task, perClass c.Loss with
      | MultiClass k, Some w when w.Length <> k ->
          yield $"Loss.alpha must have one weight per class ({k}), got {w.Length}"
      | _ -> ()
      match c.Model, facts.Task with
      | Linear, (MultiClass _ | MultiLabel _) -> yield $"Model must have one output per class or label (logistic, mlp, cnn) for the {task} data of {Dataset.label c.Dataset}, got 'linear' (one output)"
      | _ -> ()
      for name, _, counts in facts.Splits do
          if (name = "train" || name = "test") && counts |> List.exists (fun n -> n = 0L) then
              let missing = counts |> List.indexed |> List.filter (fun (_, n) -> n = 0L) |> List.map fst
              match facts.Task with
              | MultiLabel _ ->
                  yield $"""Dataset {Dataset.label c.Dataset}: the {name} split (seed 0) holds no positive of label {String.Join(", ", missing)} (positives per label [{String.Join(", ", counts)}]); every label needs positives in the training and the test split for its AP to be defined"""
              | _ ->
                  yield $"""Dataset {Dataset.label c.Dataset}: the {name} split (seed 0) holds no sample of class {String.Join(", ", missing)} (class counts [{String.Join(", ", counts)}]); every class must be in the training and the test split for metrics to be defined"""
      match c.Model, facts.FeatureShape with
      | Cnn, [ 1L; 28L; 28L ] -> ()
      | Cnn, shape -> yield $"""Model cnn needs 28 x 28 images [1, 28, 28], got features of shape [{String.Join(", ", shape)}] from {Dataset.label c.Dataset}"""
      | _ -> () ]
