using System.Buffers.Binary;
using System.Diagnostics;
using FocalLoss.Runtime;
using Xunit;

namespace FocalLoss.Tests;

/// <summary>The native bootstrap, on a real copy of TorchSharp's libLibTorchSharp.so.</summary>
public class TorchRuntimeTests
{
    private static readonly TorchRuntimeReport Report = TorchRuntime.EnsureLoaded();
    private static string Original => Report.Original ?? Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", TorchRuntime.LibTorchSharpFile);
    private static ElfImage SystemLibStdCxx => ElfImage.Load(Report.SystemLibStdCxx ?? "/usr/lib/x86_64-linux-gnu/libstdc++.so.6");

    [Fact]
    public void the_elf_reader_finds_the_glibcxx_3_4_32_need_and_its_single_unrelocated_symbol()
    {
        var library = ElfImage.Load(Original);
        var need = Assert.Single(library.VersionNeeds, n => n.Version == "GLIBCXX_3.4.32");
        Assert.Equal("libstdc++.so.6", need.File);
        Assert.False(need.IsWeak);
        var symbol = Assert.Single(library.SymbolsBoundTo(need));
        Assert.Equal("_ZSt21ios_base_library_initv", symbol.Name);
        Assert.False(symbol.IsDefined);
        Assert.DoesNotContain(symbol.Index, library.RelocatedSymbols);
        // Sanity of the relocation reader: the library does relocate plenty of other libstdc++ symbols.
        Assert.True(library.RelocatedSymbols.Count > 100, $"only {library.RelocatedSymbols.Count} relocated symbols found");
        Assert.Contains(library.Symbols, s => IsRelocatedLibStdCxxSymbol(library, s));
    }

    [Fact]
    public void the_elf_reader_lists_the_versions_the_system_libstdcxx_defines()
    {
        var system = SystemLibStdCxx;
        Assert.Contains("GLIBCXX_3.4", system.VersionDefinitions);
        Assert.Contains("CXXABI_1.3", system.VersionDefinitions);
    }

    [Fact]
    public void patching_sets_only_the_weak_flag_on_the_missing_need()
    {
        var library = ElfImage.Load(Original);
        var need = library.VersionNeeds.Single(n => n.Version == "GLIBCXX_3.4.32");
        var patched = library.WithWeakNeeds([need]);
        var differing = Enumerable.Range(0, patched.Length).Where(i => patched[i] != library.Bytes[i]).ToList();
        Assert.Equal([need.FlagsOffset], differing.Select(i => (long)i).ToList());
        var reread = ElfImage.Parse(patched, "patched");
        Assert.True(reread.VersionNeeds.Single(n => n.Version == "GLIBCXX_3.4.32").IsWeak);
        Assert.All(reread.VersionNeeds.Where(n => n.Version != "GLIBCXX_3.4.32"), n => Assert.Equal(
            library.VersionNeeds.Single(o => o.File == n.File && o.Version == n.Version).Flags, n.Flags));
    }

