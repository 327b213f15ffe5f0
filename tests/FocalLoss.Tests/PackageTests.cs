using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Xml.Linq;
using Xunit;

namespace FocalLoss.Tests;

/// <summary>
/// Packs src/FocalLoss.CSharp once into a fresh local feed, as a user would with
/// <c>dotnet pack src/FocalLoss.CSharp -c Release -o &lt;feed&gt;</c>. Each run packs a unique prerelease
/// version (<c>0.1.0-test&lt;ticks&gt;</c>), so the NuGet global packages folder can never serve an older
/// build; the pack builds into its own artifacts folder, so it cannot race the repository's bin/ and obj/.
/// Never throws: the facts report a failed pack with its output.
/// </summary>
public sealed class PackedLibrary : IDisposable
{
    public const string PackageId = "FocalLoss.CSharp";
    private static readonly TimeSpan PackTimeout = TimeSpan.FromMinutes(5);

    /// <summary>Temp folder outside the repository holding the feed, the pack's artifacts and the scripts.</summary>
    public string Root { get; } = Path.Combine(Path.GetTempPath(), $"focal-package-{Guid.NewGuid():N}");
    public string Version { get; } = $"0.1.0-test{DateTime.UtcNow.Ticks}";
    public string Feed => Path.Combine(Root, "feed");
    public string Package => Path.Combine(Feed, $"{PackageId}.{Version}.nupkg");
    public DotnetRun Pack { get; }

    public PackedLibrary()
    {
        Directory.CreateDirectory(Root);
        var project = Path.Combine(Repo.Root, "src", "FocalLoss.CSharp", "FocalLoss.CSharp.csproj");
        Pack = DotnetRun.Start(Root, PackTimeout, "pack", project, "-c", "Release", "-o", Feed,
            "--artifacts-path", Path.Combine(Root, "artifacts"), $"-p:Version={Version}", "--disable-build-servers", "-nologo");
    }

    public void Dispose()
    {
        try { Directory.Delete(Root, recursive: true); }
        finally
        {
            // The script's restore extracted this run's unique version into the global packages folder and
            // dotnet fsi cached its resolution; both are ours alone and never used again.
            var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
                ? configured
                : Path.Combine(Home, ".nuget", "packages");
            var extracted = Path.Combine(packages, PackageId.ToLowerInvariant(), Version.ToLowerInvariant());
            try { if (Directory.Exists(extracted)) Directory.Delete(extracted, recursive: true); }
            finally { DeleteFsiResolutionCache(); }
        }
    }

    private static string Home => Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);

    /// <summary>dotnet fsi keeps each `#r "nuget:"` resolution in ~/.packagemanagement/nuget/Cache as a
    /// &lt;hash&gt;.fsx and &lt;hash&gt;.resolvedReferences.paths pair; delete the pairs that name this run's version.</summary>
    private void DeleteFsiResolutionCache()
    {
        var cache = Path.Combine(Home, ".packagemanagement", "nuget", "Cache");
        if (!Directory.Exists(cache)) return;
        var marker = $"{PackageId.ToLowerInvariant()}/{Version.ToLowerInvariant()}/";
        foreach (var file in Directory.EnumerateFiles(cache, "*.resolvedReferences.paths"))
        {
            if (!File.ReadAllText(file).Contains(marker, StringComparison.Ordinal)) continue;
            File.Delete(file);
            File.Delete(file[..^".resolvedReferences.paths".Length] + ".fsx");
        }
    }
}

/// <summary>The library as a user gets it: a NuGet package, consumed by a script outside the repository.</summary>
public class PackageTests(PackedLibrary packed) : IClassFixture<PackedLibrary>
{
    private static readonly TimeSpan ScriptTimeout = TimeSpan.FromMinutes(5);
    private const double Alpha = 0.4, Gamma = 1.5;
    private static readonly double[] Logits = [2.0, -1.0, 0.5, -3.0];
    private static readonly double[] Targets = [1.0, 0.0, 0.0, 1.0];

