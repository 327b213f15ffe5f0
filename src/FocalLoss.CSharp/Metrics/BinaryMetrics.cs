using FocalLoss.Infrastructure;

namespace FocalLoss.Metrics;

/// <summary>Every binary metric of one evaluation, as <see cref="BinaryMetrics.Evaluate"/> computes them.</summary>
public sealed record BinaryReport(
    int Count, double PositiveRate, double Threshold,
    double Accuracy, double BalancedAccuracy, double Precision, double Recall, double F1,
    double BestF1, double BestF1Threshold,
    double RocAuc, double AveragePrecision,
    double Ece15, double Brier, double LogLoss)
{
    /// <summary>Name/value pairs in a fixed order, for tables and CSV.</summary>
    public IReadOnlyList<KeyValuePair<string, double>> Values() =>
    [
        new("accuracy", Accuracy), new("balanced_accuracy", BalancedAccuracy), new("precision", Precision),
        new("recall", Recall), new("f1", F1), new("best_f1", BestF1), new("best_f1_threshold", BestF1Threshold),
        new("roc_auc", RocAuc), new("average_precision", AveragePrecision), new("ece15", Ece15),
        new("brier", Brier), new("log_loss", LogLoss),
    ];
}

/// <summary>
/// Binary classification metrics on host arrays: <c>scores</c> are probabilities of class 1, <c>labels</c>
/// are 0/1. Each follows scikit-learn 1.2's definition (checked against values it computed, see
/// tests/FocalLoss.Tests/data/metrics); undefined cases follow it too: precision, recall and F1 are 0 when
/// their denominator is 0 (<c>zero_division=0</c>); ROC-AUC and the best-F1 threshold are NaN where
/// scikit-learn raises or has nothing to return (one class only); empty input is an error.
/// </summary>
public static class BinaryMetrics
{
    /// <summary>Number of equal-width bins of the expected calibration error.</summary>
    public const int CalibrationBins = 15;

    /// <summary>
    /// Computes every metric; the threshold applies to accuracy, precision, recall and F1. Validates once,
    /// counts the confusion matrix once and sorts the scores once for all of them.
    /// </summary>
    public static BinaryReport Evaluate(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, double threshold = 0.5)
    {
        var counts = Confusion(scores, labels, threshold); // validates the inputs
        var sweep = Sweep(scores, labels);
        var (bestF1, bestThreshold) = BestF1(sweep);
        var (meanScore, fractionPositive, binCounts) = ReliabilityBinsChecked(scores, labels, CalibrationBins);
        var positives = counts.Tp + counts.Fn;
        return new BinaryReport(labels.Length, (double)positives / labels.Length, threshold,
            Accuracy(counts), BalancedAccuracy(counts), Precision(counts), Recall(counts), F1(counts),
            bestF1, bestThreshold, RocAuc(sweep), AveragePrecision(sweep),
            Ece(meanScore, fractionPositive, binCounts, scores.Length), BrierChecked(scores, labels), LogLossChecked(scores, labels));
    }

    /// <summary>Confusion counts with "positive" meaning score &gt;= threshold.</summary>
    public static (int Tp, int Fp, int Tn, int Fn) Confusion(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, double threshold)
    {
        Check(scores, labels);
        if (!double.IsFinite(threshold))
            throw new ArgumentException($"threshold must be finite, got {Format.Number(threshold)}", nameof(threshold));
        int tp = 0, fp = 0, tn = 0, fn = 0;
        for (var i = 0; i < scores.Length; i++)
        {
            var predicted = scores[i] >= threshold;
            if (labels[i] == 1) { if (predicted) tp++; else fn++; }
            else { if (predicted) fp++; else tn++; }
        }
        return (tp, fp, tn, fn);
    }

    /// <summary>Fraction of correct predictions at the threshold.</summary>
    public static double Accuracy(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, double threshold = 0.5) =>
        Accuracy(Confusion(scores, labels, threshold));

    /// <summary>Mean recall over the classes present in the labels (scikit-learn's balanced accuracy).</summary>
    public static double BalancedAccuracy(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, double threshold = 0.5) =>
        BalancedAccuracy(Confusion(scores, labels, threshold));

    /// <summary>TP / (TP + FP); 0 when nothing is predicted positive.</summary>
    public static double Precision(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, double threshold = 0.5) =>
        Precision(Confusion(scores, labels, threshold));

    /// <summary>TP / (TP + FN); 0 when there is no positive.</summary>
    public static double Recall(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, double threshold = 0.5) =>
        Recall(Confusion(scores, labels, threshold));

    /// <summary>2 TP / (2 TP + FP + FN); 0 when that denominator is 0.</summary>
    public static double F1(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, double threshold = 0.5) =>
        F1(Confusion(scores, labels, threshold));

    private static double Accuracy((int Tp, int Fp, int Tn, int Fn) c) => (double)(c.Tp + c.Tn) / (c.Tp + c.Fp + c.Tn + c.Fn);

