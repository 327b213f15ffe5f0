// What: the focal-loss table of the seed tutorial (loss of a positive sample against p_t, alpha 0.25,
// gamma 0..5) beside plain cross-entropy. How: dotnet build -c Release && dotnet fsi experiments/loss-table.fsx
#load "load.fsx"
open Analysis

printfn "Device: %s" (if TorchSharp.torch.cuda.is_available() then "cuda" else "cpu")
LossCurves.curve (Some 0.25) [ 0.0; 0.5; 1.0; 2.0; 5.0 ] [ 0.05; 0.1; 0.25; 0.5; 0.7; 0.9; 0.99 ]
|> LossCurves.formatTable
|> printfn "%s"
