using FocalLoss.Data;
using FocalLoss.Metrics;
using FocalLoss.Models;
using FocalLoss.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace FocalLoss.Tests;

/// <summary>The dense-discs generator: prevalence, geometry, determinism, the weighted test set, and its refusals.</summary>
public class DenseDiscsTests
{
    private static readonly DenseDiscsGeometry G = DenseDiscsGeometry.Default;

    private static double[] Column(TensorDataset d, int j) => d.Features.select(1, j).to_type(ScalarType.Float64).data<double>().ToArray();

    /// <summary>Distance of each point to its nearest disc centre, and that centre's index.</summary>
    private static (double Distance, int Disc)[] Nearest(TensorDataset d)
    {
        var x = Column(d, 0);
        var y = Column(d, 1);
        var c = G.Centres;
        return x.Select((xi, i) => Enumerable.Range(0, c.Length)
            .Select(k => (Distance: Math.Sqrt((xi - c[k].X) * (xi - c[k].X) + (y[i] - c[k].Y) * (y[i] - c[k].Y)), Disc: k))
            .MinBy(t => t.Distance)).ToArray();
    }

    [Fact]
    public void the_hard_points_positive_share_matches_a_monte_carlo_estimate_and_the_sharp_boundary_limit()
    {
        // Independent of the Simpson rule: E[p(R sqrt(U))] over 2 million draws (standard error < 2.5e-4).
        var rng = new Random(7);
        var sum = 0.0;
        const int n = 2_000_000;
        for (var i = 0; i < n; i++) sum += G.PositiveProbability(G.RingRadius * Math.Sqrt(rng.NextDouble()));
        Assert.InRange(G.HardPositiveShare(), sum / n - 1e-3, sum / n + 1e-3);
        // A sharp boundary: positives are exactly the inner disc, a share (0.1 / 0.3)^2 = 1/9 of the ring's area.
        Assert.Equal(1.0 / 9, (G with { Softness = 1e-4 }).HardPositiveShare(), 4);
    }

    [Theory]
    [InlineData(1e-2)]
    [InlineData(1e-3)]
    public void the_training_set_has_h_plus_e_points_and_its_positive_rate_is_pi_within_binomial_noise(double pi)
    {
        using var data = DenseDiscs.Train(pi, seed: 3);
        var hard = 4 * 250L;
        var q = G.HardPositiveShare();
        Assert.Equal(hard + (long)Math.Round(hard * q / pi) - hard, data.Count);
        // Positives ~ Binomial(H, q): within 4 standard deviations of H q.
        var positives = data.Labels.sum().item<float>();
        var sd = Math.Sqrt(hard * q * (1 - q));
        Assert.InRange(positives, hard * q - 4 * sd, hard * q + 4 * sd);
        Assert.InRange(data.PositiveRate(), pi * (1 - 4 * sd / (hard * q)), pi * (1 + 4 * sd / (hard * q)));
    }

    [Fact]
    public void hard_points_fill_the_rings_equally_easy_ones_the_square_outside_them_and_positives_lie_near_a_disc()
    {
        using var data = DenseDiscs.Train(1e-2, seed: 5);
        var near = Nearest(data);
        var labels = data.Labels.data<float>().ToArray();
        var x = Column(data, 0);
        var y = Column(data, 1);
        Assert.All(x.Concat(y), v => Assert.InRange(v, -G.HalfWidth, G.HalfWidth));
        var inRing = near.Select((t, i) => (t, i)).Where(p => p.t.Distance <= G.RingRadius).ToArray();
        Assert.Equal(1000, inRing.Length); // every hard point, and no easy one, lies within a ring
        Assert.All(Enumerable.Range(0, 4), k => Assert.Equal(250, inRing.Count(p => p.t.Disc == k)));
        // Uniform over a ring's disc: a quarter of the hard points lie within half its radius.
        Assert.InRange(inRing.Count(p => p.t.Distance <= G.RingRadius / 2), 250 - 4 * 14, 250 + 4 * 14);
        // Positives only where p(r) is not negligible, and (soft boundary) a few outside the disc itself.
        var positives = near.Where((t, i) => labels[i] == 1).ToArray();
        Assert.All(positives, t => Assert.True(t.Distance < G.Radius + 8 * G.Softness, $"positive at r = {t.Distance}"));
        Assert.Contains(positives, t => t.Distance > G.Radius);
        Assert.Contains(near.Where((t, i) => labels[i] == 0), t => t.Distance < G.Radius);
    }

