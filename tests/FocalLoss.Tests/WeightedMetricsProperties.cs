using FocalLoss.Metrics;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace FocalLoss.Tests;

/// <summary>
/// One generated weighted binary case: scores, 0/1 labels, integer weights 0..5 (at least one positive) and
/// a threshold. Integer weights make the repetition law exact: weight k is the sample repeated k times.
/// </summary>
public sealed record WeightedCase(double[] Scores, int[] Labels, int[] Weights, double Threshold)
{
    public double[] DoubleWeights => Weights.Select(k => (double)k).ToArray();

    /// <summary>Each sample repeated as often as its weight says (weight 0 drops it).</summary>
    public (double[] Scores, int[] Labels) Repeated() =>
        (Scores.SelectMany((s, i) => Enumerable.Repeat(s, Weights[i])).ToArray(),
         Labels.SelectMany((y, i) => Enumerable.Repeat(y, Weights[i])).ToArray());

    public bool HasTies => Scores.Where((_, i) => Weights[i] > 0).GroupBy(s => s).Any(g => g.Count() > 1);

    public bool OneClassByWeight => Labels.Where((_, i) => Weights[i] > 0).Distinct().Count() == 1;

    public override string ToString() =>
        $"scores=[{string.Join(", ", Scores.Select(v => v.ToString("R")))}] labels=[{string.Join(", ", Labels)}] " +
        $"weights=[{string.Join(", ", Weights)}] threshold={Threshold:R}";
}

/// <summary>Every weighted binary metric of one evaluation as named values: report, functions, curve and bins.</summary>
internal static class WeightedMetrics
{
    /// <summary>
    /// Every metric with weights, each from <see cref="BinaryMetrics.Evaluate(ReadOnlySpan{double}, ReadOnlySpan{int}, ReadOnlySpan{double}, double)"/>
    /// and from its own function, the confusion cells, the precision-recall curve and the reliability bins point by point.
    /// </summary>
    public static List<(string Name, double Value)> All(double[] s, int[] y, double[] w, double threshold)
    {
        var report = BinaryMetrics.Evaluate(s, y, w, threshold);
        var (tp, fp, tn, fn) = BinaryMetrics.Confusion(s, y, w, threshold);
        var (bestF1, bestThreshold) = BinaryMetrics.BestF1(s, y, w);
        return Collect(report, (tp, fp, tn, fn),
        [
            ("accuracy()", BinaryMetrics.Accuracy(s, y, w, threshold)), ("balanced_accuracy()", BinaryMetrics.BalancedAccuracy(s, y, w, threshold)),
            ("precision()", BinaryMetrics.Precision(s, y, w, threshold)), ("recall()", BinaryMetrics.Recall(s, y, w, threshold)),
            ("f1()", BinaryMetrics.F1(s, y, w, threshold)), ("best_f1()", bestF1), ("best_f1_threshold()", bestThreshold),
            ("roc_auc()", BinaryMetrics.RocAuc(s, y, w)), ("average_precision()", BinaryMetrics.AveragePrecision(s, y, w)),
            ("ece15()", BinaryMetrics.ExpectedCalibrationError(s, y, w)), ("brier()", BinaryMetrics.Brier(s, y, w)),
            ("log_loss()", BinaryMetrics.LogLoss(s, y, w)), ("mean_score()", BinaryMetrics.MeanScore(s, w)),
            ("prevalence()", BinaryMetrics.Prevalence(y, w)),
        ], BinaryMetrics.PrecisionRecallCurve(s, y, w), BinaryMetrics.ReliabilityBins(s, y, w));
    }

    /// <summary>The same names from the unweighted functions (bin counts as weights).</summary>
    public static List<(string Name, double Value)> Unweighted(double[] s, int[] y, double threshold)
    {
        var report = BinaryMetrics.Evaluate(s, y, threshold);
        var (tp, fp, tn, fn) = BinaryMetrics.Confusion(s, y, threshold);
        var (bestF1, bestThreshold) = BinaryMetrics.BestF1(s, y);
        var (meanScore, fraction, count) = BinaryMetrics.ReliabilityBins(s, y);
        return Collect(report, (tp, fp, tn, fn),
        [
            ("accuracy()", BinaryMetrics.Accuracy(s, y, threshold)), ("balanced_accuracy()", BinaryMetrics.BalancedAccuracy(s, y, threshold)),
            ("precision()", BinaryMetrics.Precision(s, y, threshold)), ("recall()", BinaryMetrics.Recall(s, y, threshold)),
            ("f1()", BinaryMetrics.F1(s, y, threshold)), ("best_f1()", bestF1), ("best_f1_threshold()", bestThreshold),
            ("roc_auc()", BinaryMetrics.RocAuc(s, y)), ("average_precision()", BinaryMetrics.AveragePrecision(s, y)),
            ("ece15()", BinaryMetrics.ExpectedCalibrationError(s, y)), ("brier()", BinaryMetrics.Brier(s, y)),
            ("log_loss()", BinaryMetrics.LogLoss(s, y)), ("mean_score()", BinaryMetrics.MeanScore(s)),
            ("prevalence()", BinaryMetrics.Prevalence(y)),
        ], BinaryMetrics.PrecisionRecallCurve(s, y), (meanScore, fraction, count.Select(k => (double)k).ToArray()));
    }

