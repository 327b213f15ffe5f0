using System.Buffers.Binary;
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
        // symbol that IS relocated (operator delete) to the GLIBCXX_3.4.32 need, in a private byte copy.
        var library = ElfImage.Load(Original);
        var need = library.VersionNeeds.Single(n => n.Version == "GLIBCXX_3.4.32");
        var used = library.Symbols.First(s => IsRelocatedLibStdCxxSymbol(library, s));
        var bytes = library.Bytes.ToArray();
        var versym = FindVersymOffset(bytes);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan((int)(versym + used.Index * 2L), 2), (ushort)need.Index);
        var future = ElfImage.Parse(bytes, "future-libLibTorchSharp.so");
        var system = SystemLibStdCxx;
        if (system.VersionDefinitions.Contains("GLIBCXX_3.4.32"))
            return; // a system with GCC 13's libstdc++ has nothing missing: nothing to refuse
        var e = Assert.Throws<TorchRuntimeException>(() => TorchRuntime.PatchForSystem(future, system));
        Assert.Contains(used.Name, e.Message);
        Assert.Contains("GLIBCXX_3.4.32", e.Message);
        Assert.Contains("not be safe", e.Message);
    }

    [Fact]
    public void the_bootstrap_patched_a_private_copy_or_did_nothing_where_not_needed()
    {
        var system = SystemLibStdCxx;
        if (system.VersionDefinitions.Contains("GLIBCXX_3.4.32"))
        {
            Assert.Equal(TorchRuntimeAction.NotNeeded, Report.Action);
            Assert.Null(TorchRuntime.PatchForSystem(ElfImage.Load(Original), system));
            return;
        }
        Assert.Equal(TorchRuntimeAction.Patched, Report.Action);
        Assert.Equal(["GLIBCXX_3.4.32"], Report.MissingVersions);
        Assert.Equal(["_ZSt21ios_base_library_initv"], Report.WeakenedSymbols);
        var copy = Report.PatchedCopy!;
        Assert.DoesNotContain(".nuget", copy);
        Assert.False(copy.StartsWith("/usr", StringComparison.Ordinal));
        Assert.NotEqual(Path.GetFullPath(Report.Original!), Path.GetFullPath(copy));
        Assert.True(ElfImage.Load(copy).VersionNeeds.Single(n => n.Version == "GLIBCXX_3.4.32").IsWeak);
        Assert.False(ElfImage.Load(Report.Original!).VersionNeeds.Single(n => n.Version == "GLIBCXX_3.4.32").IsWeak);
        Assert.Equal(copy, Report.Preloaded[^1]);
        Assert.Contains(Report.Preloaded, p => p.EndsWith("libtorch_cpu.so", StringComparison.Ordinal));
    }

    [Fact]
    public void ensure_loaded_is_idempotent_and_thread_safe()
    {
        var reports = new TorchRuntimeReport[16];
        Parallel.For(0, reports.Length, i => reports[i] = TorchRuntime.EnsureLoaded());
        Assert.All(reports, r => Assert.Same(Report, r));
        using var t = TorchSharp.torch.ones(3);
        Assert.Equal(3f, t.sum().item<float>());
    }

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
