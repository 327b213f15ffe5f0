// What: multi-label classification, ASL's home ground (Ridnik et al. 2021, arXiv:2009.14119). Cross-entropy
// per label, focal loss and the asymmetric loss (ASL at the authors' defaults gamma- 4, gamma+ 1, margin 0.05,
// and at the paper's recommended gamma+ 0) on
// (1) MNIST pairs: 28 x 84 images of 2 or 3 real digits, labelled with the digits shown (10 labels, 77 % of
// label slots negative), train and test from disjoint halves of data/mnist-10k; (2) a synthetic linear
// multi-label task, 8 labels at 10 % positive slots in 16 features with label noise. Every loss is
// paired with per-label cross-entropy on the same data, initialisation and seed; the report judges mAP,
// F1 at 0.5 and the calibration of the pooled label slots, before and after one temperature.
// Writes results/asl-vs-focal/report.html and summary.md.
// How: dotnet build -c Release && dotnet fsi experiments/asl-vs-focal.fsx [--seeds 6 --epochs 10 --workers 2] (-- --help lists the options)
#load "load.fsx"
open Analysis
open Analysis.Config

let cli = Cli.sweep "asl-vs-focal.fsx" 6 10 (Cli.scriptArguments fsi.CommandLineArgs)
let baseConfig = Experiment.applyStandard cli { defaults with Experiment = "asl-vs-focal"; Model = Mlp [ 128 ]; Optimizer = Adam 0.001; BatchSize = 64 }
let tasks : (RunConfig -> RunConfig) list =
    [ fun c -> { c with Dataset = MnistPairs({ Train = 6000; Test = 3000 }, maxDigits = 3) }
      fun c -> { c with Dataset = MultiLabelLinear({ Train = 6000; Test = 6000 }, labels = 8, features = 16, positiveRate = 0.1); Model = Mlp [ 64 ]; Optimizer = Adam 0.003 } ]
let losses : (RunConfig -> RunConfig) list =
    [ fun c -> { c with Loss = BinaryCrossEntropy }
      fun c -> { c with Loss = SigmoidFocal(None, 2.0) }
      fun c -> { c with Loss = SigmoidFocal(Some 0.25, 2.0) }
      fun c -> { c with Loss = Asymmetric(gammaNeg = 4.0, gammaPos = 1.0, clip = 0.05, detachFocusingWeight = false) }
      fun c -> { c with Loss = Asymmetric(gammaNeg = 4.0, gammaPos = 0.0, clip = 0.05, detachFocusingWeight = false) } ]
Experiment.runAndReport "Asymmetric loss and focal loss on multi-label data"
    "Multi-label: MNIST pairs (2 or 3 real digits per image, 10 labels) and a synthetic linear task (8 labels, 10 % positive slots); per-label cross-entropy, focal loss and the asymmetric loss, paired by seed."
    cli (Experiment.grid baseConfig tasks losses (Experiment.seeds cli))
|> ignore
