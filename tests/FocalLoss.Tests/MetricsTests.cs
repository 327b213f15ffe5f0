using System.Text.Json;
using FocalLoss.Metrics;
using Xunit;

namespace FocalLoss.Tests;

/// <summary>Every metric against scikit-learn 1.2.1's values (data/metrics/, regenerate with its script).</summary>
public class MetricsTests
{
    private const double Rel = 1e-12;
    private const double Abs = 1e-12;

    private static readonly JsonElement Reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "data", "metrics", "metrics_reference.json"))).RootElement;

    public static TheoryData<string> BinaryCases() => new(Reference.GetProperty("binary").EnumerateArray().Select(c => c.GetProperty("name").GetString()!));
    public static TheoryData<string> MultiClassCases() => new(Reference.GetProperty("multiclass").EnumerateArray().Select(c => c.GetProperty("name").GetString()!));

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
        var recall = c.GetProperty("per_class_recall").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        Assert.Equal(recall.Length, report.PerClassRecall.Length);
        for (var k = 0; k < recall.Length; k++) Same(recall[k], report.PerClassRecall[k], $"recall of class {k}");
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
    }
}