    private static double BalancedAccuracy((int Tp, int Fp, int Tn, int Fn) c)
    {
        var recalls = new List<double>();
        if (c.Tp + c.Fn > 0) recalls.Add((double)c.Tp / (c.Tp + c.Fn));
        if (c.Tn + c.Fp > 0) recalls.Add((double)c.Tn / (c.Tn + c.Fp));
        return recalls.Average();
    }

    private static double Precision((int Tp, int Fp, int Tn, int Fn) c) => c.Tp + c.Fp == 0 ? 0 : (double)c.Tp / (c.Tp + c.Fp);

    private static double Recall((int Tp, int Fp, int Tn, int Fn) c) => c.Tp + c.Fn == 0 ? 0 : (double)c.Tp / (c.Tp + c.Fn);

    private static double F1((int Tp, int Fp, int Tn, int Fn) c) => 2 * c.Tp + c.Fp + c.Fn == 0 ? 0 : 2.0 * c.Tp / (2 * c.Tp + c.Fp + c.Fn);

    /// <summary>
    /// The threshold, among the distinct scores, whose F1 (predicting 1 when score &gt;= threshold) is
    /// highest, as read off scikit-learn's precision-recall curve; ties go to the lowest such threshold.
    /// (NaN, NaN) when there is no positive.
    /// </summary>
    public static (double F1, double Threshold) BestF1(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels) =>
        BestF1(SweepChecked(scores, labels));

    private static (double F1, double Threshold) BestF1(List<(double Threshold, int Tp, int Fp)> sweep)
    {
        var positives = sweep[^1].Tp;
        if (positives == 0) return (double.NaN, double.NaN);
        // sklearn keeps the thresholds from the first reaching full recall upwards, ascending, and takes
        // the first maximum: walk from that point to higher thresholds, replacing only on a strict gain.
        var start = sweep.FindIndex(s => s.Tp == positives);
        double best = double.NegativeInfinity, bestThreshold = double.NaN;
        for (var k = start; k >= 0; k--)
        {
            var (threshold, tp, fp) = sweep[k];
            var precision = (double)tp / (tp + fp);
            var recall = (double)tp / positives;
            var f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
            if (f1 > best) (best, bestThreshold) = (f1, threshold);
        }
        return (best, bestThreshold);
    }

    /// <summary>Area under the ROC curve with ties averaged (scikit-learn's roc_auc_score); NaN with one class only.</summary>
    public static double RocAuc(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels) => RocAuc(SweepChecked(scores, labels));

    private static double RocAuc(List<(double Threshold, int Tp, int Fp)> sweep)
    {
        var p = sweep[^1].Tp;
        var n = sweep[^1].Fp;
        if (p == 0 || n == 0) return double.NaN;
        double area = 0;
        int prevTp = 0, prevFp = 0;
        foreach (var (_, tp, fp) in sweep)
        {
            area += (fp - prevFp) * (tp + prevTp) / 2.0; // trapezoid: ties move diagonally
            (prevTp, prevFp) = (tp, fp);
        }
        return area / ((double)p * n);
    }

    /// <summary>
    /// Average precision, step-wise as scikit-learn defines it: sum over distinct thresholds (descending)
    /// of (R_n - R_(n-1)) P_n. 0 when there is no positive (scikit-learn 1.2 returns -0.0 there).
    /// </summary>
    public static double AveragePrecision(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels) => AveragePrecision(SweepChecked(scores, labels));

    private static double AveragePrecision(List<(double Threshold, int Tp, int Fp)> sweep)
    {
        var positives = sweep[^1].Tp;
        if (positives == 0) return 0;
        double ap = 0, prevRecall = 0;
        foreach (var (_, tp, fp) in sweep)
        {
            var recall = (double)tp / positives;
            ap += (recall - prevRecall) * tp / (tp + fp);
            prevRecall = recall;
        }
        return ap;
    }

    /// <summary>
    /// Expected calibration error of the positive-class probability: 15 equal-width bins as scikit-learn's
    /// calibration_curve(strategy="uniform") forms them (bin b holds scores in (b/15, (b+1)/15], the first
    /// also 0), ECE = sum over non-empty bins of (n_b / N) |mean label - mean score|.
    /// </summary>
    public static double ExpectedCalibrationError(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, int bins = CalibrationBins)
    {
        var (meanScore, fractionPositive, count) = ReliabilityBins(scores, labels, bins);
        return Ece(meanScore, fractionPositive, count, scores.Length);
    }

    private static double Ece(double[] meanScore, double[] fractionPositive, int[] count, int total)
    {
        double ece = 0;
        for (var b = 0; b < count.Length; b++)
            ece += (double)count[b] / total * Math.Abs(fractionPositive[b] - meanScore[b]);
        return ece;
    }

    /// <summary>Mean squared difference between score and label.</summary>
    public static double Brier(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels)
    {
        Check(scores, labels);
        return BrierChecked(scores, labels);
    }

    private static double BrierChecked(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels)
    {
        double sum = 0;
        for (var i = 0; i < scores.Length; i++) sum += (scores[i] - labels[i]) * (scores[i] - labels[i]);
        return sum / scores.Length;
    }

