using FocalLoss.Data;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static FocalLoss.Tests.TensorAssert;

namespace FocalLoss.Tests;

/// <summary>The synthetic multi-label generator: rates, its known linear relation, correlation, seeds, guards.</summary>
public class SyntheticMultiLabelTests
{
    [Fact]
    public void every_label_is_positive_at_the_requested_rate()
    {
        using var data = Synthetic.MultiLabel(20_000, 8, 0.2, seed: 1);
        Assert.Equal(LossTask.MultiLabel, data.Task);
        Assert.Equal([20_000L, 16], data.Features.shape);
        Assert.Equal([20_000L, 8], data.Labels.shape);
        Assert.Equal(ScalarType.Float32, data.Features.dtype);
        Assert.Equal(ScalarType.Float32, data.Labels.dtype);
        // Binomial(20,000, 0.2): standard deviation 57 positives; 300 is over 5 of them.
        Assert.All(data.ClassCounts(), c => Assert.InRange(c, 4000 - 300, 4000 + 300));
        using var rare = Synthetic.MultiLabel(20_000, 4, 0.02, seed: 1);
        Assert.All(rare.ClassCounts(), c => Assert.InRange(c, 400 - 100, 400 + 100));
    }

    [Fact]
    public void directions_are_unit_vectors_with_the_requested_pairwise_correlation()
    {
        using var w = Synthetic.MultiLabelDirections(5, 9, 0.3, taskSeed: 4);
        Assert.Equal([9L, 5], w.shape);
        using var gram = w.t().matmul(w);
        var g = gram.data<double>().ToArray();
        for (var j = 0; j < 5; j++)
            for (var k = 0; k < 5; k++)
                Assert.True(Math.Abs(g[j * 5 + k] - (j == k ? 1 : 0.3)) < 1e-12, $"w_{j} . w_{k} = {g[j * 5 + k]:R}");
    }

    [Fact]
    public void without_noise_each_label_is_a_threshold_of_its_known_direction()
    {
        using var data = Synthetic.MultiLabel(5000, 6, 0.15, seed: 2, features: 10, noise: 0, taskSeed: 7);
        using var w = Synthetic.MultiLabelDirections(6, 10, 0, taskSeed: 7);
        using var scores = data.Features.to_type(ScalarType.Float64).matmul(w);
        for (var k = 0; k < 6; k++)
        {
            using var s = scores.select(1, k);
            using var y = data.Labels.select(1, k).to_type(ScalarType.Bool);
            var lowestPositive = s.masked_select(y).min().item<double>();
            var highestNegative = s.masked_select(y.logical_not()).max().item<double>();
            Assert.True(lowestPositive > highestNegative, $"label {k}: a negative scores {highestNegative:R} >= a positive's {lowestPositive:R}");
        }
        // With noise the same direction still ranks well, but no longer perfectly.
        using var noisy = Synthetic.MultiLabel(5000, 6, 0.15, seed: 2, features: 10, noise: 0.5, taskSeed: 7);
        using var noisyScores = noisy.Features.to_type(ScalarType.Float64).matmul(w);
        var ap = Enumerable.Range(0, 6).Select(k => FocalLoss.Metrics.BinaryMetrics.AveragePrecision(
            Eval.ToArray(noisyScores.select(1, k).sigmoid()), noisy.Labels.select(1, k).to_type(ScalarType.Int32).data<int>().ToArray())).ToArray();
        Assert.All(ap, a => Assert.InRange(a, 0.5, 0.99));
    }

    private static double MeanPairwiseLabelCorrelation(TensorDataset data)
    {
        using var scope = NewDisposeScope();
        var y = data.Labels.to_type(ScalarType.Float64);
        var centred = y - y.mean([0]);
        var cov = centred.t().matmul(centred) / data.Count;
        var sd = cov.diag().sqrt();
        var corr = (cov / sd.outer(sd)).data<double>().ToArray();
        var c = data.NumClasses;
        return Enumerable.Range(0, c).SelectMany(j => Enumerable.Range(0, c).Where(k => k != j).Select(k => corr[j * c + k])).Average();
    }

    [Fact]
    public void correlated_directions_make_labels_co_occur_and_zero_correlation_keeps_them_independent()
    {
        using var independent = Synthetic.MultiLabel(20_000, 5, 0.2, seed: 5);
        using var correlated = Synthetic.MultiLabel(20_000, 5, 0.2, seed: 5, correlation: 0.6);
        var r0 = MeanPairwiseLabelCorrelation(independent);
        var r6 = MeanPairwiseLabelCorrelation(correlated);
        Assert.True(Math.Abs(r0) < 0.03, $"independent labels correlate {r0:0.####}");
        Assert.True(r6 > 0.2, $"labels with score correlation 0.6 / 1.25 correlate only {r6:0.####}");
    }

    [Fact]
    public void the_seed_draws_the_samples_and_the_task_seed_the_relation()
    {
        using var a = Synthetic.MultiLabel(500, 4, 0.2, seed: 1, noise: 0);
        using var b = Synthetic.MultiLabel(500, 4, 0.2, seed: 1, noise: 0);
        using var otherSamples = Synthetic.MultiLabel(500, 4, 0.2, seed: 2, noise: 0);
        using var otherTask = Synthetic.MultiLabel(500, 4, 0.2, seed: 1, noise: 0, taskSeed: 1);
        Assert.True(Same(a.Features, b.Features) && Same(a.Labels, b.Labels));
        Assert.False(Same(a.Features, otherSamples.Features));
        Assert.True(Same(a.Features, otherTask.Features), "the task seed changed the samples");
        Assert.False(Same(a.Labels, otherTask.Labels), "another task seed gave the same labels");
        using var w0 = Synthetic.MultiLabelDirections(4, 16, 0, taskSeed: 0);
        using var w1 = Synthetic.MultiLabelDirections(4, 16, 0, taskSeed: 1);
        Assert.False(Same(w0, w1));
    }

    [Fact]
    public void generator_arguments_are_validated_with_the_parameter_named()
    {
        ArgumentException Error(Action a) => Assert.Throws<ArgumentException>(a);
        Assert.Equal("count", Error(() => Synthetic.MultiLabel(0, 3, 0.2, 0)).ParamName);
        Assert.Equal("positiveRate", Error(() => Synthetic.MultiLabel(10, 3, 1.0, 0)).ParamName);
        var labels = Error(() => Synthetic.MultiLabel(10, 1, 0.2, 0));
        Assert.Equal("labels", labels.ParamName);
        Assert.Contains("labels must be >= 2 (one label is a binary task), got 1", labels.Message);
        var features = Error(() => Synthetic.MultiLabel(10, 5, 0.2, 0, features: 5));
        Assert.Equal("features", features.ParamName);
        Assert.Contains("features must be >= labels + 1 = 6 (C + 1 orthonormal directions), got 5", features.Message);
        Assert.Contains("noise must be finite and >= 0, got -1", Error(() => Synthetic.MultiLabel(10, 3, 0.2, 0, noise: -1)).Message);
        Assert.Contains("correlation must be in [0, 1), got 1", Error(() => Synthetic.MultiLabel(10, 3, 0.2, 0, correlation: 1)).Message);
    }
}
