/// The workbench's program: the seed tutorial's focal-loss table. (The worker that parallel sweeps start
/// is Analysis.FSharp itself: `dotnet Analysis.FSharp.dll worker`.)
module Workbench.Program

open System
open Analysis

let private lossTable () =
    let runtime = FocalLoss.TorchRuntime.EnsureLoaded()
    printfn "TorchSharp native runtime: %A%s" runtime.Action (match runtime.PatchedCopy with null -> "" | copy -> $" ({copy})")
    printfn "Device: %s" (if TorchSharp.torch.cuda.is_available() then "cuda" else "cpu")
    printfn ""
    printfn "Seed experiment loss table: focal loss of a positive sample (alpha = 0.25) against p_t"
    let gammas = [ 0.0; 0.5; 1.0; 2.0; 5.0 ]
    let pts = [ 0.05; 0.1; 0.25; 0.5; 0.7; 0.75; 0.9; 0.95; 0.99 ]
    printfn "%s" (LossCurves.curve (Some 0.25) gammas pts |> LossCurves.formatTable)
    printfn ""
    printfn "The seed's prediction at x = -1 was 0.70212436: at p_t = 0.7 and gamma = 2 the focal loss is"
    printfn "(1 - 0.7)^2 = 0.09 of alpha-weighted cross-entropy, so easy examples barely train the model."
    0

[<EntryPoint>]
let main argv =
    match List.ofArray argv with
    | [] -> lossTable ()
    | other ->
        eprintfn "unknown arguments %A; run without arguments for the loss table (experiments live in experiments/*.fsx)" other
        2
