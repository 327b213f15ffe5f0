using System.Reflection;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using FocalLoss.Runtime;
using FocalLoss.Infrastructure;

namespace FocalLoss;

/// <summary>What <see cref="TorchRuntime.EnsureLoaded"/> did.</summary>
public enum TorchRuntimeAction
{
    /// <summary>Not Linux: TorchSharp's own loader is used unchanged.</summary>
    NotLinux,
    /// <summary>The system libstdc++ provides every version libLibTorchSharp.so needs: nothing was done.</summary>
    NotNeeded,
    /// <summary>A private copy with weak version needs was written (or reused) and preloaded.</summary>
    Patched,
}

/// <summary>The outcome of the native bootstrap, for diagnostics and tests.</summary>
/// <param name="Action">What was done.</param>
/// <param name="Original">The libLibTorchSharp.so that TorchSharp ships (null when not looked up).</param>
/// <param name="SystemLibStdCxx">The libstdc++ this process uses (null when not looked up).</param>
/// <param name="MissingVersions">Versions libLibTorchSharp.so needs that the system libstdc++ lacks.</param>
/// <param name="WeakenedSymbols">Symbols bound to those versions, each proven never relocated.</param>
/// <param name="PatchedCopy">The private patched copy that was preloaded (null unless patched).</param>
/// <param name="Preloaded">Every library preloaded, in order.</param>
public sealed record TorchRuntimeReport(
    TorchRuntimeAction Action,
    string? Original,
    string? SystemLibStdCxx,
    IReadOnlyList<string> MissingVersions,
    IReadOnlyList<string> WeakenedSymbols,
    string? PatchedCopy,
    IReadOnlyList<string> Preloaded);

/// <summary>Raised when TorchSharp's native library cannot be made to load safely on this system.</summary>
public sealed class TorchRuntimeException(string message) : InvalidOperationException(message);

/// <summary>
/// Native-runtime bootstrapper for TorchSharp on Linux systems whose libstdc++ is older than the one
/// TorchSharp was built against (Debian 12 and Ubuntu 22.04 stop at <c>GLIBCXX_3.4.30</c>; TorchSharp
/// 0.107.0's <c>libLibTorchSharp.so</c> asks for <c>GLIBCXX_3.4.32</c>).
/// </summary>
/// <remarks>
/// <para>The need comes from one symbol, <c>std::ios_base_library_init()</c>, that the library names
/// but never relocates, so no code ever calls it. The loader still refuses the file, because a
/// non-weak version need must be satisfied. <see cref="EnsureLoaded"/> therefore:</para>
/// <list type="number">
/// <item>does nothing off Linux, or when the system libstdc++ defines every needed version;</item>
/// <item>otherwise reads the ELF and proves that every symbol bound to a missing version is absent
/// from all dynamic relocations, and refuses with <see cref="TorchRuntimeException"/> if one is not
/// (a future TorchSharp that really uses GCC 13 symbols needs a newer libstdc++, not a patch);</item>
/// <item>writes a private copy with <c>VER_FLG_WEAK</c> set on those needs, and nothing else changed,
/// into a per-user cache keyed by the original's SHA-256 (<c>$XDG_CACHE_HOME</c> or <c>~/.cache</c>,
/// under <c>focal-workbench/native</c>; override with <c>FOCAL_WORKBENCH_NATIVE_CACHE</c>);</item>
/// <item>preloads libc10, libtorch_cpu, libtorch (and libtorch_cuda when present) and the copy with
/// <see cref="NativeLibrary.Load(string)"/>, and routes TorchSharp's <c>LibTorchSharp</c> imports to it.</item>
/// </list>
/// <para>It never writes to the NuGet cache or system folders, runs once per process, and is safe to
/// call from many threads and many times. Call it before creating the first tensor; the workbench's own
/// entry points call it themselves.</para>
/// </remarks>
public static class TorchRuntime
{
    /// <summary>The file TorchSharp's P/Invokes bind to.</summary>
    public const string LibTorchSharpFile = "libLibTorchSharp.so";

    private const string LibStdCxxSoname = "libstdc++.so.6";
    private static readonly string[] LibTorchPreloadOrder = ["libc10.so", "libtorch_cpu.so", "libc10_cuda.so", "libtorch_cuda.so", "libtorch.so"];
    private static readonly Lazy<TorchRuntimeReport> Report = new(Bootstrap, LazyThreadSafetyMode.ExecutionAndPublication);
    private static IntPtr _patchedHandle;

