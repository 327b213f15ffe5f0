// What: real digits. (1) digit 3 against the rest at 1 % positives (binary: focal loss against plain and
// balanced cross-entropy, MLP); (2) a long-tailed 10-class split with imbalance ratio 100 (softmax focal
// loss against softmax cross-entropy, MLP). Uses the 10,000 digits in data/mnist-10k, 30 % held out.
// Writes results/mnist/report.html and summary.md.
// How: dotnet build -c Release && dotnet fsi experiments/mnist.fsx [--seeds 3 --epochs 8 --workers 2]
#load "load.fsx"
open Analysis
open Analysis.Config

let options = ScriptArgs.parse (Experiment.standardOptions 3 8) (ScriptArgs.scriptArguments fsi.CommandLineArgs)
let baseConfig = Experiment.applyStandard options { defaults with Experiment = "mnist"; Model = "mlp"; Hidden = 64; LearningRate = 0.003; BatchSize = 64 }
let binary =
    grid { baseConfig with Dataset = "mnist-one-vs-rest"; Digit = 3; PositiveRate = 0.01 } [ id ]
        [ (fun c -> { c with Loss = "bce" }); (fun c -> { c with Loss = "balanced_bce"; Alpha = 0.25 })
          (fun c -> { c with Loss = "sigmoid_focal"; Alpha = 0.25; Gamma = 2.0 }); (fun c -> { c with Loss = "sigmoid_focal"; Alpha = -1.0; Gamma = 2.0 }) ]
        (Experiment.seeds options)
let longTailed =
    grid { baseConfig with Dataset = "mnist-long-tailed"; ImbalanceRatio = 100.0 } [ id ]
        [ (fun c -> { c with Loss = "cross_entropy" }); (fun c -> { c with Loss = "softmax_focal"; Alpha = -1.0; Gamma = 1.0 })
          (fun c -> { c with Loss = "softmax_focal"; Alpha = -1.0; Gamma = 2.0 }) ]
        (Experiment.seeds options)
Experiment.runAndReport "Focal loss on real digits"
    "MNIST (10,000 real digits): digit 3 against the rest at 1 % positives, and a long-tailed 10-class split (ratio 100), focal loss against cross-entropy on the same split, initialisation and seed."
    options (binary @ longTailed)
|> ignore