    [Fact]
    public void the_package_holds_the_assembly_its_xml_docs_the_readme_the_mit_licence_and_depends_on_torchsharp_cpu()
    {
        AssertPacked();
        using var zip = ZipFile.OpenRead(packed.Package);
        var entries = zip.Entries.Select(e => e.FullName).ToList();
        var listing = string.Join(", ", entries);
        foreach (var expected in new[] { "lib/net10.0/FocalLoss.CSharp.dll", "lib/net10.0/FocalLoss.CSharp.xml", "README.md" })
            Assert.True(entries.Contains(expected), $"{expected} missing from the package; it holds {listing}");

        using var nuspecStream = zip.GetEntry($"{PackedLibrary.PackageId}.nuspec")!.Open();
        var nuspec = XDocument.Load(nuspecStream);
        var ns = nuspec.Root!.Name.Namespace;
        var metadata = nuspec.Root.Element(ns + "metadata")!;
        Assert.Equal(PackedLibrary.PackageId, metadata.Element(ns + "id")?.Value);
        Assert.Equal(packed.Version, metadata.Element(ns + "version")?.Value);
        var license = metadata.Element(ns + "license");
        Assert.True(license?.Attribute("type")?.Value == "expression" && license.Value == "MIT", $"licence must be the MIT expression, got {license}");
        Assert.Equal("README.md", metadata.Element(ns + "readme")?.Value);
        Assert.False(string.IsNullOrWhiteSpace(metadata.Element(ns + "description")?.Value), "the package has no description");
        var dependencies = metadata.Descendants(ns + "dependency").Select(d => $"{d.Attribute("id")?.Value} {d.Attribute("version")?.Value}").ToList();
        Assert.Equal(["TorchSharp-cpu 0.107.0"], dependencies);
    }

