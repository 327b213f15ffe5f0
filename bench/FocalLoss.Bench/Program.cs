// Benchmark: FocalLoss.Functional.sigmoid_focal_loss against TorchSharp's own
// torchvision.ops.sigmoid_focal_loss (TorchVision 0.107.0), in the same process, float32, forward and
// forward+backward, N = 1e4 .. 1e7, 1 and 2 intra-op threads. Prints a markdown table with medians and
// the ratio workbench / torchvision (below 1 = the workbench is faster).
//
// Usage: dotnet run -c Release --project bench/FocalLoss.Bench [-- --sizes 10000,100000 --min-seconds 1] (-- --help lists the options)
// bench/run.sh runs it twice: with glibc's default allocator and with
// GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=1099511627776 (see bench/README.md).
using System.Diagnostics;
using System.Globalization;
using FocalLoss;
using TorchSharp;
using static TorchSharp.torch;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var options = Analysis.Cli.bench(args);   // Argu: typed options, --help, errors listing the valid ones
if (options.SeedLoopRepeats is { } repeats)
    return SeedLoopBench.Run(repeats.Value);
var sizes = options.Sizes.ToArray();
var threads = options.Threads.ToArray();
var minSeconds = options.MinSeconds;

var runtime = TorchRuntime.EnsureLoaded();
Console.WriteLine($"# sigmoid_focal_loss benchmark (float32, alpha 0.25, gamma 2, reduction mean)");
Console.WriteLine($"native runtime: {runtime.Action}; device: cpu; GLIBC_TUNABLES={Environment.GetEnvironmentVariable("GLIBC_TUNABLES") ?? "(unset)"}");
Console.WriteLine($"processors: {Environment.ProcessorCount}; {RuntimeInfo()}");

// Sanity: both implementations compute the same number (else the timing comparison means nothing).
using (var scope = NewDisposeScope())
{
    manual_seed(0);
    var x = randn(100_000) * 4;
    var t = (rand(100_000) < 0.3).to_type(ScalarType.Float32);
    var ours = Functional.sigmoid_focal_loss(x, t).item<float>();
    var theirs = torchvision.ops.sigmoid_focal_loss(x, t, 0.25, 2.0, nn.Reduction.Mean).item<float>();
    Console.WriteLine($"agreement at N = 1e5: workbench {ours:R}, torchvision {theirs:R}, relative difference {Math.Abs(ours - theirs) / Math.Abs(theirs):E2}");
    if (Math.Abs(ours - theirs) > 1e-5 * Math.Abs(theirs))
    {
        Console.Error.WriteLine("the two implementations disagree: refusing to time them");
        return 1;
    }
}

Console.WriteLine();
Console.WriteLine("| N | threads | pass | torchvision ms | workbench ms | ratio | workbench, value checks off ms | ratio |");
Console.WriteLine("|---:|---:|---|---:|---:|---:|---:|---:|");
foreach (var n in sizes)
foreach (var threadCount in threads)
{
    torch.set_num_threads(threadCount);
    foreach (var backward in new[] { false, true })
    {
        using var scope = NewDisposeScope();
        manual_seed(1);
        var x = (randn(n) * 4).requires_grad_(backward);
        var t = (rand(n) < 0.3).to_type(ScalarType.Float32);
        Action tv = () => Step(() => torchvision.ops.sigmoid_focal_loss(x, t, 0.25, 2.0, nn.Reduction.Mean), x, backward);
        Action wb = () => Step(() => Functional.sigmoid_focal_loss(x, t), x, backward);
        Action wbUnchecked = () =>
        {
            using (Guard.WithoutValueChecks()) Step(() => Functional.sigmoid_focal_loss(x, t), x, backward);
        };
        var (a, b, c) = Measure(tv, wb, wbUnchecked, minSeconds);
        Console.WriteLine($"| {n:0.#e+0} | {threadCount} | {(backward ? "fwd+bwd" : "fwd")} | {a:F3} | {b:F3} | {b / a:F2} | {c:F3} | {c / a:F2} |");
    }
}
return 0;

static void Step(Func<Tensor> loss, Tensor x, bool backward)
{
    using var scope = NewDisposeScope();
    if (!backward)
    {
        using var _ = no_grad();
        loss().item<float>();
        return;
    }
    x.grad?.zero_();
    var value = loss();
    value.backward();
    value.item<float>();
}

// Interleaves the three variants rep by rep (so drift hits all alike) and returns their medians in ms.
static (double, double, double) Measure(Action a, Action b, Action c, double minSeconds)
{
    foreach (var warm in new[] { a, b, c, a, b, c }) warm();
    var times = new List<double>[] { new(), new(), new() };
    var total = Stopwatch.StartNew();
    while (times[0].Count < 5 || (total.Elapsed.TotalSeconds < minSeconds && times[0].Count < 200))
    {
        var actions = new[] { a, b, c };
        for (var k = 0; k < 3; k++)
        {
            var sw = Stopwatch.StartNew();
            actions[k]();
            times[k].Add(sw.Elapsed.TotalMilliseconds);
        }
    }
    double Median(List<double> v) { v.Sort(); return v[v.Count / 2]; }
    return (Median(times[0]), Median(times[1]), Median(times[2]));
}

static string RuntimeInfo() => $".NET {Environment.Version}, TorchSharp {typeof(torch).Assembly.GetName().Version}";
