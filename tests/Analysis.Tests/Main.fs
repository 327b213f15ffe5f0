module Analysis.Tests.Main

open Expecto

[<EntryPoint>]
let main argv =
    FocalLoss.TorchRuntime.EnsureLoaded() |> ignore   // every entry point goes through the native bootstrap first
    match argv with
    | [| "--sweep-child"; root |] -> SweepTests.sweepChild root   // the process the kill -9 test kills
    | _ -> Tests.runTestsInAssemblyWithCLIArgs [] argv