    private static List<(string, double)> Collect(BinaryReport report, (double Tp, double Fp, double Tn, double Fn) c,
        (string, double)[] functions, (double[] Recall, double[] Precision, double[] Threshold) curve,
        (double[] MeanScore, double[] FractionPositive, double[] Weight) bins)
    {
        var all = report.Values().Select(kv => (kv.Key, kv.Value)).ToList();
        all.AddRange([("positive_rate", report.PositiveRate), ("mean_score", report.MeanScore), ("threshold", report.Threshold),
            ("tp", c.Tp), ("fp", c.Fp), ("tn", c.Tn), ("fn", c.Fn)]);
        all.AddRange(functions);
        all.Add(("pr_points", curve.Threshold.Length));
        for (var i = 0; i < curve.Threshold.Length; i++)
            all.AddRange([($"pr_recall[{i}]", curve.Recall[i]), ($"pr_precision[{i}]", curve.Precision[i]), ($"pr_threshold[{i}]", curve.Threshold[i])]);
        all.Add(("bins", bins.Weight.Length));
        for (var b = 0; b < bins.Weight.Length; b++)
            all.AddRange([($"bin_mean_score[{b}]", bins.MeanScore[b]), ($"bin_fraction_positive[{b}]", bins.FractionPositive[b]), ($"bin_weight[{b}]", bins.Weight[b])]);
        return all;
    }

    /// <summary>
    /// Null when both lists hold the same metrics (names) with values within (rel, abs), NaN matching NaN; else
    /// the values that differ and the names only one list has (a curve point or a bin too many or too few).
    /// </summary>
    public static string? Mismatch(List<(string Name, double Value)> expected, List<(string Name, double Value)> actual, double rel, double abs)
    {
        var found = actual.ToDictionary(m => m.Name, m => m.Value);
        var wanted = expected.Select(m => m.Name).ToHashSet();
        var failures = expected
            .Where(m => found.TryGetValue(m.Name, out var v) && !(double.IsNaN(m.Value) && double.IsNaN(v)) && !Tol.Close(v, m.Value, rel, abs))
            .Select(m => $"{m.Name} {m.Value:R} vs {found[m.Name]:R}").ToList();
        if (expected.Where(m => !found.ContainsKey(m.Name)).Select(m => m.Name).ToList() is { Count: > 0 } missing)
            failures.Add($"only in the first: {string.Join(", ", missing)}");
        if (actual.Where(m => !wanted.Contains(m.Name)).Select(m => m.Name).ToList() is { Count: > 0 } extra)
            failures.Add($"only in the second: {string.Join(", ", extra)}");
        return failures.Count == 0 ? null : string.Join("; ", failures);
    }
}

/// <summary>
/// The laws of scikit-learn's sample_weight, as FsCheck properties over every weighted binary metric:
/// integer weights are repetitions, zero weights are absences, unit weights are the unweighted metrics and
/// a common factor changes nothing. Scores come from buckets that stress the sweep and the bins: a 0.05
/// grid (ties), the bin edges k/15, the extremes 0 and 1, and fine uniform values.
/// </summary>
public class WeightedMetricsProperties
{
    private const int Many = 300;

    private static readonly Gen<double> Score = Gen.Frequency(
        (3, Gen.Choose(0, 20).Select(k => k / 20.0)),
        (2, Gen.Choose(0, 15).Select(k => k == 15 ? 1.0 : k * (1.0 / 15))),
        (1, Gen.Elements(0.0, 1.0)),
        (3, Gen.Choose(0, 1_000_000).Select(k => k / 1_000_000.0)));

    private static readonly Gen<int> Weight = Gen.Frequency((1, Gen.Constant(0)), (1, Gen.Constant(1)), (3, Gen.Choose(2, 5)));

    private static readonly Gen<WeightedCase> Cases =
        from n in Gen.Choose(1, 24)
        from scores in Gen.ArrayOf(Score, n)
        from labels in Gen.ArrayOf(Gen.Elements(0, 1), n)
        from weights in Gen.ArrayOf(Weight, n)
        from threshold in Gen.Frequency((3, Gen.Constant(0.5)), (2, Gen.Elements(scores)), (1, Gen.Elements(0.0, 0.3, 1.0)))
        select new WeightedCase(scores, labels, weights.All(k => k == 0) ? [1, .. weights[1..]] : weights, threshold);

