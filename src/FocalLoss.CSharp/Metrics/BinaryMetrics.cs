using FocalLoss.Infrastructure;

namespace FocalLoss.Metrics;

/// <summary>Every binary metric of one evaluation, as <see cref="BinaryMetrics.Evaluate(ReadOnlySpan{double}, ReadOnlySpan{int}, double)"/> computes them.</summary>
/// <remarks>
/// Evaluated with sample weights, every metric is the weighted one; <see cref="Count"/> stays the number of
/// samples (zero-weight ones included) and <see cref="PositiveRate"/> is the weighted prevalence.
/// </remarks>
public sealed record BinaryReport(
    int Count, double PositiveRate, double Threshold,
    double Accuracy, double BalancedAccuracy, double Precision, double Recall, double F1,
    double BestF1, double BestF1Threshold,
    double RocAuc, double AveragePrecision,
    double Ece15, double Brier, double LogLoss)
{
    /// <summary>
    /// Mean predicted probability of class 1 (weighted by the sample weights when given): a calibrated model's
    /// equals <see cref="PositiveRate"/>, the prevalence. Not in <see cref="Values"/>, whose keys are the
    /// columns of every result table.
    /// </summary>
    public double MeanScore { get; init; }

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
/// <remarks>
/// Every metric also takes per-sample <c>weights</c> (importance weights, e.g. of a stratified test set whose
/// easy negatives each stand for many), with scikit-learn's <c>sample_weight</c> semantics: each sample
/// counts with its weight in every sum, so an integer weight k equals the sample repeated k times and a
/// weight of 0 equals leaving it out (its score is no threshold of the curves, its bin is not a bin). Weights
/// must be finite, &gt;= 0 and not all 0. The unweighted functions are the weighted ones with all weights 1.
/// </remarks>
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
        Check(scores, labels);
        return EvaluateChecked(scores, labels, UnitWeights(scores.Length), threshold);
    }

    /// <summary>
    /// Every metric with per-sample weights (scikit-learn's <c>sample_weight</c>); the threshold applies to
    /// accuracy, precision, recall and F1.
    /// </summary>
    /// <param name="scores">Probabilities of class 1, in [0, 1].</param>
    /// <param name="labels">0 or 1, as many as scores.</param>
    /// <param name="weights">Finite, &gt;= 0, not all 0, as many as scores.</param>
    /// <param name="threshold">Predict 1 when score &gt;= threshold; finite (default 0.5).</param>
    public static BinaryReport Evaluate(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights, double threshold = 0.5)
    {
        Check(scores, labels, weights);
        return EvaluateChecked(scores, labels, weights, threshold);
    }

    private static BinaryReport EvaluateChecked(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights, double threshold)
    {
        var counts = ConfusionChecked(scores, labels, weights, threshold);
        var sweep = Sweep(scores, labels, weights);
        var (bestF1, bestThreshold) = BestF1(sweep);
        var (meanScore, fractionPositive, binWeights) = ReliabilityBinsChecked(scores, labels, weights, CalibrationBins);
        return new BinaryReport(labels.Length, WeightedMean(labels, weights), threshold,
            Accuracy(counts), BalancedAccuracy(counts), Precision(counts), Recall(counts), F1(counts),
            bestF1, bestThreshold, RocAuc(sweep), AveragePrecision(sweep),
            Ece(meanScore, fractionPositive, binWeights), BrierChecked(scores, labels, weights), LogLossChecked(scores, labels, weights))
        {
            MeanScore = WeightedMean(scores, weights),
        };
    }

    /// <summary>Confusion counts with "positive" meaning score &gt;= threshold.</summary>
    public static (int Tp, int Fp, int Tn, int Fn) Confusion(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, double threshold)
    {
        Check(scores, labels);
        var (tp, fp, tn, fn) = ConfusionChecked(scores, labels, UnitWeights(scores.Length), threshold);
        return ((int)tp, (int)fp, (int)tn, (int)fn);
    }

    /// <summary>Weighted confusion matrix (scikit-learn's confusion_matrix with sample_weight): the weight of each cell, "positive" meaning score &gt;= threshold.</summary>
    public static (double Tp, double Fp, double Tn, double Fn) Confusion(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights, double threshold)
    {
        Check(scores, labels, weights);
        return ConfusionChecked(scores, labels, weights, threshold);
    }

    private static (double Tp, double Fp, double Tn, double Fn) ConfusionChecked(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights, double threshold)
    {
        if (!double.IsFinite(threshold))
            throw new ArgumentException($"threshold must be finite, got {Format.Number(threshold)}", nameof(threshold));
        double tp = 0, fp = 0, tn = 0, fn = 0;
        for (var i = 0; i < scores.Length; i++)
        {
            var predicted = scores[i] >= threshold;
            var w = weights[i];
            if (labels[i] == 1) { if (predicted) tp += w; else fn += w; }
            else { if (predicted) fp += w; else tn += w; }
        }
        return (tp, fp, tn, fn);
    }

    /// <summary>Fraction of correct predictions at the threshold.</summary>
    public static double Accuracy(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, double threshold = 0.5) =>
        Accuracy(UnitConfusion(scores, labels, threshold));

    /// <summary>Weighted fraction of correct predictions at the threshold.</summary>
    public static double Accuracy(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights, double threshold = 0.5) =>
        Accuracy(Confusion(scores, labels, weights, threshold));

    /// <summary>Mean recall over the classes present in the labels (scikit-learn's balanced accuracy).</summary>
    public static double BalancedAccuracy(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, double threshold = 0.5) =>
        BalancedAccuracy(UnitConfusion(scores, labels, threshold));

    /// <summary>Mean weighted recall over the classes with positive weight.</summary>
    public static double BalancedAccuracy(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights, double threshold = 0.5) =>
        BalancedAccuracy(Confusion(scores, labels, weights, threshold));

    /// <summary>TP / (TP + FP); 0 when nothing is predicted positive.</summary>
    public static double Precision(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, double threshold = 0.5) =>
        Precision(UnitConfusion(scores, labels, threshold));

    /// <summary>Weighted TP / (TP + FP); 0 when that weight is 0.</summary>
    public static double Precision(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights, double threshold = 0.5) =>
        Precision(Confusion(scores, labels, weights, threshold));

    /// <summary>TP / (TP + FN); 0 when there is no positive.</summary>
    public static double Recall(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, double threshold = 0.5) =>
        Recall(UnitConfusion(scores, labels, threshold));

    /// <summary>Weighted TP / (TP + FN); 0 when the positives weigh 0.</summary>
    public static double Recall(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights, double threshold = 0.5) =>
        Recall(Confusion(scores, labels, weights, threshold));

    /// <summary>2 TP / (2 TP + FP + FN); 0 when that denominator is 0.</summary>
    public static double F1(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, double threshold = 0.5) =>
        F1(UnitConfusion(scores, labels, threshold));

    /// <summary>Weighted 2 TP / (2 TP + FP + FN); 0 when that denominator is 0.</summary>
    public static double F1(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights, double threshold = 0.5) =>
        F1(Confusion(scores, labels, weights, threshold));

    private static (double Tp, double Fp, double Tn, double Fn) UnitConfusion(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, double threshold)
    {
        Check(scores, labels);
        return ConfusionChecked(scores, labels, UnitWeights(scores.Length), threshold);
    }

    private static double Accuracy((double Tp, double Fp, double Tn, double Fn) c) => (c.Tp + c.Tn) / (c.Tp + c.Fp + c.Tn + c.Fn);

    private static double BalancedAccuracy((double Tp, double Fp, double Tn, double Fn) c)
    {
        // scikit-learn drops the recall of a class whose row of the confusion matrix sums to 0 (0/0).
        double sum = 0;
        var classes = 0;
        if (c.Tp + c.Fn > 0) { sum += c.Tp / (c.Tp + c.Fn); classes++; }
        if (c.Tn + c.Fp > 0) { sum += c.Tn / (c.Tn + c.Fp); classes++; }
        return sum / classes;
    }

    private static double Precision((double Tp, double Fp, double Tn, double Fn) c) => c.Tp + c.Fp == 0 ? 0 : c.Tp / (c.Tp + c.Fp);

    private static double Recall((double Tp, double Fp, double Tn, double Fn) c) => c.Tp + c.Fn == 0 ? 0 : c.Tp / (c.Tp + c.Fn);

    private static double F1((double Tp, double Fp, double Tn, double Fn) c) => 2 * c.Tp + c.Fp + c.Fn == 0 ? 0 : 2 * c.Tp / (2 * c.Tp + c.Fp + c.Fn);

    /// <summary>
    /// The threshold, among the distinct scores, whose F1 (predicting 1 when score &gt;= threshold) is
    /// highest, as read off scikit-learn's precision-recall curve; ties go to the lowest such threshold.
    /// (NaN, NaN) when there is no positive.
    /// </summary>
    public static (double F1, double Threshold) BestF1(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels) =>
        BestF1(UnitSweep(scores, labels));

    /// <summary>
    /// The best F1 and its threshold over the weighted precision-recall curve (thresholds are the distinct
    /// scores of positive weight); ties go to the lowest such threshold. (NaN, NaN) when the positives weigh 0.
    /// </summary>
    public static (double F1, double Threshold) BestF1(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights) =>
        BestF1(CheckedSweep(scores, labels, weights));

    private static (double F1, double Threshold) BestF1(List<(double Threshold, double Tp, double Fp)> sweep)
    {
        var positives = sweep[^1].Tp;
        if (positives == 0) return (double.NaN, double.NaN);
        // The reference takes the first maximum over the curve's thresholds in ascending order: walk from the
        // lowest threshold up, replacing only on a strict gain. (Below the highest threshold of full recall F1
        // only falls, so this is the walk from that point the unweighted code made.)
        double best = double.NegativeInfinity, bestThreshold = double.NaN;
        for (var k = sweep.Count - 1; k >= 0; k--)
        {
            var (threshold, tp, fp) = sweep[k];
            var precision = tp / (tp + fp);
            var recall = tp / positives;
            var f1 = precision + recall > 0 ? 2 * precision * recall / (precision + recall) : 0.0;
            if (f1 > best) (best, bestThreshold) = (f1, threshold);
        }
        return (best, bestThreshold);
    }

    /// <summary>Area under the ROC curve with ties averaged (scikit-learn's roc_auc_score); NaN with one class only.</summary>
    public static double RocAuc(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels) => RocAuc(UnitSweep(scores, labels));

    /// <summary>Area under the weighted ROC curve (roc_auc_score with sample_weight); NaN when either class weighs 0.</summary>
    public static double RocAuc(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights) => RocAuc(CheckedSweep(scores, labels, weights));

    private static double RocAuc(List<(double Threshold, double Tp, double Fp)> sweep)
    {
        var p = sweep[^1].Tp;
        var n = sweep[^1].Fp;
        if (p == 0 || n == 0) return double.NaN;
        double area = 0, prevTp = 0, prevFp = 0;
        foreach (var (_, tp, fp) in sweep)
        {
            area += (fp - prevFp) * (tp + prevTp) / 2.0; // trapezoid: ties move diagonally
            (prevTp, prevFp) = (tp, fp);
        }
        return area / (p * n);
    }

    /// <summary>
    /// Average precision, step-wise as scikit-learn defines it: sum over distinct thresholds (descending)
    /// of (R_n - R_(n-1)) P_n. 0 when there is no positive (scikit-learn 1.2 returns -0.0 there).
    /// </summary>
    public static double AveragePrecision(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels) => AveragePrecision(UnitSweep(scores, labels));

    /// <summary>Average precision of the weighted precision-recall curve (average_precision_score with sample_weight); 0 when the positives weigh 0.</summary>
    public static double AveragePrecision(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights) =>
        AveragePrecision(CheckedSweep(scores, labels, weights));

    private static double AveragePrecision(List<(double Threshold, double Tp, double Fp)> sweep)
    {
        var positives = sweep[^1].Tp;
        if (positives == 0) return 0;
        double ap = 0, prevRecall = 0;
        foreach (var (_, tp, fp) in sweep)
        {
            var recall = tp / positives;
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
        Check(scores, labels);
        return Ece(ReliabilityBinsChecked(scores, labels, UnitWeights(scores.Length), bins));
    }

    /// <summary>
    /// Weighted expected calibration error over the same bins: sum over bins of positive weight of
    /// (W_b / W) |weighted mean label - weighted mean score|, W_b the bin's weight and W the total.
    /// </summary>
    public static double ExpectedCalibrationError(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights, int bins = CalibrationBins)
    {
        Check(scores, labels, weights);
        return Ece(ReliabilityBinsChecked(scores, labels, weights, bins));
    }

    private static double Ece((double[] MeanScore, double[] FractionPositive, double[] Weight) bins) =>
        Ece(bins.MeanScore, bins.FractionPositive, bins.Weight);

    private static double Ece(double[] meanScore, double[] fractionPositive, double[] weight)
    {
        double total = 0;
        foreach (var w in weight) total += w;
        double ece = 0;
        for (var b = 0; b < weight.Length; b++)
            ece += weight[b] / total * Math.Abs(fractionPositive[b] - meanScore[b]);
        return ece;
    }

    /// <summary>Mean squared difference between score and label.</summary>
    public static double Brier(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels)
    {
        Check(scores, labels);
        return BrierChecked(scores, labels, UnitWeights(scores.Length));
    }

    /// <summary>Weighted mean squared difference between score and label (brier_score_loss with sample_weight).</summary>
    public static double Brier(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights)
    {
        Check(scores, labels, weights);
        return BrierChecked(scores, labels, weights);
    }

    private static double BrierChecked(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights)
    {
        double sum = 0, total = 0;
        for (var i = 0; i < scores.Length; i++)
        {
            sum += weights[i] * ((scores[i] - labels[i]) * (scores[i] - labels[i]));
            total += weights[i];
        }
        return sum / total;
    }

    /// <summary>
    /// Mean negative log-likelihood, as scikit-learn 1.2's log_loss: probabilities clipped to
    /// [eps, 1 - eps] with eps = 2.22e-16 (float64 machine epsilon), so one confident mistake costs about
    /// 36 nats instead of infinity; prefer the training loss (from logits) for exact values.
    /// </summary>
    public static double LogLoss(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels)
    {
        Check(scores, labels);
        return LogLossChecked(scores, labels, UnitWeights(scores.Length));
    }

    /// <summary>Weighted mean negative log-likelihood (log_loss with sample_weight), clipped as <see cref="LogLoss(ReadOnlySpan{double}, ReadOnlySpan{int})"/>.</summary>
    public static double LogLoss(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights)
    {
        Check(scores, labels, weights);
        return LogLossChecked(scores, labels, weights);
    }

    private static double LogLossChecked(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights)
    {
        const double eps = 2.220446049250313e-16;
        double sum = 0, total = 0;
        for (var i = 0; i < scores.Length; i++)
        {
            var p = Math.Clamp(scores[i], eps, 1 - eps);
            var q = 1 - p;
            sum -= weights[i] * Math.Log((labels[i] == 1 ? p : q) / (p + q));
            total += weights[i];
        }
        return sum / total;
    }

    /// <summary>Mean predicted probability of class 1.</summary>
    public static double MeanScore(ReadOnlySpan<double> scores)
    {
        CheckScores(scores);
        return WeightedMean(scores, UnitWeights(scores.Length));
    }

    /// <summary>Weighted mean predicted probability of class 1: compare with <see cref="Prevalence(ReadOnlySpan{int}, ReadOnlySpan{double})"/>.</summary>
    public static double MeanScore(ReadOnlySpan<double> scores, ReadOnlySpan<double> weights)
    {
        CheckScores(scores);
        CheckWeights(weights, scores.Length, nameof(scores));
        return WeightedMean(scores, weights);
    }

    /// <summary>Fraction of positive labels.</summary>
    public static double Prevalence(ReadOnlySpan<int> labels)
    {
        CheckLabels(labels);
        return WeightedMean(labels, UnitWeights(labels.Length));
    }

    /// <summary>Weighted fraction of positive labels: the prevalence the importance weights restore.</summary>
    public static double Prevalence(ReadOnlySpan<int> labels, ReadOnlySpan<double> weights)
    {
        CheckLabels(labels);
        CheckWeights(weights, labels.Length, nameof(labels));
        return WeightedMean(labels, weights);
    }

    private static double WeightedMean(ReadOnlySpan<double> values, ReadOnlySpan<double> weights)
    {
        double sum = 0, total = 0;
        for (var i = 0; i < values.Length; i++) { sum += weights[i] * values[i]; total += weights[i]; }
        return sum / total;
    }

    private static double WeightedMean(ReadOnlySpan<int> values, ReadOnlySpan<double> weights)
    {
        double sum = 0, total = 0;
        for (var i = 0; i < values.Length; i++) { sum += weights[i] * values[i]; total += weights[i]; }
        return sum / total;
    }

    /// <summary>
    /// The precision-recall curve, one point per distinct score from the highest down (predicting 1 when
    /// score &gt;= threshold), as scikit-learn's precision_recall_curve without its final (recall 0,
    /// precision 1) point. Empty arrays when there is no positive.
    /// </summary>
    public static (double[] Recall, double[] Precision, double[] Threshold) PrecisionRecallCurve(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels) =>
        PrecisionRecallCurve(UnitSweep(scores, labels));

    /// <summary>
    /// The weighted precision-recall curve (precision_recall_curve with sample_weight), one point per distinct
    /// score of positive weight from the highest down, without the final (recall 0, precision 1) point.
    /// Empty arrays when the positives weigh 0.
    /// </summary>
    public static (double[] Recall, double[] Precision, double[] Threshold) PrecisionRecallCurve(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights) =>
        PrecisionRecallCurve(CheckedSweep(scores, labels, weights));

    private static (double[] Recall, double[] Precision, double[] Threshold) PrecisionRecallCurve(List<(double Threshold, double Tp, double Fp)> sweep)
    {
        var positives = sweep[^1].Tp;
        if (positives == 0) return ([], [], []);
        return (sweep.Select(s => s.Tp / positives).ToArray(),
                sweep.Select(s => s.Tp / (s.Tp + s.Fp)).ToArray(),
                sweep.Select(s => s.Threshold).ToArray());
    }

    /// <summary>
    /// The reliability diagram behind <see cref="ExpectedCalibrationError(ReadOnlySpan{double}, ReadOnlySpan{int}, int)"/>:
    /// for each non-empty bin, the mean score, the fraction of positives and the count.
    /// </summary>
    public static (double[] MeanScore, double[] FractionPositive, int[] Count) ReliabilityBins(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, int bins = CalibrationBins)
    {
        Check(scores, labels);
        var (meanScore, fractionPositive, weight) = ReliabilityBinsChecked(scores, labels, UnitWeights(scores.Length), bins);
        return (meanScore, fractionPositive, weight.Select(w => (int)w).ToArray());
    }

    /// <summary>
    /// The weighted reliability diagram: for each bin of positive weight, the weighted mean score, the weighted
    /// fraction of positives and the bin's weight (with integer weights, the count of the repeated samples).
    /// </summary>
    public static (double[] MeanScore, double[] FractionPositive, double[] Weight) ReliabilityBins(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights, int bins = CalibrationBins)
    {
        Check(scores, labels, weights);
        return ReliabilityBinsChecked(scores, labels, weights, bins);
    }

    private static (double[] MeanScore, double[] FractionPositive, double[] Weight) ReliabilityBinsChecked(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights, int bins)
    {
        if (bins < 1) throw new ArgumentException($"bins must be >= 1, got {bins}", nameof(bins));
        var edges = Enumerable.Range(0, bins + 1).Select(k => k == bins ? 1.0 : k * (1.0 / bins)).ToArray();
        var weight = new double[bins];
        var sumY = new double[bins];
        var sumP = new double[bins];
        for (var i = 0; i < scores.Length; i++)
        {
            var b = InnerEdgesBelow(edges, scores[i]);
            var w = weights[i];
            weight[b] += w;
            sumY[b] += w * labels[i];
            sumP[b] += w * scores[i];
        }
        var used = Enumerable.Range(0, bins).Where(b => weight[b] > 0).ToArray();
        return (used.Select(b => sumP[b] / weight[b]).ToArray(), used.Select(b => sumY[b] / weight[b]).ToArray(), used.Select(b => weight[b]).ToArray());
    }

    /// <summary>Validates lengths, emptiness, label values and score range.</summary>
    internal static void Check(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels)
    {
        if (scores.Length != labels.Length)
            throw new ArgumentException($"labels length must equal scores length {scores.Length}, got {labels.Length}", nameof(labels));
        if (scores.Length == 0)
            throw new ArgumentException("scores must not be empty, got 0 samples", nameof(scores));
        CheckLabelValues(labels);
        CheckScoreValues(scores);
    }

    /// <summary>Validates scores and labels as <see cref="Check(ReadOnlySpan{double}, ReadOnlySpan{int})"/>, then the weights.</summary>
    private static void Check(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights)
    {
        Check(scores, labels);
        CheckWeights(weights, scores.Length, nameof(scores));
    }

    private static void CheckScores(ReadOnlySpan<double> scores)
    {
        if (scores.Length == 0)
            throw new ArgumentException("scores must not be empty, got 0 samples", nameof(scores));
        CheckScoreValues(scores);
    }

    private static void CheckLabels(ReadOnlySpan<int> labels)
    {
        if (labels.Length == 0)
            throw new ArgumentException("labels must not be empty, got 0 samples", nameof(labels));
        CheckLabelValues(labels);
    }

    private static void CheckLabelValues(ReadOnlySpan<int> labels)
    {
        foreach (var y in labels)
            if (y is not (0 or 1)) throw new ArgumentException($"labels must be 0 or 1, got {y}", nameof(labels));
    }

    private static void CheckScoreValues(ReadOnlySpan<double> scores)
    {
        foreach (var s in scores)
            if (!(s >= 0 && s <= 1)) throw new ArgumentException($"scores must be probabilities in [0, 1], got {Format.Number(s)}", nameof(scores));
    }

    /// <summary>Weights: one per sample of <paramref name="of"/>, each finite and &gt;= 0, with a positive finite sum.</summary>
    private static void CheckWeights(ReadOnlySpan<double> weights, int count, string of)
    {
        if (weights.Length != count)
            throw new ArgumentException($"weights length must equal {of} length {count}, got {weights.Length}", nameof(weights));
        double total = 0;
        for (var i = 0; i < weights.Length; i++)
        {
            var w = weights[i];
            if (!(w >= 0 && w < double.PositiveInfinity))
                throw new ArgumentException($"weights must be finite and >= 0, got {Format.Number(w)} at index {i}", nameof(weights));
            total += w;
        }
        if (total == 0)
            throw new ArgumentException($"weights must not all be 0, got {count} zero weights", nameof(weights));
        if (!double.IsFinite(total))
            throw new ArgumentException($"weights must have a finite sum, got {Format.Number(total)}", nameof(weights));
    }

    /// <summary>All weights 1: the unweighted metrics are the weighted ones with these.</summary>
    private static double[] UnitWeights(int count)
    {
        var weights = new double[count];
        Array.Fill(weights, 1.0);
        return weights;
    }

    /// <summary>Validates, then <see cref="Sweep"/> with unit weights.</summary>
    private static List<(double Threshold, double Tp, double Fp)> UnitSweep(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels)
    {
        Check(scores, labels);
        return Sweep(scores, labels, UnitWeights(scores.Length));
    }

    /// <summary>Validates, then <see cref="Sweep"/>.</summary>
    private static List<(double Threshold, double Tp, double Fp)> CheckedSweep(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights)
    {
        Check(scores, labels, weights);
        return Sweep(scores, labels, weights);
    }

    /// <summary>
    /// Cumulative (threshold, TP, FP) weights at each distinct score of positive weight, from the highest score
    /// down (inputs already validated). Zero-weight samples are left out, as scikit-learn's _binary_clf_curve
    /// does: their scores are no thresholds. Never empty, since the weights are not all 0.
    /// </summary>
    private static List<(double Threshold, double Tp, double Fp)> Sweep(ReadOnlySpan<double> scores, ReadOnlySpan<int> labels, ReadOnlySpan<double> weights)
    {
        // Each kept sample travels through the sort as its weight, signed by its label (weights are > 0 here),
        // so the sweep reads label and weight in order instead of looking both up by index.
        var keys = new double[scores.Length];
        var signedWeights = new double[scores.Length];
        var kept = 0;
        for (var i = 0; i < scores.Length; i++)
        {
            if (weights[i] == 0) continue;
            keys[kept] = scores[i];
            signedWeights[kept] = labels[i] == 1 ? weights[i] : -weights[i];
            kept++;
        }
        Array.Sort(keys, signedWeights, 0, kept);
        var result = new List<(double, double, double)>();
        double tp = 0, fp = 0;
        for (var k = kept - 1; k >= 0; k--)
        {
            if (signedWeights[k] > 0) tp += signedWeights[k]; else fp -= signedWeights[k];
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
