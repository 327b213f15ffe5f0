using System.Globalization;
using System.Text;
using FocalLoss.Data;
using FocalLoss.Models;
using FocalLoss.Training;

namespace FocalLoss.Experiments;

/// <summary>One replication run of the seed tutorial.</summary>
/// <param name="Seed">Seed of the data, the initialisation and the shuffling.</param>
/// <param name="Reduction"><c>sum</c> (what the seed's code trains with) or <c>mean</c>.</param>
/// <param name="W">Learned weight.</param>
/// <param name="B">Learned bias.</param>
/// <param name="Boundary">Implied decision boundary -b / w (true: -1.5).</param>
/// <param name="PAtMinus1">Predicted probability at x = -1 (true label 1).</param>
/// <param name="TestAccuracy">Accuracy at threshold 0.5 on 10,000 fresh samples from the same generator.</param>
/// <param name="Diverged">True when the loss became non-finite (then the other numbers are those at the stop).</param>
/// <param name="Device">Where it ran.</param>
public sealed record SeedRun(long Seed, string Reduction, double W, double B, double Boundary, double PAtMinus1, double TestAccuracy, bool Diverged, string Device);

/// <summary>
/// A faithful rerun of the seed tutorial (shared/seed/README.md): x ~ Uniform(-10, 10), y = 1 if 2x + 3 &gt; 0,
/// 10,000 training samples in batches of 16 reshuffled every epoch, the single linear unit with
/// Normal(0, 0.02) initialisation, the probability-form focal loss (alpha 0.25, gamma 2), momentum SGD
/// (lr 0.005, momentum 0.9), 10 epochs (6,250 steps), prediction at x = -1. The seed's MindSpore code
/// differentiates the <b>sum</b> over the batch (its loss returns per-sample values, and
/// <c>value_and_grad</c> back-propagates ones); <c>mean</c> is the PyTorch-style alternative.
/// </summary>
public static class SeedReplication
{
    /// <summary>The seed's reported weight.</summary>
    public const double ReportedW = 2.61318;
    /// <summary>The seed's reported bias.</summary>
    public const double ReportedB = 3.47061;
    /// <summary>The seed's reported prediction at x = -1.</summary>
    public const double ReportedPrediction = 0.70212436;
    /// <summary>Training samples (seed: 10,000).</summary>
    public const int TrainCount = 10_000;
    /// <summary>Held-out samples for the test accuracy.</summary>
    public const int TestCount = 10_000;

    /// <summary>The seed's training settings with the given seed and reduction.</summary>
    public static TrainerConfig Config(long seed, BatchReduction reduction, string device = "auto") =>
        new() { Seed = seed, Reduction = reduction, Device = device, Progress = false };

    /// <summary>Runs the tutorial once.</summary>
    public static SeedRun RunOne(long seed, BatchReduction reduction, string device = "auto")
    {
        using var train = Synthetic.SeedLine(TrainCount, seed);
        using var test = Synthetic.SeedLine(TestCount, seed + 1_000_000);
        using var loss = Losses.FocalLossFromProbabilities(alpha: 0.25, gamma: 2.0);
        var (model, result) = Trainer.Run(() => new LinearNet(1), loss, train, test, Config(seed, reduction, device));
        using (model)
        {
            var (weight, b) = ((LinearNet)model).Parameters();
            var w = weight[0];
            var accuracy = result.FinalMetrics.TryGetValue("accuracy", out var a) ? a : double.NaN;
            return new SeedRun(seed, reduction == BatchReduction.Sum ? "sum" : "mean", w, b, -b / w, 1 / (1 + Math.Exp(-(w * -1 + b))), accuracy, result.Diverged, result.Device);
        }
    }

