/// Every entry point loads TorchSharp through the bootstrap: this runs a real `dotnet fsi` script.
module Analysis.Tests.EntryPointTests

open System
open System.Diagnostics
open System.IO
open System.Text.RegularExpressions
open Expecto

/// The repository root, found from the test binary's folder.
let repoRoot =
    let rec up (dir: DirectoryInfo | null) =
        match dir with
        | null -> failwith "Workbench.sln not found above the test binary"
        | d when File.Exists(Path.Combine(d.FullName, "Workbench.sln")) -> d.FullName
        | d -> up d.Parent
    up (DirectoryInfo AppContext.BaseDirectory)

let run (file: string) (args: string) =
    let info = ProcessStartInfo(file, args, WorkingDirectory = repoRoot, RedirectStandardOutput = true, RedirectStandardError = true)
    use proc = Process.Start info |> nonNull
    let stdout = proc.StandardOutput.ReadToEndAsync()
    let stderr = proc.StandardError.ReadToEnd()
    proc.WaitForExit()
    proc.ExitCode, stdout.Result, stderr

[<Tests>]
let tests =
    testList "entry points" [
        testCase "a dotnet fsi script computes a focal loss first thing" <| fun () ->
            let code, out, err = run "dotnet" "fsi --quiet experiments/loss-table.fsx"
            Expect.equal code 0 $"dotnet fsi exited {code}: {err}"
            Expect.stringContains out "FL g=2" "the script printed the loss table"
            Expect.stringContains out "TorchSharp native runtime:" "the script reported the bootstrap"

        testCase "a loss written in a script keeps and breaks its laws, and is swept in parallel by the script as worker" <| fun () ->
            let results = Directory.CreateTempSubdirectory("wb-cyl").FullName
            let code, out, err = run "dotnet" $"fsi --quiet experiments/check-your-loss.fsx --seeds 2 --epochs 1 --workers 2 --results {results}"
            Expect.equal code 0 $"dotnet fsi exited {code}: {err}"
            Expect.isTrue (Regex.IsMatch(out, @"gradient = finite differences \(float64\) +\| holds")) "the log-space loss keeps its laws"
            Expect.isTrue (Regex.IsMatch(out, @"reduces to the library's poly1_focal_loss \(alpha off, gamma 2, epsilon 1\) +\| holds")) "and equals the family's Poly-1"
            Expect.stringContains out "| BROKEN  |" "the naive variant breaks one"
            Expect.stringContains out "logits [" "with a shrunk counterexample"
            Expect.stringContains out "workers: 2" "the sweep ran in two worker processes"
            let summary = File.ReadAllText(Path.Combine(results, "check-your-loss", "summary.md"))
            Expect.stringContains summary "poly1_focal(epsilon=1, gamma=2)" "the script's loss is in the report"
            Expect.isTrue (File.Exists(Path.Combine(results, "check-your-loss", "laws.md"))) "the law table is written"
    ]