    /// <summary>
    /// Makes TorchSharp's native library loadable in this process (see the type's remarks). Idempotent
    /// and thread-safe; the first call does the work, later calls return the same report (or rethrow
    /// the same refusal).
    /// </summary>
    /// <exception cref="TorchRuntimeException">The library needs symbols this system's libstdc++ lacks.</exception>
    public static TorchRuntimeReport EnsureLoaded() => Report.Value;

    /// <summary>The environment variable that turns <see cref="RetainFreedMemory"/> on for a whole process at its first <see cref="EnsureLoaded"/>.</summary>
    public const string RetainFreedMemoryVariable = "FOCAL_RETAIN_FREED_MEMORY";

    private static int _retaining;

    /// <summary>
    /// Opt-in allocator setting (glibc on Linux; elsewhere it does nothing and returns false): large blocks come
    /// from the heap instead of fresh <c>mmap</c>s (<c>M_MMAP_MAX = 0</c>) and freed memory is not handed back to the
    /// kernel (<c>M_TRIM_THRESHOLD</c> = 2 GiB), the same as
    /// <c>GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=...</c>. A tensor allocated again after
    /// one of its size was freed then reuses pages already mapped instead of page-faulting fresh ones (about 15 us a
    /// 4 KiB page on the project VM: 150 ms for 40 MB). Cost: the process keeps its peak heap (resident memory
    /// does not fall after a large tensor is freed). Set <see cref="RetainFreedMemoryVariable"/>=1 to have
    /// <see cref="EnsureLoaded"/> call it, or call it at start-up; it affects allocations made after the call.
    /// </summary>
    public static bool RetainFreedMemory()
    {
        if (!OperatingSystem.IsLinux()) return false;
        if (Interlocked.Exchange(ref _retaining, 1) == 1) return true;
        const int M_TRIM_THRESHOLD = -1, M_MMAP_MAX = -4;
        try
        {
            return mallopt(M_MMAP_MAX, 0) == 1 & mallopt(M_TRIM_THRESHOLD, int.MaxValue) == 1;
        }
        catch (EntryPointNotFoundException)
        {
            return false; // not glibc (e.g. musl)
        }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    private static extern int mallopt(int param, int value);

    /// <summary>
    /// The safety analysis on its own: which libstdc++ versions <paramref name="library"/> needs that
    /// <paramref name="systemLibStdCxx"/> does not define, and the symbols bound to them. Throws
    /// <see cref="TorchRuntimeException"/> when any such symbol is relocated (really used).
    /// </summary>
    public static (IReadOnlyList<VersionNeed> Missing, IReadOnlyList<DynamicSymbol> Symbols) AnalyseMissingVersions(ElfImage library, ElfImage systemLibStdCxx) =>
        AnalyseMissingVersions(library, systemLibStdCxx.VersionDefinitions, systemLibStdCxx.Source);

    /// <summary>
    /// The safety analysis against a libstdc++ given by the versions it defines, so that it can be checked
    /// for any system (for example a GCC 12 libstdc++ on a machine that has GCC 13's).
    /// </summary>
    /// <param name="library">The library to load, e.g. TorchSharp's libLibTorchSharp.so.</param>
    /// <param name="systemVersions">The version names the system libstdc++ defines (<see cref="ElfImage.VersionDefinitions"/>).</param>
    /// <param name="systemSource">Names that libstdc++ in messages (a path).</param>
    /// <exception cref="TorchRuntimeException">A symbol bound to a missing version is relocated (really used).</exception>
    public static (IReadOnlyList<VersionNeed> Missing, IReadOnlyList<DynamicSymbol> Symbols) AnalyseMissingVersions(
        ElfImage library, IReadOnlySet<string> systemVersions, string systemSource)
    {
        var missing = library.VersionNeeds
            .Where(n => n.File == LibStdCxxSoname && !systemVersions.Contains(n.Version))
            .ToList();
        var symbols = new List<DynamicSymbol>();
        foreach (var need in missing)
        {
            var bound = library.SymbolsBoundTo(need);
            var used = bound.Where(s => s.IsDefined || library.RelocatedSymbols.Contains(s.Index)).ToList();
            if (used.Count > 0)
                throw new TorchRuntimeException(
                    $"{library.Source} needs {need.Version} from {need.File} for symbols that it really uses " +
                    $"({string.Join(", ", used.Select(s => s.Name))}), but {systemSource} defines only up to " +
                    $"{NewestGlibcxx(systemVersions)}. Marking that need weak would not be safe. Install a libstdc++ " +
                    $"that provides {need.Version} (GCC 13 or newer) or use a TorchSharp built for this system.");
            symbols.AddRange(bound);
        }
        return (missing, symbols);
    }

    /// <summary>
    /// Returns the bytes of a patched copy of <paramref name="library"/> with <c>VER_FLG_WEAK</c> on every
    /// libstdc++ version need that <paramref name="systemLibStdCxx"/> lacks, after proving it safe with
    /// <see cref="AnalyseMissingVersions(ElfImage, ElfImage)"/>. Returns null when nothing is missing.
    /// </summary>
    public static byte[]? PatchForSystem(ElfImage library, ElfImage systemLibStdCxx) =>
        PatchForSystem(library, systemLibStdCxx.VersionDefinitions, systemLibStdCxx.Source);

    /// <summary>
    /// <see cref="PatchForSystem(ElfImage, ElfImage)"/> against a libstdc++ given by the versions it defines.
    /// </summary>
    /// <param name="library">The library to patch.</param>
    /// <param name="systemVersions">The version names the system libstdc++ defines.</param>
    /// <param name="systemSource">Names that libstdc++ in messages (a path).</param>
    /// <exception cref="TorchRuntimeException">A symbol bound to a missing version is relocated (really used).</exception>
    public static byte[]? PatchForSystem(ElfImage library, IReadOnlySet<string> systemVersions, string systemSource)
    {
        var (missing, _) = AnalyseMissingVersions(library, systemVersions, systemSource);
        return missing.Count == 0 ? null : library.WithWeakNeeds(missing);
    }

    private static string NewestGlibcxx(IReadOnlySet<string> versions) =>
        versions.Where(v => v.StartsWith("GLIBCXX_3.4", StringComparison.Ordinal))
            .OrderBy(v => v.Length).ThenBy(v => v, StringComparer.Ordinal).LastOrDefault() ?? "(no GLIBCXX versions)";

    private static TorchRuntimeReport Bootstrap()
    {
        if (Environment.GetEnvironmentVariable(RetainFreedMemoryVariable) is "1" or "true")
            RetainFreedMemory();
        if (!OperatingSystem.IsLinux())
            return new TorchRuntimeReport(TorchRuntimeAction.NotLinux, null, null, [], [], null, []);

        var original = FindNativeFile(LibTorchSharpFile, TorchSharpNativeDirectories())
            ?? throw new TorchRuntimeException(
                $"{LibTorchSharpFile} was not found; searched: {string.Join(", ", TorchSharpNativeDirectories())}. " +
                "Reference the TorchSharp-cpu (or a TorchSharp CUDA) package.");
        var systemPath = LocateLoadedLibStdCxx();
        var library = ElfImage.Load(original);
        var system = ElfImage.Load(systemPath);
        var (missing, symbols) = AnalyseMissingVersions(library, system);
        if (missing.Count == 0)
            return new TorchRuntimeReport(TorchRuntimeAction.NotNeeded, original, systemPath, [], [], null, []);

        var patched = library.WithWeakNeeds(missing);
        var copy = WritePrivateCopy(patched, SHA256.HashData(library.Bytes));

        var libtorchDir = Path.GetDirectoryName(FindNativeFile("libtorch_cpu.so", LibTorchNativeDirectories(original))
            ?? throw new TorchRuntimeException(
                $"libtorch_cpu.so was not found next to {original} nor in the NuGet cache; searched: " +
                string.Join(", ", LibTorchNativeDirectories(original))))!;
        var preloaded = new List<string>();
        foreach (var name in LibTorchPreloadOrder)
        {
            var path = Path.Combine(libtorchDir, name);
            if (!File.Exists(path)) continue;
            NativeLibrary.Load(path);
            preloaded.Add(path);
        }
        try
        {
            _patchedHandle = NativeLibrary.Load(copy);
        }
        catch (DllNotFoundException e)
        {
            throw new TorchRuntimeException($"the patched copy {copy} of {original} still failed to load: {e.Message}");
        }
        preloaded.Add(copy);
        RouteTorchSharpImports();
        return new TorchRuntimeReport(TorchRuntimeAction.Patched, original, systemPath,
            missing.Select(m => m.Version).Distinct().ToList(), symbols.Select(s => s.Name).Distinct().ToList(), copy, preloaded);
    }

    private static void RouteTorchSharpImports()
    {
        // TorchSharp's [DllImport("LibTorchSharp")] would otherwise probe its own folder first and dlopen
        // the unpatched file by path. A resolver on its assembly answers with the patched handle. If some
        // other code already installed a resolver, the bare-name dlopen still finds the copy by its soname.
        try
        {
            NativeLibrary.SetDllImportResolver(typeof(TorchSharp.torch).Assembly,
                (name, _, _) => name is "LibTorchSharp" or "libLibTorchSharp" or LibTorchSharpFile ? _patchedHandle : IntPtr.Zero);
        }
        catch (InvalidOperationException)
        {
            // A resolver is already set for TorchSharp; leave it in place.
        }
    }

    private static string WritePrivateCopy(byte[] patched, byte[] originalHash)
    {
        var root = Environment.GetEnvironmentVariable("FOCAL_WORKBENCH_NATIVE_CACHE");
        if (string.IsNullOrEmpty(root))
        {
            var cacheHome = Environment.GetEnvironmentVariable("XDG_CACHE_HOME");
            if (string.IsNullOrEmpty(cacheHome))
                cacheHome = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache");
            root = Path.Combine(cacheHome, "focal-workbench", "native");
        }
        var dir = Path.Combine(root, Convert.ToHexStringLower(originalHash));
        var target = Path.Combine(dir, LibTorchSharpFile);
        if (File.Exists(target) && File.ReadAllBytes(target).AsSpan().SequenceEqual(patched))
            return target;
        // Atomic: a concurrent process sees the old copy or the new one, never half of it.
        Infrastructure.AtomicFile.Write(target, temp => File.WriteAllBytes(temp, patched));
        return target;
    }

    /// <summary>The path of the libstdc++ this process has mapped (loading it by soname if needed).</summary>
    private static string LocateLoadedLibStdCxx()
    {
        string? Mapped() => File.ReadLines("/proc/self/maps")
            .Select(line => line.IndexOf('/') is var i and >= 0 ? line[i..] : null)
            .FirstOrDefault(p => p is not null && Path.GetFileName(p).StartsWith("libstdc++.so", StringComparison.Ordinal));
        var path = Mapped();
        if (path is null)
        {
            NativeLibrary.Load(LibStdCxxSoname);
            path = Mapped();
        }
        return path ?? throw new TorchRuntimeException($"{LibStdCxxSoname} is not mapped into this process and could not be loaded");
    }

    private static string? FindNativeFile(string fileName, IEnumerable<string> directories) =>
        directories.Select(d => Path.Combine(d, fileName)).FirstOrDefault(File.Exists);

    private static IEnumerable<string> NativeDirectoriesOf(string baseDirectory)
    {
        yield return baseDirectory;
        yield return Path.Combine(baseDirectory, "runtimes", "linux-x64", "native");
    }

    private static List<string> TorchSharpNativeDirectories()
    {
        var dirs = new List<string>();
        if (AppContext.GetData("NATIVE_DLL_SEARCH_DIRECTORIES") is string searchDirs)
            dirs.AddRange(searchDirs.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries));
        dirs.AddRange(NativeDirectoriesOf(AppContext.BaseDirectory));
        var torchSharpDll = typeof(TorchSharp.torch).Assembly.Location;
        if (!string.IsNullOrEmpty(torchSharpDll))
        {
            var dllDir = Path.GetDirectoryName(torchSharpDll)!;
            dirs.AddRange(NativeDirectoriesOf(dllDir));
            // NuGet layout: <root>/torchsharp/<version>/lib/<tfm>/TorchSharp.dll, natives in <root>/torchsharp/<version>/runtimes/...
            var packageDir = Path.GetFullPath(Path.Combine(dllDir, "..", ".."));
            dirs.Add(Path.Combine(packageDir, "runtimes", "linux-x64", "native"));
        }
        var version = typeof(TorchSharp.torch).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0];
        if (version is not null)
            dirs.Add(Path.Combine(NuGetRoot(), "torchsharp", version, "runtimes", "linux-x64", "native"));
        return dirs.Distinct().ToList();
    }

    private static List<string> LibTorchNativeDirectories(string libTorchSharp)
    {
        var dirs = new List<string> { Path.GetDirectoryName(libTorchSharp)! };
        dirs.AddRange(TorchSharpNativeDirectories());
        foreach (var package in new[] { "libtorch-cpu-linux-x64", "libtorch-cuda-12.8-linux-x64" })
        {
            var packageRoot = Path.Combine(NuGetRoot(), package);
            if (!Directory.Exists(packageRoot)) continue;
            dirs.AddRange(Directory.GetDirectories(packageRoot).OrderDescending(StringComparer.Ordinal)
                .Select(v => Path.Combine(v, "runtimes", "linux-x64", "native")));
        }
        return dirs.Distinct().ToList();
    }

    private static string NuGetRoot() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } configured
            ? configured
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
}
