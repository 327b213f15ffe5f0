using FocalLoss.Infrastructure;

namespace FocalLoss.Metrics;

/// <summary>Every multi-label metric of one evaluation, as <see cref="MultiLabelMetrics.Evaluate"/> computes them.</summary>
/// <param name="Count">Samples N.</param>
/// <param name="Labels">Labels C.</param>
/// <param name="Threshold">The decision threshold of the F1 scores.</param>
/// <param name="MeanAveragePrecision">mAP: the mean of <paramref name="AveragePrecisionPerLabel"/> over all C labels.</param>
/// <param name="MicroF1">F1 of the TP, FP and FN counts pooled over all N x C label slots.</param>
/// <param name="MacroF1">The mean of <paramref name="F1PerLabel"/> over all C labels.</param>
/// <param name="AveragePrecisionPerLabel">Average precision of each label's column (0 for a label without positives).</param>
/// <param name="F1PerLabel">F1 of each label's column at the threshold (0 where its denominator is 0).</param>
/// <param name="SlotEce15">Expected calibration error (15 equal-width bins) of all N x C slots pooled as one binary problem.</param>
/// <param name="SlotBrier">Brier score of all N x C slots pooled (scikit-learn's <c>brier_score_loss(y.ravel(), p.ravel())</c>).</param>
/// <param name="SlotLogLoss">Log-loss of all N x C slots pooled (<c>log_loss(y.ravel(), p.ravel())</c>).</param>
public sealed record MultiLabelReport(
    int Count, int Labels, double Threshold,
    double MeanAveragePrecision, double MicroF1, double MacroF1,
    double[] AveragePrecisionPerLabel, double[] F1PerLabel,
    double SlotEce15, double SlotBrier, double SlotLogLoss)
{
    /// <summary>Name/value pairs in a fixed order (per-label average precision as ap_label_k).</summary>
    public IReadOnlyList<KeyValuePair<string, double>> Values() =>
    [
        new("mean_average_precision", MeanAveragePrecision), new("micro_f1", MicroF1), new("macro_f1", MacroF1),
        new("slot_ece15", SlotEce15), new("slot_brier", SlotBrier), new("slot_log_loss", SlotLogLoss),
        .. AveragePrecisionPerLabel.Select((ap, k) => new KeyValuePair<string, double>($"ap_label_{k}", ap)),
    ];
}

/// <summary>
/// Multi-label metrics on host arrays: <c>probabilities</c> and <c>labels</c> are row-major [N, C], one
/// independent probability and one 0/1 label per (sample, label) slot. Each follows scikit-learn 1.2.1
/// (checked against values it computed, see tests/FocalLoss.Tests/data/metrics): mean average precision is
/// <c>average_precision_score(y, p, average="macro")</c>, the F1 scores are <c>f1_score(y, p &gt;= threshold,
/// average="micro" / "macro")</c> with scikit-learn's default <c>zero_division</c> (a 0/0 F1 is 0, with a
/// warning there). A label without any positive in <c>labels</c> has AP 0 there (scikit-learn 1.2.1 warns
/// "No positive class found in y_true", sets its recall to 1 and returns -0.0) and still counts in the
/// mean, so such a label pulls mAP down by 1/C; its F1 is 0 too, whether or not it is predicted. A label
/// whose every slot is positive has AP 1. Empty input is an error.
/// </summary>
public static class MultiLabelMetrics
{
    /// <summary>
    /// Computes every metric; a slot is predicted positive when its probability is &gt;= <paramref name="threshold"/>.
    /// </summary>
    /// <param name="probabilities">Row-major [N, C] probabilities in [0, 1].</param>
    /// <param name="labels">Row-major [N, C] labels, 0 or 1.</param>
    /// <param name="labelCount">C, >= 1.</param>
    /// <param name="threshold">Decision threshold of the F1 scores, finite (default 0.5).</param>
    public static MultiLabelReport Evaluate(ReadOnlySpan<double> probabilities, ReadOnlySpan<int> labels, int labelCount, double threshold = 0.5)
    {
        Check(probabilities, labels, labelCount, threshold);
        var n = labels.Length / labelCount;
        var scores = new double[n];
        var column = new int[n];
        var ap = new double[labelCount];
        var f1 = new double[labelCount];
        long tpAll = 0, fpAll = 0, fnAll = 0;
        for (var k = 0; k < labelCount; k++)
        {
            for (var i = 0; i < n; i++)
            {
                scores[i] = probabilities[i * labelCount + k];
                column[i] = labels[i * labelCount + k];
            }
            ap[k] = BinaryMetrics.AveragePrecision(scores, column);
            var (tp, fp, _, fn) = BinaryMetrics.Confusion(scores, column, threshold);
            f1[k] = F1(tp, fp, fn);
            tpAll += tp;
            fpAll += fp;
            fnAll += fn;
        }
        return new MultiLabelReport(n, labelCount, threshold, ap.Average(), F1(tpAll, fpAll, fnAll), f1.Average(), ap, f1,
            BinaryMetrics.ExpectedCalibrationError(probabilities, labels), BinaryMetrics.Brier(probabilities, labels),
            BinaryMetrics.LogLoss(probabilities, labels));
    }

    /// <summary>2 TP / (2 TP + FP + FN); 0 when that denominator is 0 (scikit-learn's zero_division default).</summary>
    private static double F1(long tp, long fp, long fn) => 2 * tp + fp + fn == 0 ? 0 : 2.0 * tp / (2 * tp + fp + fn);

    /// <summary>Validates shapes, emptiness, label values, probability range and threshold, naming the parameter.</summary>
    private static void Check(ReadOnlySpan<double> probabilities, ReadOnlySpan<int> labels, int labelCount, double threshold)
    {
        if (labelCount < 1) throw new ArgumentException($"labelCount must be >= 1, got {labelCount}", nameof(labelCount));
        if (labels.Length == 0) throw new ArgumentException("labels must not be empty, got 0 samples", nameof(labels));
        if (labels.Length % labelCount != 0)
            throw new ArgumentException($"labels must hold N x C values with C = {labelCount}, got {labels.Length} (not a multiple of {labelCount})", nameof(labels));
        if (probabilities.Length != labels.Length)
            throw new ArgumentException($"probabilities must hold N x C = {labels.Length / labelCount} x {labelCount} = {labels.Length} values as labels do, got {probabilities.Length}", nameof(probabilities));
        if (!double.IsFinite(threshold))
            throw new ArgumentException($"threshold must be finite, got {Format.Number(threshold)}", nameof(threshold));
        for (var i = 0; i < labels.Length; i++)
        {
            if (labels[i] is not (0 or 1))
                throw new ArgumentException($"labels must be 0 or 1, got {labels[i]} at row {i / labelCount}, label {i % labelCount}", nameof(labels));
            var p = probabilities[i];
            if (!(p >= 0 && p <= 1))
                throw new ArgumentException($"probabilities must lie in [0, 1], got {Format.Number(p)} at row {i / labelCount}, label {i % labelCount}", nameof(probabilities));
        }
    }
}
