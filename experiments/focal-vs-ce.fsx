// What: the main comparison. Focal loss (several alpha/gamma) against plain and alpha-balanced
// cross-entropy on the seed's one-feature data, 2-D Gaussian tasks at 50 %, 10 % and 1 % positives, a 10-D Gaussian
// task at 1 % positives with 10 % of training labels flipped, and a dense-easy-negatives task at 1 % positives, 5 seeds each, every loss on the same data and initialisation
// per seed. Writes results/focal-vs-ce/report.html (self-contained) and summary.md with verdicts.
// How: dotnet build -c Release && dotnet fsi experiments/focal-vs-ce.fsx [--seeds 5 --epochs 10 --device auto --workers 2 --shard k/n]
#load "load.fsx"
open Analysis
open Analysis.Config

let options = ScriptArgs.parse (Experiment.standardOptions 5 10) (ScriptArgs.scriptArguments fsi.CommandLineArgs)

let baseConfig = Experiment.applyStandard options { defaults with Experiment = "focal-vs-ce"; Model = "logistic"; Optimizer = "adam"; LearningRate = 0.01; BatchSize = 64 }

let datasets : (RunConfig -> RunConfig) list =
    [ fun c -> { c with Dataset = "seed-line"; Model = "linear" }                                              // the seed's task: 1 feature
      fun c -> { c with Dataset = "gaussian"; PositiveRate = 0.5 }
      fun c -> { c with Dataset = "gaussian"; PositiveRate = 0.1 }
      fun c -> { c with Dataset = "gaussian"; PositiveRate = 0.01; TrainCount = 10000; TestCount = 10000 }      // 100 positives each
      fun c -> { c with Dataset = "gaussian"; Features = 10; PositiveRate = 0.01; LabelNoise = 0.1; TrainCount = 10000; TestCount = 10000 }  // noisy labels
      fun c -> { c with Dataset = "dense-easy-negatives"; PositiveRate = 0.01; TrainCount = 10000; TestCount = 10000; Model = "mlp" } ]

let losses : (RunConfig -> RunConfig) list =
    [ fun c -> { c with Loss = "bce" }                                          // the baseline
      fun c -> { c with Loss = "balanced_bce"; Alpha = 0.25 }
      fun c -> { c with Loss = "sigmoid_focal"; Alpha = 0.25; Gamma = 2.0 }     // the paper's setting
      fun c -> { c with Loss = "sigmoid_focal"; Alpha = -1.0; Gamma = 2.0 }
      fun c -> { c with Loss = "sigmoid_focal"; Alpha = 0.25; Gamma = 0.5 } ]

Experiment.runAndReport
    "Focal loss against cross-entropy"
    "Does focal loss (Lin et al. 2017) beat plain cross-entropy, and when? Each loss setting is trained on the same data and initialisation per seed; verdicts use paired differences of average precision against plain cross-entropy."
    options (grid baseConfig datasets losses (Experiment.seeds options))
|> ignore