    [Fact]
    public void the_analysis_refuses_when_a_missing_version_symbol_is_relocated()
    {
        // Simulate a future TorchSharp that really calls a GCC 13 symbol: retarget the version index of a
        // symbol that IS relocated (operator delete) to the GLIBCXX_3.4.32 need, in a private byte copy, and
        // analyse it against GCC 12's libstdc++ whatever this machine has.
        var library = ElfImage.Load(Original);
        var need = library.VersionNeeds.Single(n => n.Version == "GLIBCXX_3.4.32");
        var used = library.Symbols.First(s => IsRelocatedLibStdCxxSymbol(library, s));
        var bytes = library.Bytes.ToArray();
        var versym = FindVersymOffset(bytes);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan((int)(versym + used.Index * 2L), 2), (ushort)need.Index);
        var future = ElfImage.Parse(bytes, "future-libLibTorchSharp.so");
        var e = Assert.Throws<TorchRuntimeException>(() => TorchRuntime.PatchForSystem(future, Gcc12LibStdCxx, "gcc-12-libstdc++.so.6"));
        Assert.Contains(used.Name, e.Message);
        Assert.Contains("GLIBCXX_3.4.32", e.Message);
        Assert.Contains("gcc-12-libstdc++.so.6 defines only up to GLIBCXX_3.4.30", e.Message);
        Assert.Contains("not be safe", e.Message);
    }

    [Fact]
    public void the_shipped_library_is_patched_for_gcc_12s_libstdcxx_on_its_one_missing_need_and_left_alone_for_gcc_13s()
    {
        var library = ElfImage.Load(Original);
        var need = library.VersionNeeds.Single(n => n.Version == "GLIBCXX_3.4.32");
        var (missing, symbols) = TorchRuntime.AnalyseMissingVersions(library, Gcc12LibStdCxx, "gcc-12");
        Assert.Equal(["GLIBCXX_3.4.32"], missing.Select(n => n.Version));
        Assert.Equal(["_ZSt21ios_base_library_initv"], symbols.Select(s => s.Name));
        var patched = TorchRuntime.PatchForSystem(library, Gcc12LibStdCxx, "gcc-12");
        Assert.NotNull(patched);
        var differing = Enumerable.Range(0, patched!.Length).Where(i => patched[i] != library.Bytes[i]).Select(i => (long)i);
        Assert.Equal([need.FlagsOffset], differing);
        Assert.Null(TorchRuntime.PatchForSystem(library, Gcc13LibStdCxx, "gcc-13"));
        Assert.Empty(TorchRuntime.AnalyseMissingVersions(library, Gcc13LibStdCxx, "gcc-13").Missing);
    }

    [Fact]
    public void the_bootstrap_loaded_the_library_its_report_names_and_patched_only_where_the_system_lacks_a_needed_version()
    {
        using (var t = TorchSharp.torch.ones(1)) { }  // TorchSharp's native library is mapped by now, patched or not
        var library = ElfImage.Load(Original);
        var system = SystemLibStdCxx;
        // Read from the ELF files here, not taken from TorchRuntime: what the library needs that this system lacks.
        var lacking = library.VersionNeeds.Where(n => n.File == "libstdc++.so.6" && !system.VersionDefinitions.Contains(n.Version))
            .Select(n => n.Version).Distinct().ToList();
        var mapped = MappedLibTorchSharp();
        Assert.True(mapped.Count > 0, "no libLibTorchSharp.so is mapped into this process");
        if (lacking.Count == 0)
        {
            Assert.Equal(TorchRuntimeAction.NotNeeded, Report.Action);
            Assert.Null(Report.PatchedCopy);
            Assert.Empty(Report.Preloaded);
            // TorchSharp loaded an unpatched file: every version need in it is as shipped (none weak).
            Assert.All(mapped, m => Assert.True(ElfImage.Load(m).VersionNeeds.All(n => !n.IsWeak), $"{m} has a weak version need"));
            return;
        }
        Assert.Equal(TorchRuntimeAction.Patched, Report.Action);
        Assert.Equal(lacking, Report.MissingVersions);
        Assert.Equal(["_ZSt21ios_base_library_initv"], Report.WeakenedSymbols);
        var copy = Report.PatchedCopy!;
        Assert.DoesNotContain(".nuget", copy);
        Assert.False(copy.StartsWith("/usr", StringComparison.Ordinal), $"copy {copy} lies under /usr");
        Assert.NotEqual(Path.GetFullPath(Report.Original!), Path.GetFullPath(copy));
        Assert.True(ElfImage.Load(copy).VersionNeeds.Single(n => n.Version == "GLIBCXX_3.4.32").IsWeak, "the copy's need is weak");
        Assert.False(ElfImage.Load(Report.Original!).VersionNeeds.Single(n => n.Version == "GLIBCXX_3.4.32").IsWeak, "the original is untouched");
        Assert.Equal(copy, Report.Preloaded[^1]);
        Assert.Contains(Report.Preloaded, p => p.EndsWith("libtorch_cpu.so", StringComparison.Ordinal));
        // The process runs on the copy: it is the one libLibTorchSharp.so mapped, the original is not.
        Assert.Equal([Path.GetFullPath(copy)], mapped);
    }

    [Fact]
    public void sixteen_threads_racing_on_the_first_load_in_a_fresh_process_get_one_report_and_a_working_torch()
    {
        // In this process the runtime was loaded before any test ran; the race needs a process of its own.
        var cache = Directory.CreateTempSubdirectory("focal-first-load-");
        try
        {
            var output = RunFirstLoadRace(cache.FullName);
            Assert.True(output["loaded_before_race"] == "False", "the child touched libtorch before the race");
            Assert.True(output["errors"] == "0", $"EnsureLoaded threw: {output["first_error"]}");
            Assert.True(int.Parse(output["entered_before_first_return"]) >= 2,
                $"only {output["entered_before_first_return"]} of {FirstLoadRace.Threads} calls were under way before the first returned: no race");
            Assert.True(output["distinct_reports"] == "1", $"{output["distinct_reports"]} different reports from {FirstLoadRace.Threads} racing calls");
            Assert.True(output["later_call_same_report"] == "True", "a later call returned another report");
            Assert.True(output["action"] == Report.Action.ToString(), $"the child did {output["action"]}, this process {Report.Action}");
            Assert.True(output["tensor_sum"] == "3", $"ones(3).sum() gave {output["tensor_sum"]}");
        }
        finally
        {
            cache.Delete(recursive: true);
        }
    }

    /// <summary>Runs <see cref="FirstLoadRace"/> in a fresh process with its own native cache; its key=value lines.</summary>
    private static Dictionary<string, string> RunFirstLoadRace(string nativeCache)
    {
        var host = Environment.ProcessPath is { } path && Path.GetFileNameWithoutExtension(path) == "dotnet" ? path : "dotnet";
        var info = new ProcessStartInfo(host, [typeof(FirstLoadRace).Assembly.Location, FirstLoadRace.Command])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        info.Environment["FOCAL_WORKBENCH_NATIVE_CACHE"] = nativeCache;  // the copy is written during the race, not found
        using var child = Process.Start(info)!;
        var stderr = child.StandardError.ReadToEndAsync();
        var stdout = child.StandardOutput.ReadToEndAsync();
        if (!child.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            child.Kill(entireProcessTree: true);
            Assert.Fail("the first-load race did not finish within 120 s");
        }
        Assert.True(child.ExitCode == 0, $"the first-load race exited with {child.ExitCode}: {stderr.Result}{stdout.Result}");
        return stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => line.Split('=', 2)).Where(kv => kv.Length == 2)
            .ToDictionary(kv => kv[0], kv => kv[1].Trim());
    }

    /// <summary>The libLibTorchSharp.so files mapped into this process (full paths, distinct).</summary>
    private static List<string> MappedLibTorchSharp() =>
        File.ReadLines("/proc/self/maps")
            .Select(line => line.IndexOf('/') is var i and >= 0 ? line[i..].Trim() : null)
            .Where(p => p is not null && Path.GetFileName(p) == TorchRuntime.LibTorchSharpFile)
            .Select(p => p!).Distinct().ToList();

    /// <summary>The versions Debian 12's libstdc++ (GCC 12) defines: it stops at GLIBCXX_3.4.30.</summary>
    private static readonly IReadOnlySet<string> Gcc12LibStdCxx =
        Enumerable.Range(0, 31).Select(i => i == 0 ? "GLIBCXX_3.4" : $"GLIBCXX_3.4.{i}")
            .Concat(Enumerable.Range(0, 14).Select(i => i == 0 ? "CXXABI_1.3" : $"CXXABI_1.3.{i}"))
            .ToHashSet(StringComparer.Ordinal);

    /// <summary>GCC 13's libstdc++ adds GLIBCXX_3.4.31, GLIBCXX_3.4.32 and CXXABI_1.3.14.</summary>
    private static readonly IReadOnlySet<string> Gcc13LibStdCxx =
        Gcc12LibStdCxx.Concat(["GLIBCXX_3.4.31", "GLIBCXX_3.4.32", "CXXABI_1.3.14"]).ToHashSet(StringComparer.Ordinal);

    [Fact]
    public void non_elf_input_is_rejected_with_the_source_named()
    {
        var e = Assert.Throws<InvalidDataException>(() => ElfImage.Parse(new byte[100], "bogus.so"));
        Assert.Contains("bogus.so", e.Message);
    }

    private static bool IsRelocatedLibStdCxxSymbol(ElfImage library, DynamicSymbol symbol) =>
        library.RelocatedSymbols.Contains(symbol.Index)
        && library.VersionNeeds.Any(n => n.File == "libstdc++.so.6" && n.Index == symbol.VersionIndex && n.Version.StartsWith("GLIBCXX", StringComparison.Ordinal));

    private static long FindVersymOffset(byte[] bytes)
    {
        var shoff = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(0x28));
        var shentsize = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(0x3a));
        var shnum = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(0x3c));
        for (var i = 0; i < shnum; i++)
        {
            var h = (int)(shoff + i * shentsize);
            if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(h + 4)) == 0x6fffffff)
                return (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan(h + 0x18));
        }
        throw new InvalidDataException("no .gnu.version section");
    }
}