    /// <summary>
    /// Mean negative log-likelihood, as scikit-learn 1.2's log_loss: probabilities clipped to
    /// [eps, 1 - eps] with eps = 2.22e-16 (float64 machine epsilon), so one confident mistake costs about
    /// 36 nats instead of infinity; prefer the training loss (from logits) for exact values.
    /// </summary>
    public static double LogLoss(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels)
    {
        Check(scores, labels);
        return LogLossChecked(scores, labels);
    }

    private static double LogLossChecked(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels)
    {
        const double eps = 2.220446049250313e-16;
        double sum = 0;
        for (var i = 0; i < scores.Length; i++)
        {
            var p = Math.Clamp(scores[i], eps, 1 - eps);
            var q = 1 - p;
            sum -= Math.Log((labels[i] == 1 ? p : q) / (p + q));
        }
        return sum / scores.Length;
    }

    /// <summary>
    /// The precision-recall curve, one point per distinct score from the highest down (predicting 1 when
    /// score &gt;= threshold), as scikit-learn's precision_recall_curve without its final (recall 0,
    /// precision 1) point. Empty arrays when there is no positive.
    /// </summary>
    public static (double[] Recall, double[] Precision, double[] Threshold) PrecisionRecallCurve(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels)
    {
        var sweep = SweepChecked(scores, labels);
        var positives = sweep[^1].Tp;
        if (positives == 0) return ([], [], []);
        return (sweep.Select(s => (double)s.Tp / positives).ToArray(),
                sweep.Select(s => (double)s.Tp / (s.Tp + s.Fp)).ToArray(),
                sweep.Select(s => s.Threshold).ToArray());
    }

    /// <summary>
    /// The reliability diagram behind <see cref="ExpectedCalibrationError"/>: for each non-empty bin, the mean
    /// score, the fraction of positives and the count.
    /// </summary>
    public static (double[] MeanScore, double[] FractionPositive, int[] Count) ReliabilityBins(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, int bins = CalibrationBins)
    {
        Check(scores, labels);
        return ReliabilityBinsChecked(scores, labels, bins);
    }

    private static (double[] MeanScore, double[] FractionPositive, int[] Count) ReliabilityBinsChecked(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, int bins)
    {
        if (bins < 1) throw new ArgumentException($"bins must be >= 1, got {bins}", nameof(bins));
        var edges = Enumerable.Range(0, bins + 1).Select(k => k == bins ? 1.0 : k * (1.0 / bins)).ToArray();
        var count = new int[bins];
        var sumY = new double[bins];
        var sumP = new double[bins];
        for (var i = 0; i < scores.Length; i++)
        {
            var b = InnerEdgesBelow(edges, scores[i]);
            count[b]++;
            sumY[b] += labels[i];
            sumP[b] += scores[i];
        }
        var used = Enumerable.Range(0, bins).Where(b => count[b] > 0).ToArray();
        return (used.Select(b => sumP[b] / count[b]).ToArray(), used.Select(b => sumY[b] / count[b]).ToArray(), used.Select(b => count[b]).ToArray());
    }

    /// <summary>Validates lengths, emptiness, label values and score range.</summary>
    internal static void Check(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels)
    {
        if (scores.Length != labels.Length)
            throw new ArgumentException($"labels length must equal scores length {scores.Length}, got {labels.Length}", nameof(labels));
        if (scores.Length == 0)
            throw new ArgumentException("scores must not be empty, got 0 samples", nameof(scores));
        foreach (var y in labels)
            if (y is not (0 or 1)) throw new ArgumentException($"labels must be 0 or 1, got {y}", nameof(labels));
        foreach (var s in scores)
            if (!(s >= 0 && s <= 1)) throw new ArgumentException($"scores must be probabilities in [0, 1], got {Format.Number(s)}", nameof(scores));
    }

    /// <summary>Validates, then <see cref="Sweep"/>.</summary>
    private static List<(double Threshold, int Tp, int Fp)> SweepChecked(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels)
    {
        Check(scores, labels);
        return Sweep(scores, labels);
    }

    /// <summary>Cumulative (threshold, TP, FP) at each distinct score, from the highest score down (inputs already validated).</summary>
    private static List<(double Threshold, int Tp, int Fp)> Sweep(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels)
    {
        var order = new int[scores.Length];
        for (var i = 0; i < order.Length; i++) order[i] = i;
        var keys = scores.ToArray();
        Array.Sort(keys, order);
        var result = new List<(double, int, int)>();
        int tp = 0, fp = 0;
        for (var k = order.Length - 1; k >= 0; k--)
        {
            if (labels[order[k]] == 1) tp++; else fp++;
            if (k == 0 || keys[k - 1] != keys[k]) result.Add((keys[k], tp, fp));
        }
        return result;
    }

    /// <summary>numpy.searchsorted(edges[1:-1], v, side="left"): the number of inner edges strictly below v.</summary>
    private static int InnerEdgesBelow(double[] edges, double v)
    {
        var b = 0;
        for (var k = 1; k < edges.Length - 1; k++)
            if (edges[k] < v) b++;
        return b;
    }
}