    /// <summary>Runs every seed with every reduction (sum first), reporting each run as it finishes.</summary>
    public static IReadOnlyList<SeedRun> Run(IEnumerable<long> seeds, IEnumerable<BatchReduction> reductions, string device = "auto", Action<SeedRun>? onRun = null)
    {
        var runs = new List<SeedRun>();
        var seedList = seeds.ToList();
        foreach (var reduction in reductions)
            foreach (var seed in seedList)
            {
                var run = RunOne(seed, reduction, device);
                runs.Add(run);
                onRun?.Invoke(run);
            }
        return runs;
    }

    /// <summary>The runs as CSV with exactly the columns <c>seed,reduction,w,b,boundary,p_at_minus1,test_accuracy</c>.</summary>
    public static string RunsCsv(IEnumerable<SeedRun> runs)
    {
        var sb = new StringBuilder("seed,reduction,w,b,boundary,p_at_minus1,test_accuracy\n");
        foreach (var r in runs)
            sb.Append(CultureInfo.InvariantCulture, $"{r.Seed},{r.Reduction},{F(r.W)},{F(r.B)},{F(r.Boundary)},{F(r.PAtMinus1)},{F(r.TestAccuracy)}\n");
        return sb.ToString();
    }

    /// <summary>One summary row: a quantity's median, min and max over the runs of one reduction, next to the seed's value.</summary>
    public sealed record SummaryRow(string Reduction, string Quantity, int Runs, int Diverged, double Median, double Min, double Max, double? SeedValue)
    {
        /// <summary>Whether the seed's value lies within [min, max] of the replicated runs (null when the seed reported none).</summary>
        public bool? SeedInsideRange => SeedValue is { } v ? v >= Min && v <= Max : null;
    }

    /// <summary>Median, min and max of w, b, boundary, p_at_minus1 and test_accuracy per reduction (diverged runs counted, not dropped).</summary>
    public static IReadOnlyList<SummaryRow> Summarise(IReadOnlyList<SeedRun> runs)
    {
        var rows = new List<SummaryRow>();
        foreach (var group in runs.GroupBy(r => r.Reduction))
        {
            var diverged = group.Count(r => r.Diverged);
            foreach (var (quantity, select, seedValue) in new (string, Func<SeedRun, double>, double?)[]
            {
                ("w", r => r.W, ReportedW), ("b", r => r.B, ReportedB), ("boundary", r => r.Boundary, -ReportedB / ReportedW),
                ("p_at_minus1", r => r.PAtMinus1, ReportedPrediction), ("test_accuracy", r => r.TestAccuracy, null),
            })
            {
                var values = group.Select(select).OrderBy(v => v).ToArray();
                rows.Add(new SummaryRow(group.Key, quantity, values.Length, diverged, Median(values), values[0], values[^1], seedValue));
            }
        }
        return rows;
    }

    /// <summary>The summary as CSV: <c>reduction,quantity,runs,diverged,median,min,max,seed_value,seed_inside_range</c>.</summary>
    public static string SummaryCsv(IEnumerable<SummaryRow> rows)
    {
        var sb = new StringBuilder("reduction,quantity,runs,diverged,median,min,max,seed_value,seed_inside_range\n");
        foreach (var r in rows)
            sb.Append(CultureInfo.InvariantCulture, $"{r.Reduction},{r.Quantity},{r.Runs},{r.Diverged},{F(r.Median)},{F(r.Min)},{F(r.Max)},{(r.SeedValue is { } v ? F(v) : "")},{(r.SeedInsideRange is { } inside ? (inside ? "yes" : "no") : "")}\n");
        return sb.ToString();
    }

    /// <summary>Writes runs.csv and summary.csv into <paramref name="directory"/> atomically.</summary>
    public static void Write(string directory, IReadOnlyList<SeedRun> runs)
    {
        AtomicFile.WriteAllText(Path.Combine(directory, "runs.csv"), RunsCsv(runs));
        AtomicFile.WriteAllText(Path.Combine(directory, "summary.csv"), SummaryCsv(Summarise(runs)));
    }

    private static double Median(double[] sorted) =>
        sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]) / 2;

    private static string F(double v) => v.ToString("G9", CultureInfo.InvariantCulture);
}
