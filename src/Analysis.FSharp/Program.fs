/// The program face of this library: `worker` is the process a parallel sweep starts (one per worker);
/// it reads its configs from stdin and stops when the sweep process is gone.
module Analysis.Program

[<EntryPoint>]
let main argv =
    match List.ofArray argv with
    | "worker" :: rest ->
        let folder, threads = Cli.worker (Array.ofList rest)
        Runner.worker folder threads
    | _ ->
        eprintfn "usage: dotnet Analysis.FSharp.dll worker --runs FOLDER [--threads N] (configs as one JSON line on stdin); experiments live in experiments/*.fsx"
        2
