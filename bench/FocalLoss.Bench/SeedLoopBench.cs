// Benchmark: the seed experiment's training loop (6,250 steps), in steps per second, three ways in one
// invocation: the workbench's Trainer (guards, divergence check and bookkeeping included), the same loop
// written directly against TorchSharp (no workbench code in the step), and, when Debian's python3-torch is
// installed, PyTorch eager (bench/seed_loop_pytorch.py). Prints the ratios. 1 intra-op thread everywhere.
using System.Diagnostics;
using System.Text.Json;
using FocalLoss;
using FocalLoss.Data;
using FocalLoss.Models;
using FocalLoss.Training;
using TorchSharp;
using static TorchSharp.torch;

internal static class SeedLoopBench
{
    public static int Run(int repeats)
    {
        TorchRuntime.EnsureLoaded();
        set_num_threads(1);
        Console.WriteLine("# Seed experiment training loop: 10,000 samples, batch 16, 10 epochs = 6,250 steps, 1 thread");
        Console.WriteLine($"repeats: {repeats} (seeds 0..{repeats - 1}); median steps/s reported");
        TrainerOnce(0); RawOnce(0); // warm-up: JIT and libtorch first-call costs

        var trainer = Enumerable.Range(0, repeats).Select(TrainerOnce).ToList();
        var raw = Enumerable.Range(0, repeats).Select(RawOnce).ToList();
        var python = PyTorch(repeats);

        Console.WriteLine();
        Console.WriteLine("| loop | steps/s (median) | all repeats | ratio to PyTorch eager |");
        Console.WriteLine("|---|---:|---|---:|");
        var pyMedian = python is null ? double.NaN : Median(python.Value.Steps);
        Row("workbench Trainer (C#)", trainer.Select(r => r.StepsPerSecond).ToList(), pyMedian);
        Row("TorchSharp direct loop (C#)", raw.Select(r => r.StepsPerSecond).ToList(), pyMedian);
        if (python is { } py)
            Row($"PyTorch {py.Version} eager (Python)", py.Steps, pyMedian);
        else
            Console.WriteLine("| PyTorch eager | not run: /usr/bin/python3 with torch not found (apt-get install python3-torch) | | |");
        Console.WriteLine();
        Console.WriteLine($"learned (seed 0): Trainer w {trainer[0].W:F5} b {trainer[0].B:F5}; direct loop w {raw[0].W:F5} b {raw[0].B:F5}" +
            (python is { } p0 ? $"; PyTorch w {p0.W:F5} b {p0.B:F5}" : ""));
        return 0;
    }

    private sealed record Timed(double StepsPerSecond, double W, double B);

    private static Timed TrainerOnce(int seed)
    {
        using var train = Synthetic.SeedLine(10_000, seed);
        using var loss = Losses.FocalLossFromProbabilities(0.25, 2.0);
        manual_seed(seed);
        using var model = new LinearNet(1);
        var config = new TrainerConfig { Seed = seed, Reduction = BatchReduction.Sum, Device = "cpu", Progress = false, EvaluateEveryEpoch = false };
        var clock = Stopwatch.StartNew();
        var result = Trainer.Fit(model, loss, train, null, config);
        var seconds = clock.Elapsed.TotalSeconds;
        var (w, b) = model.Parameters();
        return new Timed(result.Steps / seconds, w[0], b);
    }

    private static Timed RawOnce(int seed)
    {
        using var train = Synthetic.SeedLine(10_000, seed);
        manual_seed(seed);
        using var model = new LinearNet(1);
        using var opt = optim.SGD(model.parameters(), 0.005, 0.9);
        using var shuffle = new Generator((ulong)(seed + 1));
        var steps = 0;
        var clock = Stopwatch.StartNew();
        for (var epoch = 0; epoch < 10; epoch++)
        {
            using var perm = randperm(10_000, generator: shuffle);
            for (long s = 0; s < 10_000; s += 16)
            {
                using var scope = NewDisposeScope();
                var idx = perm.slice(0, s, s + 16, 1);
                var p = model.call(train.Features.index_select(0, idx)).sigmoid();
                var t = train.Labels.index_select(0, idx);
                var at = 0.25 * t + 0.75 * (1 - t);
                var pt = p * t + (1 - p) * (1 - t);
                var loss = (-at * (1 - pt).pow(2) * pt.log()).sum();
                opt.zero_grad();
                loss.backward();
                opt.step();
                loss.item<float>();
                steps++;
            }
        }
        var seconds = clock.Elapsed.TotalSeconds;
        var (w, b) = model.Parameters();
        return new Timed(steps / seconds, w[0], b);
    }

    private static (string Version, List<double> Steps, double W, double B)? PyTorch(int repeats)
    {
        var script = Path.Combine(AppContext.BaseDirectory, "seed_loop_pytorch.py");
        if (!File.Exists("/usr/bin/python3") || !File.Exists(script)) return null;
        var info = new ProcessStartInfo("/usr/bin/python3", [script, repeats.ToString()]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var proc = Process.Start(info)!;
        var stderr = proc.StandardError.ReadToEndAsync();
        var stdout = proc.StandardOutput.ReadToEnd();
        proc.WaitForExit();
        if (proc.ExitCode != 0)
        {
            Console.WriteLine($"PyTorch eager loop did not run (exit {proc.ExitCode}): {stderr.Result.Trim().Split('\n').LastOrDefault()}");
            return null;
        }
        var json = JsonDocument.Parse(stdout.Trim().Split('\n')[^1]).RootElement;
        return (json.GetProperty("torch").GetString()!, json.GetProperty("steps_per_second").EnumerateArray().Select(v => v.GetDouble()).ToList(),
            json.GetProperty("w")[0].GetDouble(), json.GetProperty("b")[0].GetDouble());
    }

    private static void Row(string name, List<double> stepsPerSecond, double pyMedian)
    {
        var median = Median(stepsPerSecond);
        var ratio = double.IsNaN(pyMedian) ? "n/a" : (median / pyMedian).ToString("F2");
        Console.WriteLine($"| {name} | {median:F0} | {string.Join(", ", stepsPerSecond.Select(v => v.ToString("F0")))} | {ratio} |");
    }

    private static double Median(List<double> values)
    {
        var sorted = values.OrderBy(v => v).ToList();
        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[sorted.Count / 2 - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