    /// <summary>Fewer samples (at least one of positive weight stays), then weights towards 1, then the threshold 0.5.</summary>
    private static IEnumerable<WeightedCase> Simpler(WeightedCase c)
    {
        foreach (var keep in Shrink.Removals(c.Scores.Length))
            if (keep.Any(i => c.Weights[i] > 0))
                yield return new WeightedCase(keep.Select(i => c.Scores[i]).ToArray(), keep.Select(i => c.Labels[i]).ToArray(), keep.Select(i => c.Weights[i]).ToArray(), c.Threshold);
        for (var i = 0; i < c.Weights.Length; i++)
            if (c.Weights[i] > 1)
                yield return c with { Weights = c.Weights.Select((k, j) => j == i ? 1 : k).ToArray() };
        if (c.Threshold != 0.5) yield return c with { Threshold = 0.5 };
    }

    /// <summary>1 to 8 (score, label) pairs to add with weight 0.</summary>
    private static readonly Gen<(double Score, int Label)[]> ZeroWeightExtras =
        from n in Gen.Choose(1, 8)
        from extra in Gen.ArrayOf(Gen.Zip(Score, Gen.Elements(0, 1)).Select(p => (p.Item1, p.Item2)), n)
        select extra;

    private static Arbitrary<WeightedCase> Arbitrary => Arb.From(Cases, Simpler);

    private static Property Holds(WeightedCase c, string? mismatch, string law) =>
        (mismatch is null).Label($"{law}: {mismatch}: {c}")
            .Classify(c.HasTies, "ties")
            .Classify(c.Weights.Contains(0), "zero weights")
            .Classify(c.OneClassByWeight, "one class by weight")
            .Classify(c.Scores.Any(s => s is 0.0 or 1.0), "score 0 or 1");

    [LossProperty(MaxTest = Many)]
    public Property integer_weight_k_equals_the_sample_repeated_k_times() =>
        Prop.ForAll(Arbitrary, c =>
        {
            var (scores, labels) = c.Repeated();
            var weighted = WeightedMetrics.All(c.Scores, c.Labels, c.DoubleWeights, c.Threshold);
            var repeated = WeightedMetrics.Unweighted(scores, labels, c.Threshold);
            return Holds(c, WeightedMetrics.Mismatch(repeated, weighted, Tol.IdentityRel64, Tol.IdentityAbs64), "weighted vs repeated");
        });

    [LossProperty(MaxTest = Many)]
    public Property zero_weight_samples_change_no_metric() =>
        Prop.ForAll(Arbitrary, ZeroWeightExtras.ToArbitrary(), Gen.Choose(0, int.MaxValue).ToArbitrary(), (c, extra, seed) =>
        {
            // The extra samples (weight 0) go to random places; the others keep their order, so every sum
            // runs over the same values in the same order and must come out identical, not merely close.
            var mixed = c.Scores.Select((s, i) => (Score: s, Label: c.Labels[i], Weight: (double)c.Weights[i])).ToList();
            var random = new Random(seed);
            foreach (var (score, label) in extra) mixed.Insert(random.Next(0, mixed.Count + 1), (score, label, 0.0));
            var with = WeightedMetrics.All(mixed.Select(m => m.Score).ToArray(), mixed.Select(m => m.Label).ToArray(), mixed.Select(m => m.Weight).ToArray(), c.Threshold);
            var without = WeightedMetrics.All(c.Scores, c.Labels, c.DoubleWeights, c.Threshold);
            return Holds(c, WeightedMetrics.Mismatch(without, with, 0, 0), $"{extra.Length} zero-weight samples added");
        });

    [LossProperty(MaxTest = Many)]
    public Property unit_weights_give_the_unweighted_metrics_exactly() =>
        Prop.ForAll(Arbitrary, c =>
        {
            var ones = c.Scores.Select(_ => 1.0).ToArray();
            return Holds(c, WeightedMetrics.Mismatch(WeightedMetrics.Unweighted(c.Scores, c.Labels, c.Threshold),
                WeightedMetrics.All(c.Scores, c.Labels, ones, c.Threshold), 0, 0), "unit weights vs unweighted");
        });

    [LossProperty(MaxTest = Many)]
    public Property a_common_factor_on_every_weight_changes_no_metric_but_the_confusion_cells() =>
        Prop.ForAll(Arbitrary, Gen.Elements(0.125, 0.5, 3.0, 1000.0, 1e6).ToArbitrary(), (c, factor) =>
        {
            // Factors that keep the integer weights' sums exact: an F1 tie between two thresholds stays a tie,
            // so the best-F1 threshold may not jump (with 0.37 a tie can round either way).
            string[] scaled = ["tp", "fp", "tn", "fn"];
            static bool IsWeight(string name) => name.StartsWith("bin_weight[", StringComparison.Ordinal);
            var plain = WeightedMetrics.All(c.Scores, c.Labels, c.DoubleWeights, c.Threshold)
                .Select(m => scaled.Contains(m.Name) || IsWeight(m.Name) ? (m.Name, m.Value * factor) : m).ToList();
            var times = WeightedMetrics.All(c.Scores, c.Labels, c.DoubleWeights.Select(w => w * factor).ToArray(), c.Threshold);
            return Holds(c, WeightedMetrics.Mismatch(plain, times, Tol.IdentityRel64, Tol.IdentityAbs64), $"weights x {factor:R}");
        });
}
