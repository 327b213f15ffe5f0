// What: reruns the seed tutorial (shared/seed/README.md) faithfully over many seeds, with the batch-sum
// gradient its MindSpore code really applies and with the batch mean, and writes
// results/seed-replication/runs.csv and summary.csv (median, min, max beside the seed's reported numbers).
// Each run is a typed config of the ordinary sweep (parallel, resumable); its weights come from the run files.
// How: dotnet build -c Release && dotnet fsi experiments/seed-replication.fsx [--seeds 20] [--device auto] (-- --help lists the options)
#load "load.fsx"
open System.IO
open Analysis
open Analysis.Config
open Analysis.SeedReplication

let seeds, device = Cli.seedReplication "seed-replication.fsx" (Cli.scriptArguments fsi.CommandLineArgs)
let configs = [ for reduction in [ BatchSum; BatchMean ] do for seed in 0 .. seeds - 1 -> config device reduction seed ]
printfn "device: %O; seeds 0..%d; config: %A" (FocalLoss.Infrastructure.Devices.Resolve(Device.text device)) (seeds - 1) (List.head configs)
let runs = Runner.sweep Runner.defaultSweep configs |> List.map ofRecord
for r in runs do
    printfn "seed %2d %-9A w %.5f b %.5f p(-1) %.6f test accuracy %.4f%s" r.Seed r.Reduction r.W r.B r.PAtMinus1 r.TestAccuracy (if r.Diverged then " DIVERGED" else "")
let dir = Path.Combine(Data.repoRoot, "results", "seed-replication")
write dir runs
printfn "%s" (summaryCsv (summarise runs))
printfn "wrote %s" dir
