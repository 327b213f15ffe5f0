// What: the merge step after a sharded sweep (--shard k/n on several machines): copies the run files of
// every shard's results/<experiment>/runs folder into one, then writes the report from the union.
// How: dotnet fsi experiments/merge.fsx --experiment focal-vs-ce --from /shared/shard1/results,/shared/shard2/results (-- --help lists the options)
#load "load.fsx"
open System.IO
open Analysis

let experiment, roots, results = Cli.merge "merge.fsx" (Cli.scriptArguments fsi.CommandLineArgs)
let sources = roots |> List.map (fun root -> Runner.runsFolder root experiment)
for source in sources do
    if not (Directory.Exists source) then eprintfn "warning: %s has no runs folder for experiment '%s'" source experiment
    for bad in Runner.incompleteFiles source do eprintfn "warning: %s is not a complete run record and is not merged" bad
let target = Runner.runsFolder results experiment
let count = Runner.merge sources target
printfn "merged %d shard folder(s) into %s: %d runs" sources.Length target count
if count = 0 then
    eprintfn "no run of experiment '%s' was found under %s: nothing to report" experiment (String.concat ", " roots)
    exit 2
let written = Report.write (Path.Combine(results, experiment)) $"{experiment} (merged shards)" $"Merged from {sources.Length} shard result folders." Report.unknownSweep (Runner.loadAll target)
printfn "wrote %s" written.Html
