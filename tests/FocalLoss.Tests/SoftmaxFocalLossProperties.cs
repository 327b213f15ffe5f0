using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;

namespace FocalLoss.Tests;

/// <summary>Invariants of the multi-class focal loss.</summary>
public abstract class SoftmaxFocalLossProperties(FocalKernel kernel) : OnKernel(kernel)
{
    private const int Many = 150;

    [LossProperty(MaxTest = Many)]
    public Property softmax_focal_with_two_classes_equals_sigmoid_focal_on_the_logit_difference() =>
        Prop.ForAll(Generators.BinaryArb, Gen.Elements(Reduction.None, Reduction.Mean, Reduction.Sum).ToArbitrary(), (c, reduction) =>
        {
            // Split each binary logit x into a pair (a, a + x) with an arbitrary offset a: the softmax of
            // the pair gives class 1 the probability sigmoid(x).
            var offsets = c.Logits.Select((x, i) => (i % 3 - 1) * 7.5).ToArray();
            using var scope = NewDisposeScope();
            var pairs = tensor(c.Logits.SelectMany((x, i) => new[] { offsets[i], offsets[i] + x }).ToArray(), ScalarType.Float64)
                .reshape(c.Logits.Length, 2).requires_grad_(true);
            var classes = tensor(c.Targets.Select(t => (long)t).ToArray());
            var softmax = Functional.softmax_focal_loss(pairs, classes, null, c.Gamma, reduction: reduction);
            softmax.sum().backward();
            var sigmoid = Eval.WithGrad((x, t) => Functional.sigmoid_focal_loss(x, t, null, c.Gamma, reduction: reduction), c.Logits, c.Targets);
            var softmaxLoss = Eval.ToArray(softmax);
            // d/dx of the binary loss equals d/d(second logit) of the pair.
            var softmaxGrad = Eval.ToArray(pairs.grad!.select(1, 1));
            var ok = softmaxLoss.Zip(sigmoid.Loss).All(p => Tol.Close(p.First, p.Second, Tol.IdentityRel64, Tol.IdentityAbs64))
                  && softmaxGrad.Zip(sigmoid.Grad).All(p => Tol.Close(p.First, p.Second, Tol.IdentityRel64, Tol.IdentityAbs64));
            return ok.Label($"reduction {reduction}: {c}").Classified(c);
        });

    [LossProperty(MaxTest = 40)]
    public Property softmax_focal_gradient_equals_central_finite_differences_in_float64() =>
        Prop.ForAll(Generators.MultiClassLongArb, m =>
        {
            double Loss(double[] logits)
            {
                using var scope = NewDisposeScope();
                return Functional.softmax_focal_loss(tensor(logits).reshape(-1, m.Classes), tensor(m.Targets), AlphaTensor(m), m.Gamma).item<double>();
            }
            double[] grad;
            using (var scope = NewDisposeScope())
            {
                var x = tensor(m.Logits).reshape(-1, m.Classes).requires_grad_(true);
                Functional.softmax_focal_loss(x, tensor(m.Targets), AlphaTensor(m), m.Gamma).backward();
                grad = Eval.ToArray(x.grad!);
            }
            var mismatch = FiniteDifferences.Mismatch(Loss, m.Logits, grad);
            return (mismatch is null).Label($"{mismatch}: {m}");
        });

    [LossProperty(MaxTest = 60)]
    public Property softmax_focal_with_gamma_zero_equals_cross_entropy_summed_with_alpha_as_class_weight_and_averaged_without() =>
        Prop.ForAll(Generators.MultiClassLongArb, m =>
        {
            // PyTorch's weighted mean divides by the summed weights, the focal loss's by the count (see its
            // remarks), so the class weights are compared on the sum and the mean without them.
            using var scope = NewDisposeScope();
            var x = tensor(m.Logits).reshape(-1, m.Classes);
            var t = tensor(m.Targets);
            var focalSum = Functional.softmax_focal_loss(x, t, AlphaTensor(m), 0.0, reduction: Reduction.Sum).item<double>();
            var ceSum = F.cross_entropy(x, t, AlphaTensor(m), reduction: Reduction.Sum).item<double>();
            var focalMean = Functional.softmax_focal_loss(x, t, null, 0.0).item<double>();
            var ceMean = F.cross_entropy(x, t).item<double>();
            return (Tol.Close(focalSum, ceSum, Tol.IdentityRel64, Tol.IdentityAbs64) && Tol.Close(focalMean, ceMean, Tol.IdentityRel64, Tol.IdentityAbs64))
                .Label($"sum: focal {focalSum:R} ce {ceSum:R}; mean: focal {focalMean:R} ce {ceMean:R}; {m}");
        });

