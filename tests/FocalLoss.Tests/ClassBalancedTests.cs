using FsCheck;
using FsCheck.Fluent;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;

namespace FocalLoss.Tests;

/// <summary>Laws of the class-balanced weights (Cui et al. 2019).</summary>
public class ClassBalancedProperties
{
    private static readonly Arbitrary<long[]> Counts =
        FamilyGenerators.Arb(from c in Gen.Choose(1, 12) from counts in Gen.ArrayOf(Gen.Choose(1, 100_000).Select(n => (long)n), c) select counts);

    private static readonly Arbitrary<double> Betas =
        FamilyGenerators.Arb(Gen.Frequency((2, Gen.Elements(0.9, 0.99, 0.999, 0.9999)), (3, Gen.Choose(1, 999_999).Select(k => k / 1_000_000.0))));

    [LossProperty(MaxTest = 200)]
    public Property class_balanced_weights_with_beta_zero_are_uniform_ones() =>
        Prop.ForAll(Counts, counts =>
        {
            var w = ClassBalanced.Weights(counts, 0);
            return w.All(v => v == 1).Label($"counts [{string.Join(", ", counts)}]: weights [{string.Join(", ", w)}]");
        });

    [LossProperty(MaxTest = 200)]
    public Property class_balanced_weights_sum_to_the_class_count_and_never_rise_with_the_count() =>
        Prop.ForAll(Counts, Betas, (counts, beta) =>
        {
            var w = ClassBalanced.Weights(counts, beta);
            var sumsToC = Tol.Close(w.Sum(), counts.Length, Tol.IdentityRel64, 0);
            var order = Enumerable.Range(0, counts.Length).OrderBy(i => counts[i]).ToArray();
            var falling = order.Zip(order.Skip(1)).All(p => w[p.Second] <= w[p.First] * (1 + 1e-12));
            return (sumsToC && falling).Label($"beta {beta:R} counts [{string.Join(", ", counts)}]: weights [{string.Join(", ", w.Select(v => v.ToString("R")))}]");
        });

    [LossProperty(MaxTest = 200)]
    public Property class_balanced_weights_are_proportional_to_one_over_the_effective_number() =>
        Prop.ForAll(Counts, Betas, (counts, beta) =>
        {
            // w_i / w_j = E_j / E_i with E = (1 - beta^n) / (1 - beta), by the formula as written (beta^n by Math.Pow).
            var w = ClassBalanced.Weights(counts, beta);
            double E(long n) => (1 - Math.Pow(beta, n)) / (1 - beta);
            var ok = Enumerable.Range(1, counts.Length - 1).All(i => Tol.Close(w[i] / w[0], E(counts[0]) / E(counts[i]), 1e-9, 0));
            return ok.Label($"beta {beta:R} counts [{string.Join(", ", counts)}]: weights [{string.Join(", ", w.Select(v => v.ToString("R")))}]");
        });
}

public class ClassBalancedTests
{
    [Fact]
    public void weights_follow_the_formula_worked_by_hand()
    {
        // beta 0.9, counts 1, 10, 100: 1 - beta^n = 0.1, 0.6513215599, 0.9999734386; raw w = 0.1 / that
        // = 1, 0.1535339946, 0.1000026562, summing to 1.2535366508; normalised to sum 3: w_0 = 3 / 1.2535366508.
        var raw = new[] { 0.1 / 0.1, 0.1 / (1 - Math.Pow(0.9, 10)), 0.1 / (1 - Math.Pow(0.9, 100)) };
        var expected = raw.Select(r => r * 3 / raw.Sum()).ToArray();
        var w = ClassBalanced.Weights([1, 10, 100], 0.9);
        Assert.Equal(expected, w, (a, b) => Tol.Close(a, b, 1e-14, 0));
        Assert.True(Tol.Close(w[0], 2.393228790895, 1e-12, 0), $"w_0 = {w[0]:R}, by hand 2.393228790895");
    }

