// Benchmark: FocalLoss.Functional.sigmoid_focal_loss (the fused CPU kernel and the composite of libtorch
// operations) against TorchSharp's own torchvision.ops.sigmoid_focal_loss port (TorchVision 0.107.0), libtorch's
// fused binary_cross_entropy_with_logits, and a 2-thread copy of the same bytes, in the same process; and, with
// --pytorch, PyTorch's torchvision and fused BCE timed by bench/focal_pytorch.py in the same bench/run.sh
// invocation. float32, alpha 0.25, gamma 2, mean; forward and forward+backward; N = 1e4 .. 1e7; 1 and 2 threads.
// Prints one markdown table of medians (ms) and ratios.
//
// Usage: dotnet run -c Release --project bench/FocalLoss.Bench [-- --sizes 10000,100000 --min-seconds 1 --pytorch rows.jsonl]
// bench/run.sh runs it with glibc's default allocator and with freed memory retained (see bench/README.md).
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FocalLoss;
using TorchSharp;
using static TorchSharp.torch;

CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
var options = Analysis.Cli.bench(args);   // Argu: typed options, --help, errors listing the valid ones
if (options.SeedLoopRepeats is { } repeats)
    return SeedLoopBench.Run(repeats.Value);
if (options.Kernel)
    return KernelBenchmarks.Run();
var sizes = options.Sizes.ToArray();
var threads = options.Threads.ToArray();
var minSeconds = options.MinSeconds;
var pytorch = new Dictionary<(long, int, bool), (double Torchvision, double Bce)>();
string pytorchVersion = "(not run)";
double? pytorchPeak = null;
if (options.PyTorch is { } pytorchFile)
    foreach (var line in File.ReadLines(pytorchFile.Value).Where(l => l.TrimStart().StartsWith('{')))
    {
        using var row = JsonDocument.Parse(line);
        var r = row.RootElement;
        if (r.TryGetProperty("peak_mib", out var peak))
        {
            pytorchPeak = peak.GetDouble();
            continue;
        }
        pytorch[(r.GetProperty("n").GetInt64(), r.GetProperty("threads").GetInt32(), r.GetProperty("backward").GetBoolean())] =
            (r.GetProperty("torchvision_ms").GetDouble(), r.GetProperty("bce_ms").GetDouble());
        pytorchVersion = $"PyTorch {r.GetProperty("torch").GetString()}, torchvision {r.GetProperty("torchvision").GetString()}";
    }

var runtime = TorchRuntime.EnsureLoaded();
Console.WriteLine($"# sigmoid_focal_loss benchmark (float32, alpha 0.25, gamma 2, reduction mean)");
Console.WriteLine($"native runtime: {runtime.Action}; device: cpu; GLIBC_TUNABLES={Environment.GetEnvironmentVariable("GLIBC_TUNABLES") ?? "(unset)"}; FOCAL_RETAIN_FREED_MEMORY={Environment.GetEnvironmentVariable("FOCAL_RETAIN_FREED_MEMORY") ?? "(unset)"}");
Console.WriteLine($"processors: {Environment.ProcessorCount}; {RuntimeInfo()}; reference: {pytorchVersion}");

// Sanity: every implementation computes the same number (else the timing comparison means nothing).
using (var scope = NewDisposeScope())
{
    manual_seed(0);
    var x = randn(100_000) * 4;
    var t = (rand(100_000) < 0.3).to_type(ScalarType.Float32);
    var theirs = torchvision.ops.sigmoid_focal_loss(x, t, 0.25, 2.0, nn.Reduction.Mean).item<float>();
    foreach (var kernel in new[] { FocalKernel.Fused, FocalKernel.Composite })
    {
        using var _ = Functional.UseKernel(kernel);
        var ours = Functional.sigmoid_focal_loss(x, t).item<float>();
        Console.WriteLine($"agreement at N = 1e5: {kernel} {ours:R}, torchvision port {theirs:R}, relative difference {Math.Abs(ours - theirs) / Math.Abs(theirs):E2}");
        if (Math.Abs(ours - theirs) > 1e-5 * Math.Abs(theirs))
        {
            Console.Error.WriteLine("the implementations disagree: refusing to time them");
            return 1;
        }
    }
}

// Peak extra resident memory of one forward+backward at the largest N (2 threads), measured first, before the timings
// leave freed blocks in the heap: the high-water mark above the inputs, read from /proc/self/status (VmHWM) after
// resetting it (/proc/self/clear_refs), each variant once. Only with glibc's default allocator.
var peakN = sizes.Max();
var retaining = Environment.GetEnvironmentVariable("FOCAL_RETAIN_FREED_MEMORY") is "1" or "true" || Environment.GetEnvironmentVariable("GLIBC_TUNABLES") is not null;
if (retaining)
    Console.WriteLine("\nPeak memory: not measured in this run (freed memory is retained, so a peak does not show in the resident size); see the default-allocator run.");