    private static Tensor? AlphaTensor(MultiClassCase m) => m.Alpha is null ? null : tensor(m.Alpha);

    [Fact]
    public void ignored_targets_contribute_nothing_and_are_excluded_from_the_mean()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new[] { 2.0, -1.0, 0.5, 0.3, 1.0, -2.0, 0.0, 4.0, -3.0 }).reshape(3, 3);
        var all = tensor(new long[] { 0, 2, 1 });
        var some = tensor(new long[] { 0, -100, 1 });
        var keptRows = Functional.softmax_focal_loss(x.index_select(0, tensor(new long[] { 0, 2 })), tensor(new long[] { 0, 1 }), reduction: Reduction.None);
        var perRow = Functional.softmax_focal_loss(x, some, reduction: Reduction.None);
        Assert.Equal(0.0, perRow[1].item<double>());
        Assert.Equal(keptRows.mean().item<double>(), Functional.softmax_focal_loss(x, some).item<double>(), 12);
        Assert.Equal(keptRows.sum().item<double>(), Functional.softmax_focal_loss(x, some, reduction: Reduction.Sum).item<double>(), 12);
        Assert.NotEqual(Functional.softmax_focal_loss(x, all).item<double>(), Functional.softmax_focal_loss(x, some).item<double>());
    }

    [Fact]
    public void spatial_inputs_match_flattened_rows()
    {
        // [N, C, H, W] must equal the same pixels laid out as [N*H*W, C].
        using var scope = NewDisposeScope();
        var gen = manual_seed(7);
        var x = randn(2, 4, 3, 5, dtype: ScalarType.Float64);
        var t = randint(0, 4, [2, 3, 5]);
        var spatial = Functional.softmax_focal_loss(x, t, tensor(new[] { 0.1, 0.2, 0.3, 0.4 }), 1.5);
        var rows = Functional.softmax_focal_loss(x.permute(0, 2, 3, 1).reshape(-1, 4), t.reshape(-1), tensor(new[] { 0.1, 0.2, 0.3, 0.4 }), 1.5);
        Assert.Equal(rows.item<double>(), spatial.item<double>(), 12);
        Assert.Equal([2L, 3, 5], Functional.softmax_focal_loss(x, t, reduction: Reduction.None).shape);
    }

    [Fact]
    public void softmax_focal_is_finite_for_saturated_logits_in_float32()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new float[] { 100, -100, 0, -100, 100, 0 }).reshape(2, 3).requires_grad_(true);
        foreach (var gamma in new[] { 0.0, 0.3, 1.0, 2.0, 5.0 })
        {
            x.grad?.zero_();
            var loss = Functional.softmax_focal_loss(x, tensor(new long[] { 0, 0 }), gamma: gamma);
            loss.backward();
            Assert.True(double.IsFinite(loss.item<float>()), $"loss finite at gamma {gamma}");
            Assert.True(Eval.ToArray(x.grad!).All(double.IsFinite), $"gradient finite at gamma {gamma}");
        }
    }
}

/// <summary>SoftmaxFocalLossProperties with the sigmoid form on the composite of libtorch operations.</summary>
public sealed class SoftmaxFocalLossPropertiesComposite() : SoftmaxFocalLossProperties(FocalKernel.Composite);

/// <summary>SoftmaxFocalLossProperties with the sigmoid form on the fused CPU kernel.</summary>
public sealed class SoftmaxFocalLossPropertiesFused() : SoftmaxFocalLossProperties(FocalKernel.Fused);
