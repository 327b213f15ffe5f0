using System.Text.Json;
using FocalLoss.Metrics;
using Xunit;

namespace FocalLoss.Tests;

/// <summary>Every metric (binary, multi-class, multi-label) against scikit-learn 1.2.1's values (data/metrics/, regenerate with its script).</summary>
public class MetricsTests
{
    private const double Rel = 1e-12;
    private const double Abs = 1e-12;

    private static readonly JsonElement Reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "data", "metrics", "metrics_reference.json"))).RootElement;

    public static TheoryData<string> BinaryCases() => new(Reference.GetProperty("binary").EnumerateArray().Select(c => c.GetProperty("name").GetString()!));
    public static TheoryData<string> MultiClassCases() => new(Reference.GetProperty("multiclass").EnumerateArray().Select(c => c.GetProperty("name").GetString()!));
    public static TheoryData<string> WeightedBinaryCases() => new(Reference.GetProperty("weighted_binary").EnumerateArray().Select(c => c.GetProperty("name").GetString()!));
    public static TheoryData<string> MultiLabelCases() => new(Reference.GetProperty("multilabel").EnumerateArray().Select(c => c.GetProperty("name").GetString()!));

    private static JsonElement Case(string group, string name) => Reference.GetProperty(group).EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

    private static void Same(double expected, double actual, string what) =>
        Assert.True((double.IsNaN(expected) && double.IsNaN(actual)) || Tol.Close(actual, expected, Rel, Abs), $"{what}: scikit-learn {expected:R}, workbench {actual:R}");

    private static double? Optional(JsonElement c, string key) => c.GetProperty(key).ValueKind == JsonValueKind.Null ? null : c.GetProperty(key).GetDouble();

    [Theory]
    [MemberData(nameof(BinaryCases))]
    public void binary_metrics_match_scikit_learn(string name)
    {
        var c = Case("binary", name);
        var scores = c.GetProperty("scores").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        var labels = c.GetProperty("labels").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        var report = BinaryMetrics.Evaluate(scores, labels, c.GetProperty("threshold").GetDouble());
        Same(c.GetProperty("accuracy").GetDouble(), report.Accuracy, "accuracy");
        Same(c.GetProperty("balanced_accuracy").GetDouble(), report.BalancedAccuracy, "balanced accuracy");
        Same(c.GetProperty("precision").GetDouble(), report.Precision, "precision");
        Same(c.GetProperty("recall").GetDouble(), report.Recall, "recall");
        Same(c.GetProperty("f1").GetDouble(), report.F1, "f1");
        Same(c.GetProperty("brier").GetDouble(), report.Brier, "brier");
        Same(c.GetProperty("log_loss").GetDouble(), report.LogLoss, "log loss");
        Same(c.GetProperty("ece15").GetDouble(), report.Ece15, "ece15");
        Same(Optional(c, "roc_auc") ?? double.NaN, report.RocAuc, "roc auc (NaN where scikit-learn raises)");
        Same(c.GetProperty("average_precision").GetDouble(), report.AveragePrecision, "average precision");
        Same(Optional(c, "best_f1") ?? double.NaN, report.BestF1, "best F1");
        Same(Optional(c, "best_f1_threshold") ?? double.NaN, report.BestF1Threshold, "best-F1 threshold");
    }

    [Theory]
    [MemberData(nameof(WeightedBinaryCases))]
    public void weighted_binary_metrics_match_scikit_learn_sample_weight(string name)
    {
        var c = Case("weighted_binary", name);
        var scores = Doubles(c.GetProperty("scores"));
        var labels = c.GetProperty("labels").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        var weights = Doubles(c.GetProperty("weights"));
        var threshold = c.GetProperty("threshold").GetDouble();
        var report = BinaryMetrics.Evaluate(scores, labels, weights, threshold);
        // Each metric twice: from the report and from its own weighted function.
        void Both(string key, double fromReport, double alone)
        {
            var expected = Optional(c, key) ?? double.NaN;
            Same(expected, fromReport, $"{key} (report)");
            Same(expected, alone, $"{key} (BinaryMetrics function)");
        }
        Assert.Equal(scores.Length, report.Count);
        Assert.Equal(threshold, report.Threshold);
        Both("accuracy", report.Accuracy, BinaryMetrics.Accuracy(scores, labels, weights, threshold));
        Both("balanced_accuracy", report.BalancedAccuracy, BinaryMetrics.BalancedAccuracy(scores, labels, weights, threshold));
        Both("precision", report.Precision, BinaryMetrics.Precision(scores, labels, weights, threshold));
        Both("recall", report.Recall, BinaryMetrics.Recall(scores, labels, weights, threshold));
        Both("f1", report.F1, BinaryMetrics.F1(scores, labels, weights, threshold));
        var (bestF1, bestThreshold) = BinaryMetrics.BestF1(scores, labels, weights);
        Both("best_f1", report.BestF1, bestF1);
        Both("best_f1_threshold", report.BestF1Threshold, bestThreshold);
        Both("roc_auc", report.RocAuc, BinaryMetrics.RocAuc(scores, labels, weights));
        Both("average_precision", report.AveragePrecision, BinaryMetrics.AveragePrecision(scores, labels, weights));
        Both("ece15", report.Ece15, BinaryMetrics.ExpectedCalibrationError(scores, labels, weights));
        Both("brier", report.Brier, BinaryMetrics.Brier(scores, labels, weights));
        Both("log_loss", report.LogLoss, BinaryMetrics.LogLoss(scores, labels, weights));
        Both("mean_score", report.MeanScore, BinaryMetrics.MeanScore(scores, weights));
        Both("prevalence", report.PositiveRate, BinaryMetrics.Prevalence(labels, weights));
        var confusion = c.GetProperty("confusion");
        var (tp, fp, tn, fn) = BinaryMetrics.Confusion(scores, labels, weights, threshold);
        Same(confusion.GetProperty("tp").GetDouble(), tp, "confusion tp");
        Same(confusion.GetProperty("fp").GetDouble(), fp, "confusion fp");
        Same(confusion.GetProperty("tn").GetDouble(), tn, "confusion tn");
        Same(confusion.GetProperty("fn").GetDouble(), fn, "confusion fn");
        var (recall, precision, thresholds) = BinaryMetrics.PrecisionRecallCurve(scores, labels, weights);
        var curve = c.GetProperty("pr_curve");
        if (curve.ValueKind == JsonValueKind.Null) Assert.Empty(thresholds);
        else
        {
            SameArray(Doubles(curve.GetProperty("recall")), recall, "precision-recall curve: recall");
            SameArray(Doubles(curve.GetProperty("precision")), precision, "precision-recall curve: precision");
            SameArray(Doubles(curve.GetProperty("threshold")), thresholds, "precision-recall curve: threshold");
        }
        var (meanScore, fractionPositive, binWeight) = BinaryMetrics.ReliabilityBins(scores, labels, weights);
        var bins = c.GetProperty("reliability");
        SameArray(Doubles(bins.GetProperty("mean_score")), meanScore, "reliability bins: weighted mean score");
        SameArray(Doubles(bins.GetProperty("fraction_positive")), fractionPositive, "reliability bins: weighted fraction positive");
        SameArray(Doubles(bins.GetProperty("weight")), binWeight, "reliability bins: weight");
    }

    private static void SameArray(double[] expected, double[] actual, string what)
    {
        Assert.True(expected.Length == actual.Length, $"{what}: scikit-learn has {expected.Length} values, workbench {actual.Length}");
        for (var i = 0; i < expected.Length; i++) Same(expected[i], actual[i], $"{what} [{i}]");
    }

    [Fact]
    public void weight_zero_samples_change_no_metric_of_the_stratified_reference_case()
    {
        // The study's design (easy negatives of weight 1000) plus samples of weight 0 at the extremes, on the
        // case's own scores (ties) and on bin edges: no metric, curve or bin may move, not even by a rounding.
        var c = Case("weighted_binary", "stratified-easy-negatives-weight-1000");
        var scores = Doubles(c.GetProperty("scores"));
        var labels = c.GetProperty("labels").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        var weights = Doubles(c.GetProperty("weights"));
        double[] extraScores = [0.0, 1.0, 1.0, scores[0], scores[^1], 7 / 15.0, 0.999, 0.5];
        int[] extraLabels = [1, 0, 1, 0, 1, 1, 0, 1];
        var before = WeightedMetrics.All(scores, labels, weights, 0.5);
        var after = WeightedMetrics.All([.. scores, .. extraScores], [.. labels, .. extraLabels], [.. weights, .. extraScores.Select(_ => 0.0)], 0.5);
        Assert.Equal(before.Select(m => m.Name), after.Select(m => m.Name));
        foreach (var (b, a) in before.Zip(after))
            Assert.True(b.Value.Equals(a.Value), $"{b.Name}: {b.Value:R} without the zero-weight samples, {a.Value:R} with them");
    }

    [Fact]
    public void roc_auc_of_large_tied_groups_does_not_overflow()
    {
        // 50,000 positives at score 1 above 50,000 negatives at 0 (saturated float32 sigmoids): AUC 1. The
        // trapezoid of the tied negatives is 50,000 x 100,000 / 2; as an int product it overflowed and the
        // area came out as 0.141. Importance weights of 1000 on the negatives give the same AUC.
        const int half = 50_000;
        var scores = Enumerable.Range(0, 2 * half).Select(i => i < half ? 1.0 : 0.0).ToArray();
        var labels = Enumerable.Range(0, 2 * half).Select(i => i < half ? 1 : 0).ToArray();
        Assert.Equal(1.0, BinaryMetrics.RocAuc(scores, labels));
        Assert.Equal(1.0, BinaryMetrics.Evaluate(scores, labels).RocAuc);
        Assert.Equal(1.0, BinaryMetrics.RocAuc(scores, labels, labels.Select(y => y == 1 ? 1.0 : 1000.0).ToArray()));
    }

    [Fact]
    public void weights_length_must_equal_scores_length()
    {
        var e = Assert.Throws<ArgumentException>(() => BinaryMetrics.Evaluate([0.1, 0.9], [0, 1], [1.0]));
        Assert.Equal("weights", e.ParamName);
        Assert.Contains("weights length must equal scores length 2, got 1", e.Message);
        var prevalence = Assert.Throws<ArgumentException>(() => BinaryMetrics.Prevalence([0, 1, 1], [1.0, 2.0]));
        Assert.Equal("weights", prevalence.ParamName);
        Assert.Contains("weights length must equal labels length 3, got 2", prevalence.Message);
    }

    [Theory]
    [InlineData(-1.0, "-1")]
    [InlineData(-1e-300, "-1E-300")]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.PositiveInfinity, "Infinity")]
    [InlineData(double.NegativeInfinity, "-Infinity")]
    public void weights_must_be_finite_and_non_negative(double weight, string shown)
    {
        var e = Assert.Throws<ArgumentException>(() => BinaryMetrics.Evaluate([0.1, 0.9, 0.4], [0, 1, 1], [1.0, 2.0, weight]));
        Assert.Equal("weights", e.ParamName);
        Assert.Contains($"weights must be finite and >= 0, got {shown} at index 2", e.Message);
    }

    [Fact]
    public void weights_must_not_all_be_zero()
    {
        var e = Assert.Throws<ArgumentException>(() => BinaryMetrics.Evaluate([0.1, 0.9, 0.4], [0, 1, 1], [0.0, -0.0, 0.0]));
        Assert.Equal("weights", e.ParamName);
        Assert.Contains("weights must not all be 0, got 3 zero weights", e.Message);
    }

    [Fact]
    public void weights_must_have_a_finite_sum()
    {
        var e = Assert.Throws<ArgumentException>(() => BinaryMetrics.Evaluate([0.1, 0.9], [0, 1], [double.MaxValue, double.MaxValue]));
        Assert.Equal("weights", e.ParamName);
        Assert.Contains("weights must have a finite sum, got Infinity", e.Message);
    }

    [Fact]
    public void every_weighted_metric_validates_its_weights()
    {
        double[] s = [0.1, 0.9];
        int[] y = [0, 1];
        double[] bad = [1.0, -2.0];
        var calls = new (string Name, Action Call)[]
        {
            ("Evaluate", () => BinaryMetrics.Evaluate(s, y, bad)),
            ("Confusion", () => BinaryMetrics.Confusion(s, y, bad, 0.5)),
            ("Accuracy", () => BinaryMetrics.Accuracy(s, y, bad)),
            ("BalancedAccuracy", () => BinaryMetrics.BalancedAccuracy(s, y, bad)),
            ("Precision", () => BinaryMetrics.Precision(s, y, bad)),
            ("Recall", () => BinaryMetrics.Recall(s, y, bad)),
            ("F1", () => BinaryMetrics.F1(s, y, bad)),
            ("BestF1", () => BinaryMetrics.BestF1(s, y, bad)),
            ("RocAuc", () => BinaryMetrics.RocAuc(s, y, bad)),
            ("AveragePrecision", () => BinaryMetrics.AveragePrecision(s, y, bad)),
            ("ExpectedCalibrationError", () => BinaryMetrics.ExpectedCalibrationError(s, y, bad)),
            ("Brier", () => BinaryMetrics.Brier(s, y, bad)),
            ("LogLoss", () => BinaryMetrics.LogLoss(s, y, bad)),
            ("PrecisionRecallCurve", () => BinaryMetrics.PrecisionRecallCurve(s, y, bad)),
            ("ReliabilityBins", () => BinaryMetrics.ReliabilityBins(s, y, bad)),
            ("MeanScore", () => BinaryMetrics.MeanScore(s, bad)),
            ("Prevalence", () => BinaryMetrics.Prevalence(y, bad)),
        };
        foreach (var (name, call) in calls)
        {
            var e = Assert.Throws<ArgumentException>(call);
            Assert.True(e.ParamName == "weights" && e.Message.Contains("weights must be finite and >= 0, got -2 at index 1"), $"{name}: {e.ParamName}: {e.Message}");
        }
        // Scores and labels are checked first, with the unweighted functions' messages.
        Assert.Contains("labels must be 0 or 1, got 2", Assert.Throws<ArgumentException>(() => BinaryMetrics.Brier(s, [0, 2], bad)).Message);
        Assert.Contains("scores must not be empty", Assert.Throws<ArgumentException>(() => BinaryMetrics.MeanScore([], [])).Message);
        Assert.Contains("labels must not be empty", Assert.Throws<ArgumentException>(() => BinaryMetrics.Prevalence([], [])).Message);
    }

    [Theory]
    [MemberData(nameof(MultiClassCases))]
    public void multi_class_metrics_match_scikit_learn(string name)
    {
        var c = Case("multiclass", name);
        var rows = c.GetProperty("probs").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray();
        var labels = c.GetProperty("labels").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        var report = MultiClassMetrics.Evaluate(rows.SelectMany(r => r).ToArray(), labels, rows[0].Length);
        Same(c.GetProperty("top1").GetDouble(), report.Top1, "top-1");
        Same(c.GetProperty("macro_f1").GetDouble(), report.MacroF1, "macro F1");
        Same(c.GetProperty("classwise_ece15").GetDouble(), report.ClasswiseEce15, "classwise ECE");
        Same(c.GetProperty("top_label_ece15").GetDouble(), report.TopLabelEce15, "top-label ECE (numpy, from Guo et al.'s formula)");
        Same(report.TopLabelEce15, report.Values().Single(v => v.Key == "top_label_ece15").Value, "top_label_ece15 in Values()");
        var recall = c.GetProperty("per_class_recall").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        Assert.Equal(recall.Length, report.PerClassRecall.Length);
        for (var k = 0; k < recall.Length; k++) Same(recall[k], report.PerClassRecall[k], $"recall of class {k}");
    }

    private static double[] Doubles(JsonElement array) => array.EnumerateArray().Select(v => v.GetDouble()).ToArray();

    [Theory]
    [MemberData(nameof(MultiLabelCases))]
    public void multi_label_metrics_match_scikit_learn(string name)
    {
        var c = Case("multilabel", name);
        var rows = c.GetProperty("probs").EnumerateArray().Select(Doubles).ToArray();
        var labels = c.GetProperty("labels").EnumerateArray().SelectMany(r => r.EnumerateArray().Select(v => v.GetInt32())).ToArray();
        var labelCount = rows[0].Length;
        var report = MultiLabelMetrics.Evaluate(rows.SelectMany(r => r).ToArray(), labels, labelCount, c.GetProperty("threshold").GetDouble());
        Assert.Equal((rows.Length, labelCount), (report.Count, report.Labels));
        Same(c.GetProperty("mean_average_precision").GetDouble(), report.MeanAveragePrecision, "mAP (average_precision_score, average='macro')");
        Same(c.GetProperty("micro_f1").GetDouble(), report.MicroF1, "micro F1");
        Same(c.GetProperty("macro_f1").GetDouble(), report.MacroF1, "macro F1");
        var ap = Doubles(c.GetProperty("average_precision_per_label"));
        var f1 = Doubles(c.GetProperty("f1_per_label"));
        Assert.Equal(labelCount, report.AveragePrecisionPerLabel.Length);
        Assert.Equal(labelCount, report.F1PerLabel.Length);
        for (var k = 0; k < labelCount; k++)
        {
            Same(ap[k], report.AveragePrecisionPerLabel[k], $"AP of label {k}");
            Same(f1[k], report.F1PerLabel[k], $"F1 of label {k}");
        }
        var values = report.Values();
        Assert.Equal(["mean_average_precision", "micro_f1", "macro_f1", "slot_ece15", "slot_brier", "slot_log_loss", .. Enumerable.Range(0, labelCount).Select(k => $"ap_label_{k}")], values.Select(v => v.Key));
        Assert.Equal([report.MeanAveragePrecision, report.MicroF1, report.MacroF1, report.SlotEce15, report.SlotBrier, report.SlotLogLoss,
            .. report.AveragePrecisionPerLabel], values.Select(v => v.Value));
    }

    [Fact]
    public void slot_calibration_pools_every_sample_and_label_as_one_binary_problem()
    {
        // Slots (p, y): (0.9, 1) (0.2, 0) (0.1, 0) (0.8, 0). Brier by hand: (0.01 + 0.04 + 0.01 + 0.64) / 4 = 0.175.
        // Log-loss: -(ln 0.9 + ln 0.8 + ln 0.9 + ln 0.2) / 4. ECE with 15 bins: each slot is alone in its bin, so
        // the mean of |p - y|: (0.1 + 0.2 + 0.1 + 0.8) / 4 = 0.3.
        var report = MultiLabelMetrics.Evaluate([0.9, 0.2, 0.1, 0.8], [1, 0, 0, 0], 2);
        Same(0.175, report.SlotBrier, "pooled Brier by hand");
        Same(-(Math.Log(0.9) + Math.Log(0.8) + Math.Log(0.9) + Math.Log(0.2)) / 4, report.SlotLogLoss, "pooled log-loss by hand");
        Same(0.3, report.SlotEce15, "pooled ECE by hand");
    }

    [Fact]
    public void a_label_without_positives_counts_as_ap_0_in_the_mean_as_in_scikit_learn_1_2_1()
    {
        // Label 0 is ranked perfectly (AP 1); label 1 has no positive: AP 0, kept in the mean, so mAP = 1/2,
        // not 1 (label dropped) and not 1 (label counted as perfect).
        var report = MultiLabelMetrics.Evaluate([0.9, 0.2, 0.1, 0.8], [1, 0, 0, 0], 2);
        Assert.Equal([1.0, 0.0], report.AveragePrecisionPerLabel);
        Same(0.5, report.MeanAveragePrecision, "mAP by hand: (1 + 0) / 2");
        // F1 at 0.5: label 0 TP 1 (F1 1); label 1 FP 1 (F1 0); pooled TP 1, FP 1, FN 0: micro 2/3, macro 1/2.
        Same(2.0 / 3, report.MicroF1, "micro F1 by hand");
        Same(0.5, report.MacroF1, "macro F1 by hand");
    }

    [Fact]
    public void multi_label_inputs_are_validated_naming_the_parameter()
    {
        ArgumentException Error(Action a) => Assert.Throws<ArgumentException>(a);
        Assert.Equal("labels", Error(() => MultiLabelMetrics.Evaluate([], [], 2)).ParamName);
        Assert.Contains("labels must not be empty, got 0 samples", Error(() => MultiLabelMetrics.Evaluate([], [], 2)).Message);
        Assert.Contains("labels must hold N x C values with C = 2, got 3 (not a multiple of 2)", Error(() => MultiLabelMetrics.Evaluate([0.1, 0.2, 0.3], [0, 1, 0], 2)).Message);
        var shape = Error(() => MultiLabelMetrics.Evaluate([0.1, 0.2], [0, 1, 0, 1], 2));
        Assert.Equal("probabilities", shape.ParamName);
        Assert.Contains("probabilities must hold N x C = 2 x 2 = 4 values as labels do, got 2", shape.Message);
        Assert.Contains("labels must be 0 or 1, got 2 at row 1, label 0", Error(() => MultiLabelMetrics.Evaluate([0.1, 0.2, 0.3, 0.4], [0, 1, 2, 0], 2)).Message);
        Assert.Contains("probabilities must lie in [0, 1], got NaN at row 0, label 1", Error(() => MultiLabelMetrics.Evaluate([0.1, double.NaN], [0, 1], 2)).Message);
        Assert.Contains("threshold must be finite, got NaN", Error(() => MultiLabelMetrics.Evaluate([0.1, 0.2], [0, 1], 2, double.NaN)).Message);
        Assert.Equal("labelCount", Error(() => MultiLabelMetrics.Evaluate([0.1], [0], 0)).ParamName);
    }

    [Fact]
    public void top_label_and_classwise_ece_can_rank_two_prediction_sets_oppositely()
    {
        MultiClassReport Report(string name)
        {
            var c = Case("multiclass", name);
            var rows = c.GetProperty("probs").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray();
            return MultiClassMetrics.Evaluate(rows.SelectMany(r => r).ToArray(), c.GetProperty("labels").EnumerateArray().Select(v => v.GetInt32()).ToArray(), rows[0].Length);
        }
        var a = Report("rank-disagreement-a");
        var b = Report("rank-disagreement-b");
        // a: confidence 0.6 at accuracy 0.6, the rest on a class that never occurs; b: confidence 0.9, rest spread.
        Same(0.0, a.TopLabelEce15, "top-label ECE of a (by hand: |0.6 - 0.6|)");
        Same(0.3, b.TopLabelEce15, "top-label ECE of b (by hand: |0.6 - 0.9|)");
        Same(0.8 / 3, a.ClasswiseEce15, "classwise ECE of a (by hand: (0 + 0.4 + 0.4) / 3)");
        Same(0.7 / 3, b.ClasswiseEce15, "classwise ECE of b (by hand: (0.3 + 0.05 + 0.35) / 3)");
        Assert.True(a.TopLabelEce15 < b.TopLabelEce15 && a.ClasswiseEce15 > b.ClasswiseEce15,
            $"expected opposite rankings: top-label a {a.TopLabelEce15:R} vs b {b.TopLabelEce15:R}, classwise a {a.ClasswiseEce15:R} vs b {b.ClasswiseEce15:R}");
    }

    [Fact]
    public void top_label_reliability_bins_sum_to_the_top_label_ece()
    {
        var c = Case("multiclass", "random-1");
        var rows = c.GetProperty("probs").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray();
        var probs = rows.SelectMany(r => r).ToArray();
        var labels = c.GetProperty("labels").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        var (confidence, accuracy, count) = MultiClassMetrics.TopLabelReliabilityBins(probs, labels, rows[0].Length);
        Assert.Equal(labels.Length, count.Sum());
        var ece = confidence.Select((p, b) => (double)count[b] / labels.Length * Math.Abs(accuracy[b] - p)).Sum();
        Same(c.GetProperty("top_label_ece15").GetDouble(), ece, "top-label ECE from its reliability bins");
        Same(c.GetProperty("top1").GetDouble(), accuracy.Select((a, b) => a * count[b]).Sum() / labels.Length, "count-weighted bin accuracy = top-1");
    }

    [Fact]
    public void empty_and_malformed_inputs_are_clear_errors()
    {
        Assert.Contains("must not be empty", Assert.Throws<ArgumentException>(() => BinaryMetrics.Evaluate([], [])).Message);
        Assert.Contains("labels length must equal scores length 2, got 1", Assert.Throws<ArgumentException>(() => BinaryMetrics.RocAuc([0.1, 0.2], [1])).Message);
        Assert.Contains("labels must be 0 or 1, got 2", Assert.Throws<ArgumentException>(() => BinaryMetrics.Brier([0.1], [2])).Message);
        Assert.Contains("scores must be probabilities in [0, 1], got 1.5", Assert.Throws<ArgumentException>(() => BinaryMetrics.Brier([1.5], [1])).Message);
        Assert.Contains("N x C = 2 x 3 = 6 values, got 5", Assert.Throws<ArgumentException>(() => MultiClassMetrics.Evaluate([0.2, 0.3, 0.5, 0.1, 0.9], [0, 1], 3)).Message);
        Assert.Contains("class ids in [0, 2], got 3", Assert.Throws<ArgumentException>(() => MultiClassMetrics.Evaluate([0.2, 0.3, 0.5], [3], 3)).Message);
        Assert.Contains("class ids in [0, 2], got -1", Assert.Throws<ArgumentException>(() => MultiClassMetrics.TopLabelEce([0.2, 0.3, 0.5], [-1], 3)).Message);
        Assert.Contains("N x C = 1 x 3 = 3 values, got 2", Assert.Throws<ArgumentException>(() => MultiClassMetrics.TopLabelEce([0.2, 0.8], [0], 3)).Message);
        Assert.Contains("probabilities must lie in [0, 1], got NaN at row 0, class 1", Assert.Throws<ArgumentException>(() => MultiClassMetrics.TopLabelEce([0.2, double.NaN, 0.5], [0], 3)).Message);
        Assert.Contains("bins must be >= 1, got 0", Assert.Throws<ArgumentException>(() => MultiClassMetrics.TopLabelEce([0.2, 0.3, 0.5], [0], 3, bins: 0)).Message);
    }
}
