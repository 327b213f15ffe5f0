// What: the merge step after a sharded sweep (--shard k/n on several machines): copies the run files of
// every shard's results/<experiment>/runs folder into one, then writes the report from the union.
// How: dotnet fsi experiments/merge.fsx --experiment focal-vs-ce --from /shared/shard1/results,/shared/shard2/results
#load "load.fsx"
open System.IO
open Analysis

let options =
    ScriptArgs.parse
        [ { Name = "experiment"; Default = ""; Help = "experiment name, e.g. focal-vs-ce" }
          { Name = "from"; Default = ""; Help = "comma-separated results roots of the shards" }
          { Name = "results"; Default = Path.Combine(Runner.repoRoot, "results"); Help = "results root to merge into" } ]
        (ScriptArgs.scriptArguments fsi.CommandLineArgs)
let experiment = options["experiment"]
let sources = options["from"].Split(',', System.StringSplitOptions.RemoveEmptyEntries) |> Array.map (fun root -> Runner.runsFolder root experiment) |> List.ofArray
let target = Runner.runsFolder options["results"] experiment
let count = Runner.merge sources target
printfn "merged %d shard folder(s) into %s: %d runs" sources.Length target count
let written = Report.write (Path.Combine(options["results"], experiment)) $"{experiment} (merged shards)" $"Merged from {sources.Length} shard result folders." nan (Runner.loadAll target)
printfn "wrote %s" written.Html