    [Fact]
    public void the_same_seed_gives_the_same_data_and_another_seed_other_data()
    {
        using var a = DenseDiscs.Train(1e-2, seed: 11);
        using var b = DenseDiscs.Train(1e-2, seed: 11);
        using var c = DenseDiscs.Train(1e-2, seed: 12);
        Assert.True(a.Features.eq(b.Features).all().item<bool>() && a.Labels.eq(b.Labels).all().item<bool>());
        Assert.False(a.Features.eq(c.Features).all().item<bool>());
        using var t1 = DenseDiscs.Test(1e-3, seed: 11, hardPerDisc: 100, easySample: 500);
        using var t2 = DenseDiscs.Test(1e-3, seed: 11, hardPerDisc: 100, easySample: 500);
        Assert.True(t1.Features.eq(t2.Features).all().item<bool>() && t1.Weights!.eq(t2.Weights!).all().item<bool>());
    }

    [Fact]
    public void the_test_set_keeps_every_hard_point_and_weights_its_easy_sample_up_to_the_prevalence()
    {
        const double pi = 1e-4;
        using var test = DenseDiscs.Test(pi, seed: 1, hardPerDisc: 2_500, easySample: 20_000);
        var hard = 10_000L;
        var easy = DenseDiscs.EasyCount(hard, pi);
        Assert.Equal(hard + 20_000, test.Count);
        var w = test.Weights!.data<double>().ToArray();
        var near = Nearest(test);
        for (var i = 0; i < w.Length; i++)
            Assert.Equal(near[i].Distance <= G.RingRadius ? 1.0 : (double)easy / 20_000, w[i], 12);
        // The weights stand for H + E points, of which about H q are positive: a rate of pi.
        Assert.InRange(w.Sum(), (hard + easy) * (1 - 1e-12), (hard + easy) * (1 + 1e-12));
        var q = G.HardPositiveShare();
        var sd = Math.Sqrt(hard * q * (1 - q));
        Assert.InRange(test.WeightedPositiveRate(), pi * (1 - 4 * sd / (hard * q)), pi * (1 + 4 * sd / (hard * q)));
        Assert.True(test.PositiveRate() > 100 * pi, "unweighted, the stratified sample is far richer in positives");
    }

    [Fact]
    public void at_pi_1e_4_the_training_set_holds_about_a_million_points()
    {
        var n = 1000 + DenseDiscs.EasyCount(1000, 1e-4);
        Assert.InRange(n, 1_000_000, 1_400_000);
    }

    [Theory]
    [InlineData(0.0, 250, "positiveRate")]
    [InlineData(1e-6, 250, "positiveRate")]
    [InlineData(0.5, 250, "positiveRate")]
    [InlineData(double.NaN, 250, "positiveRate")]
    [InlineData(1e-2, 0, "hardPerDisc")]
    public void bad_arguments_are_refused_naming_the_parameter(double pi, int hardPerDisc, string parameter)
    {
        var e = Assert.Throws<ArgumentException>(() => DenseDiscs.Train(pi, 0, hardPerDisc));
        Assert.Equal(parameter, e.ParamName);
    }

    [Fact]
    public void an_easy_sample_larger_than_the_easy_negatives_it_stands_for_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => DenseDiscs.Test(1e-2, 0, hardPerDisc: 10, easySample: 1_000_000));
        Assert.Equal("easySample", e.ParamName);
        Assert.Contains("1000000", e.Message);
        Assert.Throws<ArgumentException>(() => DenseDiscs.Train(1e-2, 0, geometry: G with { RingRadius = 0.05 }));
    }
}

/// <summary>Per-sample weights on a dataset: carried by subsets and device copies, refused when they cannot be weights.</summary>
public class DatasetWeightTests
{
    private static TensorDataset Data(Tensor? w) => new("w", zeros(4, 1), tensor(new float[] { 0, 1, 0, 1 }), 2, w);

    [Fact]
    public void a_subset_keeps_the_weights_of_its_rows()
    {
        using var d = Data(tensor(new double[] { 1, 2, 3, 4 }));
        using var s = d.Subset(tensor(new long[] { 3, 0 }));
        Assert.Equal(new double[] { 4, 1 }, s.Weights!.data<double>().ToArray());
        Assert.Equal((2 + 4) / 10.0, d.WeightedPositiveRate(), 12);
        using var plain = Data(null);
        Assert.Equal(plain.PositiveRate(), plain.WeightedPositiveRate());
    }

