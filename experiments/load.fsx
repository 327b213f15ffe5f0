// Shared loader for every experiment script: references the workbench the same way each time and runs
// the TorchSharp native bootstrap before any tensor exists. Build first: dotnet build -c Release
#r "../src/Analysis.FSharp/bin/Release/net10.0/TorchSharp.dll"
#r "../src/Analysis.FSharp/bin/Release/net10.0/FocalLoss.CSharp.dll"
#r "../src/Analysis.FSharp/bin/Release/net10.0/Analysis.FSharp.dll"

let workbenchRuntime = FocalLoss.TorchRuntime.EnsureLoaded()
printfn "TorchSharp native runtime: %A" workbenchRuntime.Action