else if (OperatingSystem.IsLinux() && File.Exists("/proc/self/clear_refs"))
{
    torch.set_num_threads(Math.Min(2, threads.Max()));
    manual_seed(1);
    using var px = (randn(peakN) * 4).requires_grad_(true);
    using var pt = (rand(peakN) < 0.3).to_type(ScalarType.Float32);
    double PeakMiB(Action act)
    {
        px.grad = null;
        GC.Collect();
        GC.WaitForPendingFinalizers();
        File.WriteAllText("/proc/self/clear_refs", "5");
        var before = StatusKiB("VmRSS");
        act();
        var peak = StatusKiB("VmHWM");
        px.grad = null;
        return (peak - before) / 1024.0;
    }
    void Once(Func<Tensor> loss)
    {
        using var scope = NewDisposeScope();
        var value = loss();
        value.backward();
        value.item<float>();
    }
    var rows = new (string Name, Action Run)[]
    {
        ("fused", () => { using (Functional.UseKernel(FocalKernel.Fused)) Once(() => Functional.sigmoid_focal_loss(px, pt)); }),
        ("composite", () => { using (Functional.UseKernel(FocalKernel.Composite)) Once(() => Functional.sigmoid_focal_loss(px, pt)); }),
        ("TorchSharp torchvision port", () => Once(() => torchvision.ops.sigmoid_focal_loss(px, pt, 0.25, 2.0, nn.Reduction.Mean))),
    };
    foreach (var (_, run) in rows) run(); // warm-up: first-call allocations are not the kernel's
    Console.WriteLine();
    Console.WriteLine($"Peak extra resident memory of one forward+backward at N = {peakN:0.#e+0} (inputs {2 * peakN * 4 / 1048576.0:F1} MiB, gradient {peakN * 4 / 1048576.0:F1} MiB):");
    Console.WriteLine();
    Console.WriteLine("| implementation | peak extra MiB | in gradients' sizes |");
    Console.WriteLine("|---|---:|---:|");
    foreach (var (name, run) in rows)
    {
        var mib = PeakMiB(run);
        Console.WriteLine($"| {name} | {mib:F1} | {mib / (peakN * 4 / 1048576.0):F2} |");
    }
    if (pytorchPeak is { } py)
        Console.WriteLine($"| PyTorch torchvision (its own process) | {py:F1} | {py / (peakN * 4 / 1048576.0):F2} |");
}

Console.WriteLine();
Console.WriteLine("Medians in ms. copy: logits and targets copied into preallocated buffers by torch (reads 2N, writes 2N floats). Ratios: fused / other (below 1: the fused kernel is faster); `fused / copy` is how many copies of the bytes the kernel costs.");
Console.WriteLine();
Console.WriteLine("| N | threads | pass | PyTorch torchvision | PyTorch fused BCE | TorchSharp torchvision port | composite | **fused** | copy | fused / PyTorch torchvision | fused / composite | fused / PyTorch BCE | fused / copy |");
Console.WriteLine("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
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
        var bufferX = empty_like(x, requires_grad: false);
        var bufferT = empty_like(t);
        Action port = () => Step(() => torchvision.ops.sigmoid_focal_loss(x, t, 0.25, 2.0, nn.Reduction.Mean), x, backward);
        Action composite = () =>
        {
            using (Functional.UseKernel(FocalKernel.Composite)) Step(() => Functional.sigmoid_focal_loss(x, t), x, backward);
        };
        Action fused = () =>
        {
            using (Functional.UseKernel(FocalKernel.Fused)) Step(() => Functional.sigmoid_focal_loss(x, t), x, backward);
        };
        Action copy = () =>
        {
            using (no_grad())
            {
                bufferX.copy_(x);
                bufferT.copy_(t);
            }
        };
        var m = Measure([port, composite, fused, copy], minSeconds);
        var (tv, bce) = pytorch.TryGetValue((n, threadCount, backward), out var py) ? py : (double.NaN, double.NaN);
        string Ms(double v) => double.IsNaN(v) ? "-" : v.ToString("F3");
        string Ratio(double a, double b) => double.IsNaN(a) || double.IsNaN(b) ? "-" : (a / b).ToString("F2");
        Console.WriteLine($"| {n:0.#e+0} | {threadCount} | {(backward ? "fwd+bwd" : "fwd")} | {Ms(tv)} | {Ms(bce)} | {m[0]:F3} | {m[1]:F3} | **{m[2]:F3}** | {m[3]:F3} | {Ratio(m[2], tv)} | {Ratio(m[2], m[1])} | {Ratio(m[2], bce)} | {Ratio(m[2], m[3])} |");
    }
}

return 0;

static long StatusKiB(string field) =>
    long.Parse(File.ReadLines("/proc/self/status").First(l => l.StartsWith(field + ":", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);

static void Step(Func<Tensor> loss, Tensor x, bool backward)
{
    using var scope = NewDisposeScope();
    if (!backward)
    {
        using var _ = no_grad();
        loss().item<float>();
        return;
    }
    x.grad = null; // as the PyTorch rows (x.grad = None): the engine hands the kernel's gradient over, no accumulation pass
    var value = loss();
    value.backward();
    value.item<float>();
}

// Interleaves the variants rep by rep (so drift hits all alike) and returns their medians in ms.
static double[] Measure(Action[] actions, double minSeconds)
{
    for (var warm = 0; warm < 2; warm++)
        foreach (var a in actions) a();
    var times = actions.Select(_ => new List<double>()).ToArray();
    var total = Stopwatch.StartNew();
    while (times[0].Count < 5 || (total.Elapsed.TotalSeconds < minSeconds && times[0].Count < 200))
        for (var k = 0; k < actions.Length; k++)
        {
            var sw = Stopwatch.StartNew();
            actions[k]();
            times[k].Add(sw.Elapsed.TotalMilliseconds);
        }
    return times.Select(v => { v.Sort(); return v[v.Count / 2]; }).ToArray();
}

static string RuntimeInfo() => $".NET {Environment.Version}, TorchSharp {typeof(torch).Assembly.GetName().Version}, fused kernel in {Functional.FusedVectorBits}-bit registers";
