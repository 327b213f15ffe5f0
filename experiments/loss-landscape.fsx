// What: the loss and its gradient against p_t, the probability of the true class, for gamma in
// {0, 0.5, 1, 2, 5} (Figure 1 of Lin et al. 2017), computed by the workbench's own sigmoid_focal_loss.
// Writes results/loss-landscape/report.html, curves.csv and summary.md.
// How: dotnet build -c Release && dotnet fsi experiments/loss-landscape.fsx [--alpha none] [--points 199] [--results DIR] (-- --help lists the options)
#load "load.fsx"
open System.IO
open Analysis

let alpha, n, results = Cli.landscape "loss-landscape.fsx" (Cli.scriptArguments fsi.CommandLineArgs)
printfn "device: cpu (closed-form curves); alpha: %A; points: %d" alpha n
let points = LossCurves.curve alpha [ 0.0; 0.5; 1.0; 2.0; 5.0 ] [ for k in 1 .. n -> float k / float (n + 1) ]
let path =
    Report.writeCurves (Path.Combine(results, "loss-landscape")) "The focal loss landscape"
        "Loss and gradient of a sample against p_t for gamma 0 (cross-entropy) to 5: larger gamma flattens the loss of well-classified samples (p_t > 0.5) and shrinks their gradient, so training focuses on the hard ones." points
printfn "wrote %s" path
