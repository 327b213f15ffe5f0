// What: write your own loss in a script, check the laws you claim for it with FsCheck (a shrunk
// counterexample for every law it breaks), then sweep it against cross-entropy and focal loss with the
// standard report. The example is a Poly-1 focal loss written by hand (Leng et al. 2022, arXiv:2204.12511):
// FL + epsilon (1 - p_t)^(gamma + 1), in log space, and a naive variant that takes log p_t of a float32
// probability; the first keeps its laws (and equals the library's poly1_focal_loss), the second breaks one
// and shows where.
// Writes results/check-your-loss/laws.md, report.html and summary.md.
// How: dotnet build -c Release && dotnet fsi experiments/check-your-loss.fsx [--seeds 5 --epochs 10 --workers 2] (-- --help lists the options)
#load "load.fsx"
open System.IO
open TorchSharp
open FocalLoss
open Analysis
open Analysis.Config
open type TorchSharp.torch.nn.functional

/// Poly-1 focal loss on logits, alpha off: z is the logit signed towards the target, p_t = sigmoid(z),
/// 1 - p_t = sigmoid(-z), CE = -log sigmoid(z), all from logsigmoid so nothing overflows.
let poly1Focal (epsilon: float) (gamma: float) : LossLaws.LossFn =
    fun x t ->
        let z = x * (2.0 * t - 1.0)
        let ce = -(logsigmoid(z))
        let log1mPt = logsigmoid(-z)
        (gamma * log1mPt).exp() * ce + epsilon * ((gamma + 1.0) * log1mPt).exp()

/// The same formula written naively: p_t from the probability, then log p_t. In float32 a logit of -100 for
/// a positive gives p_t = 0 and log p_t = -inf.
let naivePoly1Focal (epsilon: float) (gamma: float) : LossLaws.LossFn =
    fun x t ->
        let p = x.sigmoid()
        let pt = p * t + (1.0 - p) * (1.0 - t)
        let oneMinusPt = 1.0 - pt
        -(gamma * oneMinusPt.log()).exp() * pt.log() + epsilon * ((gamma + 1.0) * oneMinusPt.log()).exp()

/// The loss as an ILossFunction for training: per-element values, reduced as the trainer asks.
let poly1FocalModule (epsilon: float) (gamma: float) =
    { new ILossFunction with
        member _.Name = "poly1_focal"
        member _.Input = LossInput.Logits
        member _.Task = FocalLoss.Data.LossTask.Binary
        member _.HyperParameters = dict [ "epsilon", string epsilon; "gamma", string gamma ] |> System.Collections.Generic.Dictionary :> _
        member _.Compute(inputs, targets, reduction) =
            let loss = poly1Focal epsilon gamma inputs targets
            match reduction with
            | torch.nn.Reduction.None -> loss
            | torch.nn.Reduction.Sum -> loss.sum()
            | _ -> loss.mean() }

// Register the loss by name, then let this script serve as a sweep worker when it is started as one.
CustomLosses.register("poly1_focal", FocalLoss.Data.LossTask.Binary, [ "epsilon"; "gamma" ], fun ps -> poly1FocalModule ps["epsilon"] ps["gamma"])
Experiment.serveAsWorker fsi.CommandLineArgs

let cli = Cli.sweep "check-your-loss.fsx" 5 10 (Cli.scriptArguments fsi.CommandLineArgs)
let focalReference : LossLaws.LossFn = fun x t -> Functional.sigmoid_focal_loss(x, t, System.Nullable(), 2.0, reduction = torch.nn.Reduction.None)
let libraryPoly1 : LossLaws.LossFn = fun x t -> Functional.poly1_focal_loss(x, t, System.Nullable(), 2.0, 1.0, reduction = torch.nn.Reduction.None)
let laws =
    [ LossLaws.NonIncreasingInPt; LossLaws.LabelFlipSymmetric; LossLaws.FiniteAtExtremes; LossLaws.GradientMatchesFiniteDifferences ]
// A fixed FsCheck seed, so that laws.md is the same on every run (LossLaws.check draws a fresh one each time).
let check = LossLaws.checkWith 200 (Some(20261130UL, 7UL))
let good = check (LossLaws.Function("poly-1 focal", poly1Focal 1.0 2.0)) laws
let atZero =
    check (LossLaws.Function("poly-1 focal, epsilon 0", poly1Focal 0.0 2.0)) [ LossLaws.ReducesTo("focal loss (gamma 2, alpha off)", focalReference) ]
    @ check (LossLaws.Function("poly-1 focal", poly1Focal 1.0 2.0)) [ LossLaws.ReducesTo("the library's poly1_focal_loss (alpha off, gamma 2, epsilon 1)", libraryPoly1) ]
let naive = check (LossLaws.Function("naive poly-1 focal", naivePoly1Focal 1.0 2.0)) laws
printfn "\nPoly-1 focal (epsilon 1, gamma 2), written in log space:\n%s" (LossLaws.format (good @ atZero))
printfn "\nThe same formula from float32 probabilities:\n%s" (LossLaws.format naive)
let folder = Path.Combine(cli.Results, "check-your-loss")
Directory.CreateDirectory folder |> ignore
File.WriteAllText(Path.Combine(folder, "laws.md"),
    $"# Laws of a loss written in a script\n\nPoly-1 focal loss (epsilon 1, gamma 2), in log space:\n\n```\n{LossLaws.format (good @ atZero)}\n```\n\nThe same formula from float32 probabilities:\n\n```\n{LossLaws.format naive}\n```\n")

// Sweep the script's loss against CE and focal loss on two tasks; the workers are this script.
let baseConfig = Experiment.applyStandard cli { defaults with Experiment = "check-your-loss"; Model = Logistic; Optimizer = Adam 0.01 }
let tasks : (RunConfig -> RunConfig) list =
    [ fun c -> { c with Dataset = Gaussian({ Train = 10000; Test = 10000 }, features = 2, positiveRate = 0.01, labelNoise = 0.0) }
      fun c -> { c with Dataset = DenseEasyNegatives({ Train = 10000; Test = 10000 }, positiveRate = 0.01); Model = Mlp [ 32 ] } ]
let losses : (RunConfig -> RunConfig) list =
    [ fun c -> { c with Loss = BinaryCrossEntropy }
      fun c -> { c with Loss = SigmoidFocal(None, 2.0) }
      fun c -> { c with Loss = Custom("poly1_focal", [ "epsilon", 1.0; "gamma", 2.0 ]) } ]
Experiment.runAndReportWith (Experiment.scriptWorker (Path.Combine(__SOURCE_DIRECTORY__, __SOURCE_FILE__))) "A loss written in a script against cross-entropy"
    "Poly-1 focal loss, written in this script and registered by name, swept in parallel worker processes that are this script, against plain cross-entropy and focal loss (gamma 2, alpha off)."
    cli (Experiment.grid baseConfig tasks losses (Experiment.seeds cli))
|> ignore
