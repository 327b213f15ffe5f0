// What: the analogue of Table 1 (a) of Lin et al. 2017: average precision over an alpha x gamma grid on a
// 2-D Gaussian task at 1 % positives, against plain cross-entropy. Answers: does the best alpha fall as
// gamma rises, as the paper reports? Writes results/alpha-gamma-grid/report.html (heatmap) and summary.md.
// How: dotnet build -c Release && dotnet fsi experiments/alpha-gamma-grid.fsx [--seeds 3 --epochs 10 --workers 2] (-- --help lists the options)
#load "load.fsx"
open Analysis
open Analysis.Config

let cli = Cli.sweep "alpha-gamma-grid.fsx" 3 10 (Cli.scriptArguments fsi.CommandLineArgs)
let baseConfig =
    Experiment.applyStandard cli
        { defaults with Experiment = "alpha-gamma-grid"; Dataset = Gaussian({ Train = 10000; Test = 10000 }, features = 2, positiveRate = 0.01, labelNoise = 0.0) }
let alphas = [ 0.1; 0.25; 0.5; 0.75; 0.9 ]
let gammas = [ 0.0; 0.5; 1.0; 2.0; 5.0 ]
let losses =
    (fun (c: RunConfig) -> { c with Loss = BinaryCrossEntropy })
    :: [ for a in alphas do for g in gammas -> fun (c: RunConfig) -> { c with Loss = SigmoidFocal(Some a, g) } ]
let configs = Experiment.grid baseConfig [ id ] losses (Experiment.seeds cli)
let records, written =
    Experiment.runAndReport "Alpha x gamma grid (Table 1 analogue)"
        "Average precision of focal loss over alpha in {0.1, 0.25, 0.5, 0.75, 0.9} and gamma in {0, 0.5, 1, 2, 5} on a 2-D Gaussian task at 1 % positives, each against plain cross-entropy on the same data and seed."
        cli configs
let summary = Frames.summaries records
let finding = Experiment.bestAlphaPerGamma (taskLabel (List.head configs)) "average_precision" summary (Frames.pairedDifferences records) |> Experiment.describeBestAlpha
printfn "\nDoes the best alpha fall as gamma rises? %s" finding
match written with
| Some w -> System.IO.File.AppendAllText(w.Markdown, $"\n## Does the best alpha fall as gamma rises?\n\n{finding}\n")
| None -> ()
