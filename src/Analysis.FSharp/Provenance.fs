/// Where a report's numbers come from: the command, the code (git commit, dirty or not), the software and
/// the machine, read when the report is written.
module Analysis.Provenance

open System
open System.Diagnostics
open System.IO
open System.Runtime.InteropServices

/// What produced a set of results.
type Provenance =
    { CommandLine: string
      /// The commit of the repository the results were written from, "unknown" outside a git checkout.
      Commit: string
      /// Whether tracked files differed from that commit ("dirty"), and how many.
      Dirty: string
      DotNet: string
      TorchSharp: string
      LibTorch: string
      FSharpCore: string
      OperatingSystem: string
      Cpu: string
      Cores: int }

/// Runs git in a folder; None when git is missing or fails.
let private git (folder: string) (args: string list) =
    try
        let info = ProcessStartInfo("git", args, WorkingDirectory = folder, RedirectStandardOutput = true, RedirectStandardError = true)
        use p = Process.Start info |> nonNull
        let out = p.StandardOutput.ReadToEnd()
        p.StandardError.ReadToEnd() |> ignore
        p.WaitForExit()
        if p.ExitCode = 0 then Some(out.Trim()) else None
    with _ -> None

/// The libtorch package and version this build restored, read from the dependency manifest beside the
/// analysis library (e.g. "libtorch-cpu-linux-x64 2.10.0").
let libTorchVersion () =
    let deps = Path.ChangeExtension(typeof<Provenance>.Assembly.Location, ".deps.json") |> nonNull
    if not (File.Exists deps) then "libtorch (no dependency manifest beside the library)"
    else
        let found = Text.RegularExpressions.Regex.Matches(File.ReadAllText deps, "\"(libtorch-[a-z0-9-]+)/([0-9][0-9.]*)\"")
        let os = if OperatingSystem.IsLinux() then "linux" elif OperatingSystem.IsMacOS() then "osx" else "win"
        let platform = $"{os}-{RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant()}"
        let all = [ for m in found -> m.Groups[1].Value, m.Groups[2].Value ] |> List.distinct
        match all |> List.filter (fun (name, _) -> name.EndsWith platform), all with
        | (name, version) :: _, _ -> $"{name} {version}"
        | [], [] -> "libtorch (not in the dependency manifest)"
        | [], others -> String.Join(", ", others |> List.map (fun (n, v) -> $"{n} {v}"))

/// The CPU model from /proc/cpuinfo, or the architecture where that file does not exist.
let cpuModel () =
    try
        File.ReadLines "/proc/cpuinfo"
        |> Seq.tryFind (fun l -> l.StartsWith "model name")
        |> Option.map (fun l -> l.Substring(l.IndexOf(':') + 1).Trim())
        |> Option.defaultValue (string RuntimeInformation.ProcessArchitecture)
    with _ -> string RuntimeInformation.ProcessArchitecture

/// Reads the provenance of results written now from the repository at `repoRoot`.
let read (repoRoot: string) =
    let version (t: Type) = t.Assembly.GetName().Version |> Option.ofObj |> Option.map string |> Option.defaultValue "?"
    // Results written by the run itself are not the code: results/ is left out.
    let status = git repoRoot [ "status"; "--porcelain"; "--"; "."; ":(exclude)results" ]
    { CommandLine = String.Join(" ", Environment.GetCommandLineArgs())
      Commit = git repoRoot [ "rev-parse"; "HEAD" ] |> Option.defaultValue "unknown (not a git checkout)"
      Dirty =
        match status with
        | None -> "unknown"
        | Some "" -> "clean: the files are as committed"
        | Some s -> $"dirty: {s.Split('\n').Length} file(s) outside results/ differ from the commit or are untracked"
      DotNet = $"{RuntimeInformation.FrameworkDescription}"
      TorchSharp = version typeof<TorchSharp.torch>
      LibTorch = libTorchVersion ()
      FSharpCore =
        match typeof<list<int>>.Assembly.GetCustomAttributes(typeof<Reflection.AssemblyInformationalVersionAttribute>, false) with
        | [| :? Reflection.AssemblyInformationalVersionAttribute as a |] -> a.InformationalVersion.Split('+')[0]
        | _ -> version typeof<list<int>>
      OperatingSystem = RuntimeInformation.OSDescription
      Cpu = cpuModel ()
      Cores = Environment.ProcessorCount }
