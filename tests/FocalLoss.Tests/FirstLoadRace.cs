using System.Diagnostics;
using System.Runtime.CompilerServices;
using TorchSharp;

namespace FocalLoss.Tests;

/// <summary>
/// This assembly's entry point, for one job: <c>dotnet FocalLoss.Tests.dll first-load-race</c> starts a fresh
/// process in which <see cref="Threads"/> threads, released together by a barrier, make the process's very
/// first TorchSharp call, <see cref="TorchRuntime.EnsureLoaded"/>, and it prints what they got as
/// <c>key=value</c> lines. Inside the test host the runtime is loaded before any test runs (see
/// <see cref="NativeBootstrap"/>), so only a fresh process can race on the first load.
/// </summary>
/// <remarks>
/// The test project sets <c>GenerateProgramFile</c> to false so that this is its <c>Main</c>; running it
/// as a program reuses the test build's runtimeconfig, deps file and native libraries, so no second
/// project copies libtorch. <see cref="TorchRuntimeTests"/> starts it and asserts on its output.
/// </remarks>
public static class FirstLoadRace
{
    public const string Command = "first-load-race";
    public const int Threads = 16;

    public static int Main(string[] args)
    {
        if (args is not [Command])
        {
            Console.Error.WriteLine($"usage: dotnet FocalLoss.Tests.dll {Command}");
            return 2;
        }
        Console.WriteLine($"loaded_before_race={LibTorchMapped()}");
        var reports = new TorchRuntimeReport?[Threads];
        var errors = new string?[Threads];
        var entered = new long[Threads];
        var returned = new long[Threads];
        using var barrier = new Barrier(Threads);
        var threads = Enumerable.Range(0, Threads).Select(i => new Thread(() =>
        {
            barrier.SignalAndWait();
            entered[i] = Stopwatch.GetTimestamp();
            try { reports[i] = TorchRuntime.EnsureLoaded(); }
            catch (Exception e) { errors[i] = $"{e.GetType().Name}: {e.Message}"; }
            returned[i] = Stopwatch.GetTimestamp();
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => t.Join());
        var firstReturn = returned.Min();
        Console.WriteLine($"threads={Threads}");
        // How many calls were already under way when the first one returned: the race really happened.
        Console.WriteLine($"entered_before_first_return={entered.Count(t => t < firstReturn)}");
        Console.WriteLine($"errors={errors.Count(e => e is not null)}");
        Console.WriteLine($"first_error={errors.FirstOrDefault(e => e is not null) ?? "none"}");
        Console.WriteLine($"distinct_reports={reports.Where(r => r is not null).Distinct(ReferenceEqualityComparer.Instance).Count()}");
        Console.WriteLine($"later_call_same_report={ReferenceEquals(TorchRuntime.EnsureLoaded(), reports[0])}");
        Console.WriteLine($"action={reports[0]?.Action}");
        Console.WriteLine($"tensor_sum={TensorSum():R}");
        return 0;
    }

    /// <summary>Whether libtorch or TorchSharp's native library is mapped into this process yet.</summary>
    internal static bool LibTorchMapped() =>
        File.ReadLines("/proc/self/maps").Any(l => l.EndsWith("/libLibTorchSharp.so", StringComparison.Ordinal) || l.EndsWith("/libtorch_cpu.so", StringComparison.Ordinal));

    // Separate and not inlined, so that nothing touches TorchSharp's torch class before the race.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static double TensorSum()
    {
        using var t = torch.ones(3, dtype: torch.ScalarType.Float64);
        using var sum = t.sum();
        return sum.item<double>();
    }
}