    [Fact]
    public void as_beta_approaches_one_the_weights_approach_inverse_frequency()
    {
        long[] counts = [5, 50, 5000];
        var inverse = counts.Select(n => 1.0 / n).ToArray();
        var expected = inverse.Select(v => v * counts.Length / inverse.Sum()).ToArray();
        var previous = double.PositiveInfinity;
        foreach (var beta in new[] { 0.99, 0.9999, 0.999999, 1 - 1e-9, 1 - 1e-12 })
        {
            var w = ClassBalanced.Weights(counts, beta);
            var distance = w.Zip(expected).Max(p => Math.Abs(p.First - p.Second) / p.Second);
            Assert.True(distance < previous, $"beta {beta:R}: relative distance {distance:E3} to inverse frequency, previously {previous:E3}");
            previous = distance;
        }
        Assert.True(previous < 1e-7, $"at beta 1 - 1e-12 the weights are inverse frequency to 1e-7, off by {previous:E3}");
    }

    [Fact]
    public void binary_alpha_is_the_positive_weight_over_the_sum()
    {
        var w = ClassBalanced.Weights([900, 100], 0.999);
        Assert.Equal(w[1] / (w[0] + w[1]), ClassBalanced.BinaryAlpha([900, 100], 0.999), 15);
        Assert.Equal(0.5, ClassBalanced.BinaryAlpha([900, 100], 0));
        Assert.InRange(ClassBalanced.BinaryAlpha([900, 100], 0.999), 0.5, 0.9);   // the rare positives weigh more
    }

    [Fact]
    public void the_weight_tensor_is_usable_as_alpha_and_weight_by_every_weighted_loss()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new[] { 1.0f, -0.5f, 0.2f, 0.3f, 2.0f, -1.0f }).reshape(2, 3);
        var t = tensor(new long[] { 0, 2 });
        var w = ClassBalanced.WeightTensor([10, 100, 1000], 0.99);
        Assert.Equal(ScalarType.Float64, w.dtype);
        Assert.Equal(ClassBalanced.Weights([10, 100, 1000], 0.99), Eval.ToArray(w));
        var expectedCe = F.cross_entropy(x, t, w.to_type(ScalarType.Float32)).item<float>();
        Assert.Equal(expectedCe, Functional.softmax_cross_entropy(x, t, w).item<float>());
        Assert.Equal(expectedCe, Losses.SoftmaxCrossEntropyLoss(w).call(x, t).item<float>());
        var focalSum = Functional.softmax_focal_loss(x, t, w, 0.0, reduction: Reduction.Sum).item<float>();
        Assert.Equal(F.cross_entropy(x, t, w.to_type(ScalarType.Float32), reduction: Reduction.Sum).item<float>(), focalSum, 5);
        foreach (var loss in new Func<Tensor>[]
        {
            () => Losses.SoftmaxFocalLoss(w).call(x, t),
            () => Losses.SoftmaxPoly1FocalLoss(w).call(x, t),
            () => Losses.SoftmaxFocalLossSampleDependent(alpha: w).call(x, t),
        })
            Assert.True(float.IsFinite(loss().item<float>()));
        Assert.Equal(ScalarType.Float32, ClassBalanced.WeightTensor([1, 2], 0.5, ScalarType.Float32).dtype);
    }

    private static void Fails(Action call, string parameter, string fragment)
    {
        var e = Assert.Throws<ArgumentException>(call);
        Assert.Equal(parameter, e.ParamName);
        Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void a_zero_count_is_an_error_naming_the_class() =>
        Fails(() => ClassBalanced.Weights([10, 0, 5], 0.9), "counts", "counts[1] must be >= 1 (class 1 needs a sample for an effective number), got 0");

    [Theory]
    [InlineData(1.0, "1")]
    [InlineData(-0.1, "-0.1")]
    [InlineData(double.NaN, "NaN")]
    public void beta_must_lie_in_zero_one(double beta, string shown) =>
        Fails(() => ClassBalanced.Weights([10, 5], beta), "beta", $"beta must be in [0, 1), got {shown}");

    [Fact]
    public void counts_must_name_at_least_one_class() =>
        Fails(() => ClassBalanced.Weights([], 0.9), "counts", "at least one class, got none");

    [Fact]
    public void binary_alpha_needs_two_counts() =>
        Fails(() => ClassBalanced.BinaryAlpha([1, 2, 3], 0.9), "counts", "two counts, negatives (class 0) then positives (class 1), got 3");
}
