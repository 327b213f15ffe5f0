// What: real digits. (1) digit 3 against the rest at 1 % positives (binary: focal loss against plain and
// balanced cross-entropy, MLP); (2) a long-tailed 10-class split with imbalance ratio 100 (softmax focal
// loss against softmax cross-entropy, MLP). Uses the 10,000 digits in data/mnist-10k, 30 % held out.
// Writes results/mnist/report.html and summary.md.
// How: dotnet build -c Release && dotnet fsi experiments/mnist.fsx [--seeds 6 --epochs 8 --workers 2] (-- --help lists the options)
#load "load.fsx"
open Analysis
open Analysis.Config

let cli = Cli.sweep "mnist.fsx" 6 8 (Cli.scriptArguments fsi.CommandLineArgs)
let baseConfig = Experiment.applyStandard cli { defaults with Experiment = "mnist"; Model = Mlp [ 64 ]; Optimizer = Adam 0.003; BatchSize = 64 }
let binary =
    Experiment.grid { baseConfig with Dataset = MnistOneVsRest(digit = 3, positiveRate = 0.01) } [ id ]
        [ (fun c -> { c with Loss = BinaryCrossEntropy }); (fun c -> { c with Loss = BalancedBinaryCrossEntropy 0.25 })
          (fun c -> { c with Loss = SigmoidFocal(Some 0.25, 2.0) }); (fun c -> { c with Loss = SigmoidFocal(None, 2.0) }) ]
        (Experiment.seeds cli)
let longTailed =
    Experiment.grid { baseConfig with Dataset = MnistLongTailed 100.0 } [ id ]
        [ (fun c -> { c with Loss = SoftmaxCrossEntropy }); (fun c -> { c with Loss = SoftmaxFocal(None, 1.0) })
          (fun c -> { c with Loss = SoftmaxFocal(None, 2.0) }) ]
        (Experiment.seeds cli)
Experiment.runAndReport "Focal loss on real digits"
    "MNIST (10,000 real digits): digit 3 against the rest at 1 % positives, and a long-tailed 10-class split (ratio 100), focal loss against cross-entropy on the same split, initialisation and seed."
    cli (binary @ longTailed)
|> ignore
