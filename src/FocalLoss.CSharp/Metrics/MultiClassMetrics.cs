using FocalLoss.Infrastructure;

namespace FocalLoss.Metrics;

/// <summary>Every multi-class metric of one evaluation.</summary>
public sealed record MultiClassReport(int Count, int Classes, double Top1, double MacroF1, double[] PerClassRecall, double ClasswiseEce15, double TopLabelEce15)
{
    /// <summary>Name/value pairs in a fixed order (per-class recall as recall_k).</summary>
    public IReadOnlyList<KeyValuePair<string, double>> Values() =>
    [
        new("top1", Top1), new("macro_f1", MacroF1), new("classwise_ece15", ClasswiseEce15), new("top_label_ece15", TopLabelEce15),
        .. PerClassRecall.Select((r, k) => new KeyValuePair<string, double>($"recall_{k}", r)),
    ];
}

/// <summary>
/// Multi-class metrics on host arrays: <c>probabilities</c> is row-major [N, C] (each row a distribution),
/// <c>labels</c> are class ids. Follows scikit-learn 1.2 with <c>labels = 0..C-1</c> and
/// <c>zero_division = 0</c>; the predicted class is the first arg-max, as numpy's argmax.
/// </summary>
public static class MultiClassMetrics
{
    /// <summary>Computes every metric.</summary>
    public static MultiClassReport Evaluate(ReadOnlySpan<double> probabilities, ReadOnlySpan<int> labels, int classes)
    {
        var predicted = Predict(probabilities, labels, classes);
        var tp = new int[classes];
        var support = new int[classes];
        var predictedCount = new int[classes];
        var correct = 0;
        for (var i = 0; i < labels.Length; i++)
        {
            support[labels[i]]++;
            predictedCount[predicted[i]]++;
            if (predicted[i] == labels[i]) { tp[labels[i]]++; correct++; }
        }
        var recall = new double[classes];
        double f1Sum = 0;
        for (var k = 0; k < classes; k++)
        {
            recall[k] = support[k] == 0 ? 0 : (double)tp[k] / support[k];
            var denominator = support[k] + predictedCount[k];
            f1Sum += denominator == 0 ? 0 : 2.0 * tp[k] / denominator;
        }
        return new MultiClassReport(labels.Length, classes, (double)correct / labels.Length, f1Sum / classes, recall,
            ClasswiseEce(probabilities, labels, classes), TopLabelEceOf(probabilities, labels, classes, predicted, BinaryMetrics.CalibrationBins));
    }

    /// <summary>
    /// Top-label expected calibration error (Guo et al. 2017, arXiv:1706.04599; the ECE of Mukhoti et al.
    /// 2020, arXiv:2002.09437): confidence = the largest class probability of a row, correct = its first
    /// arg-max equals the label; confidences binned as <see cref="BinaryMetrics.ExpectedCalibrationError(ReadOnlySpan{double}, ReadOnlySpan{int}, int)"/>
    /// bins scores (equal-width bins over [0, 1], bin b holding (b/bins, (b+1)/bins], the first also 0),
    /// ECE = sum over non-empty bins of (n_b / N) |accuracy_b - mean confidence_b|. Unlike
    /// <see cref="ClasswiseEce"/> it ignores every probability but the top one.
    /// </summary>
    public static double TopLabelEce(ReadOnlySpan<double> probabilities, ReadOnlySpan<int> labels, int classes, int bins = BinaryMetrics.CalibrationBins) =>
        TopLabelEceOf(probabilities, labels, classes, Predict(probabilities, labels, classes), bins);

    /// <summary>
    /// The reliability diagram behind <see cref="TopLabelEce"/>: for each non-empty bin of the top-label
    /// confidence, the mean confidence, the accuracy (fraction whose arg-max is the label) and the count.
    /// </summary>
    public static (double[] MeanConfidence, double[] Accuracy, int[] Count) TopLabelReliabilityBins(ReadOnlySpan<double> probabilities, ReadOnlySpan<int> labels, int classes, int bins = BinaryMetrics.CalibrationBins)
    {
        var (confidence, correct) = TopLabel(probabilities, labels, classes, Predict(probabilities, labels, classes));
        return BinaryMetrics.ReliabilityBins(confidence, correct, bins);
    }

    /// <summary>Top-label ECE from already validated inputs and their arg-max.</summary>
    private static double TopLabelEceOf(ReadOnlySpan<double> probabilities, ReadOnlySpan<int> labels, int classes, int[] predicted, int bins)
    {
        var (confidence, correct) = TopLabel(probabilities, labels, classes, predicted);
        return BinaryMetrics.ExpectedCalibrationError(confidence, correct, bins);
    }

    /// <summary>Each row's probability of its predicted class, and 1 where that prediction is the label.</summary>
    private static (double[] Confidence, int[] Correct) TopLabel(ReadOnlySpan<double> probabilities, ReadOnlySpan<int> labels, int classes, int[] predicted)
    {
        var confidence = new double[labels.Length];
        var correct = new int[labels.Length];
        for (var i = 0; i < labels.Length; i++)
        {
            confidence[i] = probabilities[i * classes + predicted[i]];
            correct[i] = predicted[i] == labels[i] ? 1 : 0;
        }
        return (confidence, correct);
    }

    /// <summary>
    /// Mean over classes k of the binary expected calibration error (15 bins) of the one-vs-rest problem
    /// (label == k, probability of k).
    /// </summary>
    public static double ClasswiseEce(ReadOnlySpan<double> probabilities, ReadOnlySpan<int> labels, int classes, int bins = BinaryMetrics.CalibrationBins)
    {
        Predict(probabilities, labels, classes);
        var n = labels.Length;
        var scores = new double[n];
        var isClass = new int[n];
        double total = 0;
        for (var k = 0; k < classes; k++)
        {
            for (var i = 0; i < n; i++)
            {
                scores[i] = probabilities[i * classes + k];
                isClass[i] = labels[i] == k ? 1 : 0;
            }
            total += BinaryMetrics.ExpectedCalibrationError(scores, isClass, bins);
        }
        return total / classes;
    }

    /// <summary>First arg-max of each row, after validating shapes and values.</summary>
    public static int[] Predict(ReadOnlySpan<double> probabilities, ReadOnlySpan<int> labels, int classes)
    {
        if (classes < 2) throw new ArgumentException($"classes must be >= 2, got {classes}", nameof(classes));
        if (labels.Length == 0) throw new ArgumentException("labels must not be empty, got 0 samples", nameof(labels));
        if (probabilities.Length != labels.Length * classes)
            throw new ArgumentException($"probabilities must hold N x C = {labels.Length} x {classes} = {labels.Length * classes} values, got {probabilities.Length}", nameof(probabilities));
        foreach (var y in labels)
            if (y < 0 || y >= classes) throw new ArgumentException($"labels must be class ids in [0, {classes - 1}], got {y}", nameof(labels));
        var predicted = new int[labels.Length];
        for (var i = 0; i < labels.Length; i++)
        {
            var best = 0;
            for (var k = 0; k < classes; k++)
            {
                var p = probabilities[i * classes + k];
                if (!(p >= 0 && p <= 1)) throw new ArgumentException($"probabilities must lie in [0, 1], got {Format.Number(p)} at row {i}, class {k}", nameof(probabilities));
                if (p > probabilities[i * classes + best]) best = k;
            }
            predicted[i] = best;
        }
        return predicted;
    }
}
