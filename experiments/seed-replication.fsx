// What: reruns the seed tutorial (shared/seed/README.md) faithfully over many seeds, with the batch-sum
// gradient its MindSpore code really applies and with the batch mean, and writes
// results/seed-replication/runs.csv and summary.csv (median, min, max beside the seed's reported numbers).
// How: dotnet build -c Release && dotnet fsi experiments/seed-replication.fsx [--seeds 20] [--device auto]
#load "load.fsx"
open System.IO
open Analysis
open FocalLoss.Experiments
open FocalLoss.Training

let options =
    ScriptArgs.parse
        [ { Name = "seeds"; Default = "20"; Help = "number of seeds, 0..N-1" }
          { Name = "device"; Default = "auto"; Help = "auto, cpu, cuda or cuda:N" } ]
        (ScriptArgs.scriptArguments fsi.CommandLineArgs)
let seeds = ScriptArgs.int options "seeds"
let device = Devices.Resolve options["device"]
printfn "device: %O; config: %A" device (SeedReplication.Config(0L, BatchReduction.Sum, options["device"]))

let runs =
    SeedReplication.Run([ 0L .. int64 seeds - 1L ], [ BatchReduction.Sum; BatchReduction.Mean ], options["device"],
                        fun r -> printfn "seed %2d %-4s w %.5f b %.5f p(-1) %.6f test accuracy %.4f%s" r.Seed r.Reduction r.W r.B r.PAtMinus1 r.TestAccuracy (if r.Diverged then " DIVERGED" else ""))
let dir = Path.Combine(__SOURCE_DIRECTORY__, "..", "results", "seed-replication")
SeedReplication.Write(dir, runs)
printfn "%s" (SeedReplication.SummaryCsv(SeedReplication.Summarise runs))
printfn "wrote %s" (Path.GetFullPath dir)