    [Fact]
    public void the_trainers_evaluation_weights_every_metric_by_the_datasets_weights_and_reports_the_prevalence()
    {
        random.manual_seed(0);
        using var model = new LogisticRegression(2);
        using var test = DenseDiscs.Test(1e-3, seed: 1, hardPerDisc: 50, easySample: 500);
        var metrics = Trainer.Evaluate(model, test);
        using var probabilities = Trainer.PredictProbabilities(model, test);
        var p = probabilities.data<double>().ToArray();
        var labels = test.Labels.to_type(ScalarType.Int32).data<int>().ToArray();
        var expected = BinaryMetrics.Evaluate(p, labels, test.Weights!.data<double>().ToArray());
        Assert.Equal(expected.AveragePrecision, metrics["average_precision"]);
        Assert.Equal(expected.Ece15, metrics["ece15"]);
        Assert.NotEqual(BinaryMetrics.Evaluate(p, labels).AveragePrecision, metrics["average_precision"]);
        Assert.Equal(test.WeightedPositiveRate(), metrics["prevalence"], 12);
        Assert.Equal(p.Zip(test.Weights!.data<double>().ToArray(), (a, w) => a * w).Sum() / test.Weights!.sum().item<double>(), metrics["mean_score"], 12);
    }

    [Fact]
    public void weights_on_multi_class_or_multi_label_data_are_refused_when_the_dataset_is_made_rather_than_ignored()
    {
        var e = Assert.Throws<ArgumentException>(() => new TensorDataset("mc", zeros(3, 2), tensor(new long[] { 0, 1, 2 }), 3, tensor(new double[] { 1, 2, 3 })));
        Assert.Equal("weights", e.ParamName);
        Assert.Contains("binary data (float 0/1 labels [N]) only", e.Message);
        e = Assert.Throws<ArgumentException>(() => new TensorDataset("ml", zeros(3, 2), tensor(new float[] { 0, 1, 1, 0, 1, 1 }).reshape(3, 2), 2, tensor(new double[] { 1, 2, 3 })));
        Assert.Equal("weights", e.ParamName);
    }

    [Theory]
    [InlineData(new double[] { 1, 2, 3 }, "float64 [N] with N = 4")]
    [InlineData(new double[] { 1, -1, 1, 1 }, "-1 at sample 1")]
    [InlineData(new double[] { 1, double.NaN, 1, 1 }, "NaN at sample 1")]
    [InlineData(new double[] { 0, 0, 0, 0 }, "must not all be 0")]
    public void weights_that_cannot_be_weights_are_refused(double[] w, string message)
    {
        var e = Assert.Throws<ArgumentException>(() => Data(tensor(w)));
        Assert.Equal("weights", e.ParamName);
        Assert.Contains(message, e.Message);
    }
}

/// <summary>RetinaNet's prior-probability initialisation of the output bias.</summary>
public class OutputBiasTests
{
    [Fact]
    public void the_prior_bias_is_minus_log_of_one_minus_pi_over_pi()
    {
        Assert.Equal(-4.59511985013459, OutputBias.ForPrior(0.01), 12); // ln(0.01 / 0.99), by hand
        Assert.Equal(0.0, OutputBias.ForPrior(0.5), 15);
        Assert.Equal("prior", Assert.Throws<ArgumentException>(() => OutputBias.ForPrior(0)).ParamName);
        Assert.Equal("prior", Assert.Throws<ArgumentException>(() => OutputBias.ForPrior(1)).ParamName);
    }

    [Fact]
    public void setting_it_makes_a_logistic_model_predict_pi_at_the_origin_and_sets_only_the_mlps_head()
    {
        random.manual_seed(0);
        using var logistic = new LogisticRegression(2);
        Assert.Equal("fc", OutputBias.Set(logistic, OutputBias.ForPrior(0.01)));
        using (no_grad())
            Assert.Equal(0.01, logistic.forward(zeros(1, 2)).sigmoid().to_type(ScalarType.Float64).item<double>(), 6);
        using var mlp = new Mlp(2, 1, 64, 64);
        var before = mlp.named_parameters().Where(p => p.name != "layers.head.bias").Select(p => p.parameter.clone()).ToArray();
        Assert.Equal("layers.head", OutputBias.Set(mlp, -3.0));
        var head = mlp.named_parameters().Single(p => p.name == "layers.head.bias").parameter;
        Assert.Equal(-3.0, head.to_type(ScalarType.Float64).item<double>(), 6);
        Assert.True(head.requires_grad, "the bias still trains");
        var after = mlp.named_parameters().Where(p => p.name != "layers.head.bias").Select(p => p.parameter).ToArray();
        Assert.All(before.Zip(after), p => Assert.True(p.First.eq(p.Second).all().item<bool>()));
    }

    [Fact]
    public void a_model_without_a_linear_layer_is_refused()
    {
        using var relu = nn.Sequential(("relu", nn.ReLU()));
        Assert.Equal("model", Assert.Throws<ArgumentException>(() => OutputBias.Set(relu, 0.0)).ParamName);
        Assert.Equal("bias", Assert.Throws<ArgumentException>(() => OutputBias.Set(relu, double.NaN)).ParamName);
    }
}