    [Fact]
    public void a_script_outside_the_repository_restores_the_package_and_computes_the_hand_computed_focal_loss()
    {
        AssertPacked();
        var folder = Path.Combine(packed.Root, "script");
        Assert.False(Path.GetFullPath(folder).StartsWith(Path.GetFullPath(Repo.Root) + Path.DirectorySeparatorChar, StringComparison.Ordinal),
            $"the script folder {folder} must lie outside the repository {Repo.Root}");
        try
        {
            Directory.CreateDirectory(folder);
            File.WriteAllText(Path.Combine(folder, "consume.fsx"), Script(packed.Feed, packed.Version));
            var run = DotnetRun.Start(folder, ScriptTimeout, "fsi", "--quiet", "consume.fsx");
            Assert.True(run.Succeeded, $"the script failed:\n{run}");

            var expected = Logits.Select((x, i) => HandComputedFocalLoss(x, Targets[i], Alpha, Gamma)).ToArray();
            var perElement = ParseLine(run, "loss:");
            Assert.True(perElement.Length == expected.Length, $"expected {expected.Length} per-element losses:\n{run}");
            for (var i = 0; i < expected.Length; i++)
                Assert.True(Tol.Close(perElement[i], expected[i], Tol.IdentityRel64, Tol.IdentityAbs64),
                    $"element {i} (logit {Logits[i]}, target {Targets[i]}): script printed {perElement[i]:R}, hand-computed {expected[i]:R}\n{run}");
            var mean = Assert.Single(ParseLine(run, "mean:"));
            Assert.True(Tol.Close(mean, expected.Average(), Tol.IdentityRel64, Tol.IdentityAbs64),
                $"mean: script printed {mean:R}, hand-computed {expected.Average():R}\n{run}");
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>FL = alpha_t (1 - p_t)^gamma (-log p_t), p = sigmoid(x), written out for 0/1 targets (arXiv:1708.02002, eq. 5).</summary>
    private static double HandComputedFocalLoss(double logit, double target, double alpha, double gamma)
    {
        var p = 1.0 / (1.0 + Math.Exp(-logit));
        var p_t = target == 1.0 ? p : 1.0 - p;
        var alpha_t = target == 1.0 ? alpha : 1.0 - alpha;
        return alpha_t * Math.Pow(1.0 - p_t, gamma) * -Math.Log(p_t);
    }

    /// <summary>The throw-away consumer: a local feed, the package by exact version, the bootstrap first, one loss.</summary>
    private static string Script(string feed, string version)
    {
        static string Doubles(double[] values) => string.Join("; ", values.Select(v => v.ToString("0.0###", CultureInfo.InvariantCulture)));
        var inv = CultureInfo.InvariantCulture;
        return $$"""
            #i "nuget: {{feed}}"
            #r "nuget: {{PackedLibrary.PackageId}}, {{version}}"

            FocalLoss.TorchRuntime.EnsureLoaded() |> ignore
            open TorchSharp
            let show (v: float) = v.ToString("R", System.Globalization.CultureInfo.InvariantCulture)
            let inputs = torch.tensor([| {{Doubles(Logits)}} |], dtype = torch.float64)
            let targets = torch.tensor([| {{Doubles(Targets)}} |], dtype = torch.float64)
            let perElement = FocalLoss.Functional.sigmoid_focal_loss(inputs, targets, alpha = {{Alpha.ToString("R", inv)}}, gamma = {{Gamma.ToString("R", inv)}}, reduction = torch.nn.Reduction.None)
            let mean = FocalLoss.Functional.sigmoid_focal_loss(inputs, targets, alpha = {{Alpha.ToString("R", inv)}}, gamma = {{Gamma.ToString("R", inv)}})
            printfn "loss: %s" (perElement.data<float>().ToArray() |> Array.map show |> String.concat " ")
            printfn "mean: %s" (show (mean.item<float>()))
            """;
    }

    private static double[] ParseLine(DotnetRun run, string prefix)
    {
        var line = run.Stdout.Split('\n').Select(l => l.Trim()).FirstOrDefault(l => l.StartsWith(prefix, StringComparison.Ordinal));
        Assert.True(line is not null, $"the script printed no '{prefix}' line:\n{run}");
        return line[prefix.Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Select(s => double.Parse(s, NumberStyles.Float, CultureInfo.InvariantCulture)).ToArray();
    }

    private void AssertPacked() =>
        Assert.True(packed.Pack.Succeeded && File.Exists(packed.Package), $"dotnet pack did not produce {packed.Package}:\n{packed.Pack}");
}

/// <summary>One `dotnet` command with its output, for failure messages that show what the tool said.</summary>
public sealed record DotnetRun(string Command, int ExitCode, bool TimedOut, TimeSpan Elapsed, string Stdout, string Stderr)
{
    public bool Succeeded => !TimedOut && ExitCode == 0;

    public override string ToString() =>
        $"`{Command}` {(TimedOut ? "timed out and was killed" : $"exited {ExitCode}")} after {Elapsed.TotalSeconds:F1} s\n" +
        $"--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";

    /// <summary>
    /// Runs <c>dotnet</c> with <paramref name="args"/> in <paramref name="workingDirectory"/>, with MSBuild node
    /// reuse off (a lingering node would hold the output pipes open) and TMPDIR inside the caller's temp folder,
    /// so restore scratch files go when it does.
    /// </summary>
    public static DotnetRun Start(string workingDirectory, TimeSpan timeout, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        var tmp = Path.Combine(workingDirectory, "tmp");
        Directory.CreateDirectory(tmp);
        info.Environment["TMPDIR"] = tmp;
        info.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        info.Environment["DOTNET_CLI_USE_MSBUILD_SERVER"] = "0";
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";

        var clock = Stopwatch.StartNew();
        using var process = Process.Start(info) ?? throw new InvalidOperationException("could not start dotnet");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        var timedOut = !process.WaitForExit(timeout);
        if (timedOut)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
        }
        // A grandchild that outlives dotnet could keep the pipes open: take what arrived rather than hang.
        Task.WaitAll([stdout, stderr], TimeSpan.FromSeconds(30));
        static string Text(Task<string> t) => t.IsCompletedSuccessfully ? t.Result : "(pipe still open: a child process kept it)";
        return new DotnetRun($"dotnet {string.Join(' ', args)}", timedOut ? -1 : process.ExitCode, timedOut, clock.Elapsed, Text(stdout), Text(stderr));
    }
}
