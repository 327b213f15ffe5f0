using FsCheck;
using FsCheck.Fluent;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;

namespace FocalLoss.Tests;

/// <summary>
/// Laws of the Asymmetric Loss (Ridnik et al. 2021), over binary cases from the buckets (each element one
/// label of a multi-label problem; the loss is elementwise, so the shape does not matter to these laws).
/// </summary>
public class AsymmetricLossProperties
{
    private const int Many = 150;
    private const int ManyLong = 60;

    private static Eval.BinaryLoss Asl(FamilyGenerators.AslParameters a, Reduction reduction = Reduction.None) =>
        (x, t) => Functional.asymmetric_loss(x, t, a.GammaNeg, a.GammaPos, a.Clip, a.Detach, reduction);

    private static readonly Arbitrary<Reduction> Reductions = Gen.Elements(Reduction.None, Reduction.Mean, Reduction.Sum).ToArbitrary();

    /// <summary>
    /// The formula in double, from stable pieces: log p = -softplus(-x), 1 - p = sigmoid(-x), p_m = p - clip,
    /// log(1 - p_m) = log(sigmoid(-x) + clip) (a sum of positives), 0^0 = 1.
    /// </summary>
    private static double Formula(double x, double y, FamilyGenerators.AslParameters a)
    {
        var log_p = -Eval.Softplus(-x);
        var positive = Math.Pow(Eval.Sigmoid(-x), a.GammaPos) * log_p;
        double negative;
        if (a.Clip == 0)
            negative = Math.Pow(Eval.Sigmoid(x), a.GammaNeg) * -Eval.Softplus(x);
        else
        {
            var p_m = Math.Max(Eval.Sigmoid(x) - a.Clip, 0);
            negative = p_m == 0 ? 0 : Math.Pow(p_m, a.GammaNeg) * Math.Log(Eval.Sigmoid(-x) + a.Clip);
        }
        return -(y * positive + (1 - y) * negative);
    }

    [LossProperty(MaxTest = Many)]
    public Property asl_with_equal_gammas_and_no_clip_equals_sigmoid_focal_loss_without_alpha_in_value_and_gradient() =>
        Prop.ForAll(Generators.BinaryArb, Reductions, (c, reduction) =>
        {
            var asl = Eval.WithGrad(Asl(new(c.Gamma, c.Gamma, 0, false), reduction), c.Logits, c.Targets);
            var focal = Eval.WithGrad((x, t) => Functional.sigmoid_focal_loss(x, t, null, c.Gamma, reduction: reduction), c.Logits, c.Targets);
            var mismatch = Compare.First(Compare.Identity(asl.Loss, focal.Loss, "loss"), Compare.Identity(asl.Grad, focal.Grad, "grad"));
            return (mismatch is null).Label($"reduction {reduction}: {mismatch}: {c}").Classified(c);
        });

    [LossProperty(MaxTest = Many)]
    public Property asl_with_zero_gammas_and_no_clip_equals_binary_cross_entropy_in_value_and_gradient() =>
        Prop.ForAll(Generators.BinaryArb, Reductions, (c, reduction) =>
        {
            var asl = Eval.WithGrad(Asl(new(0, 0, 0, false), reduction), c.Logits, c.Targets);
            var bce = Eval.WithGrad((x, t) => F.binary_cross_entropy_with_logits(x, t, reduction: reduction), c.Logits, c.Targets);
            var mismatch = Compare.First(Compare.Identity(asl.Loss, bce.Loss, "loss"), Compare.Identity(asl.Grad, bce.Grad, "grad"));
            return (mismatch is null).Label($"reduction {reduction}: {mismatch}: {c}").Classified(c);
        });

    [LossProperty(MaxTest = Many)]
    public Property asl_equals_its_formula_for_every_gamma_and_clip() =>
        Prop.ForAll(Generators.BinaryArb, FamilyGenerators.Arb(FamilyGenerators.Asl), (c, a) =>
        {
            var loss = Eval.Values(Asl(a), c.Logits, c.Targets);
            var expected = c.Logits.Select((x, i) => Formula(x, c.Targets[i], a)).ToArray();
            var mismatch = Compare.Identity(loss, expected, "loss");
            return (mismatch is null).Label($"{a}: {mismatch}: {c}").Classified(c).Classify(a.Clip > 0, "clip > 0");
        });

    [LossProperty(MaxTest = Many)]
    public Property asl_does_not_increase_with_p_for_positives_and_does_not_decrease_for_negatives() =>
        Prop.ForAll(Generators.BinaryArb, FamilyGenerators.Arb(FamilyGenerators.Asl), Gen.Choose(1, 400).ToArbitrary(), (c, a, step) =>
        {
            // Raise every logit (p rises): a positive's loss must not grow, a negative's must not shrink.
            var delta = step / 40.0;
            var raised = c.Logits.Select(x => x + delta).ToArray();
            var before = Eval.Values(Asl(a), c.Logits, c.Targets);
            var after = Eval.Values(Asl(a), raised, c.Targets);
            var failures = Enumerable.Range(0, before.Length).Where(i => c.Targets[i] == 1
                    ? !(after[i] <= before[i] * (1 + 1e-12) + 1e-300)
                    : !(after[i] >= before[i] * (1 - 1e-12) - 1e-300))
                .Select(i => $"[{i}] target {c.Targets[i]}: {before[i]:R} -> {after[i]:R}").ToList();
            return (failures.Count == 0).Label($"{a} step {delta}: {string.Join("; ", failures)}: {c}").Classified(c);
        });

    [LossProperty(MaxTest = ManyLong)]
    public Property asl_gradient_equals_central_finite_differences_in_float64() =>
        Prop.ForAll(Generators.BinaryModerateLongArb, FamilyGenerators.Arb(FamilyGenerators.Asl), (c, a) =>
        {
            // With clip > 0 and gamma_neg = 0 the loss has a kink where p = clip: cases within a step of it are skipped.
            var nearKink = a.Clip > 0 && c.Logits.Any(x => Math.Abs(Eval.Sigmoid(x) - a.Clip) < 1e-4);
            if (nearKink) return true.Label("near the margin's kink").Classify(true, "skipped: near p = clip");
            Eval.BinaryLoss loss = Asl(a, Reduction.Sum);
            var grad = Eval.WithGrad(loss, c.Logits, c.Targets).Grad;
            // Detached weights are constants for autograd only, so finite differences see the full gradient then.
            if (a.Detach) grad = Eval.WithGrad(Asl(a with { Detach = false }, Reduction.Sum), c.Logits, c.Targets).Grad;
            var mismatch = FiniteDifferences.Mismatch(x => Eval.Values(loss, x, c.Targets).Single(), c.Logits, grad);
            return (mismatch is null).Label($"{a}: {mismatch}: {c}").Classified(c);
        });

    [LossProperty(MaxTest = Many)]
    public Property detached_focusing_weights_keep_the_value_and_give_the_gradient_of_the_log_terms_alone() =>
        Prop.ForAll(Generators.BinaryArb, FamilyGenerators.Arb(FamilyGenerators.Asl), (c, a) =>
        {
            var attached = Eval.WithGrad(Asl(a with { Detach = false }), c.Logits, c.Targets);
            var detached = Eval.WithGrad(Asl(a with { Detach = true }), c.Logits, c.Targets);
            // d/dx of -[y w_pos log p + (1 - y) w_neg log(1 - p_m)] with the weights held constant:
            // d log p / dx = 1 - p; d log(1 - p_m) / dx = -p (1 - p) / (1 - p_m) where p > clip, else 0.
            var expected = c.Logits.Select((x, i) =>
            {
                var y = c.Targets[i];
                var p = Eval.Sigmoid(x);
                var q = Eval.Sigmoid(-x);
                var positive = Math.Pow(q, a.GammaPos) * q;
                var p_m = Math.Max(p - a.Clip, 0);
                var negative = a.Clip == 0 ? Math.Pow(p, a.GammaNeg) * -p
                    : p_m == 0 ? 0 : Math.Pow(p_m, a.GammaNeg) * -p * q / (q + a.Clip);
                return -(y * positive + (1 - y) * negative);
            }).ToArray();
            var mismatch = Compare.First(Compare.Identity(detached.Loss, attached.Loss, "loss"), Compare.Identity(detached.Grad, expected, "grad"));
            return (mismatch is null).Label($"{a}: {mismatch}: {c}").Classified(c);
        });

    [LossProperty(MaxTest = Many)]
    public Property asl_loss_and_gradient_are_finite_for_logits_up_to_plus_minus_100_in_float32_and_float64() =>
        Prop.ForAll(Generators.BinaryArb, FamilyGenerators.Arb(FamilyGenerators.Asl), Gen.Elements(ScalarType.Float32, ScalarType.Float64).ToArbitrary(), (c, a, dtype) =>
        {
            var extreme = c with { Logits = c.Logits.Select(x => Math.Clamp(x * 4, -100, 100)).ToArray() };
            var (loss, grad) = Eval.WithGrad(Asl(a), extreme.Logits, extreme.Targets, dtype);
            return loss.Concat(grad).All(double.IsFinite).Label($"{a} dtype {dtype}: {extreme}").Classified(extreme);
        });

    [Fact]
    public void detaching_the_focusing_weights_changes_the_gradient_not_the_value()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new[] { 2.0, -1.0, 0.5, 3.0, -0.2, 1.5 }).reshape(2, 3);
        var y = tensor(new[] { 1.0, 0.0, 0.0, 0.0, 1.0, 1.0 }).reshape(2, 3);
        var (attached, detached) = (x.clone().requires_grad_(true), x.clone().requires_grad_(true));
        var a = Functional.asymmetric_loss(attached, y);
        var d = Functional.asymmetric_loss(detached, y, detach_focusing_weight: true);
        a.backward();
        d.backward();
        Assert.Equal(a.item<double>(), d.item<double>(), 15);
        var (ga, gd) = (Eval.ToArray(attached.grad!), Eval.ToArray(detached.grad!));
        Assert.True(ga.Zip(gd).All(p => p.First != p.Second), $"every gradient element differs: [{string.Join(", ", ga)}] vs [{string.Join(", ", gd)}]");
    }

    [Fact]
    public void easy_negatives_below_the_margin_contribute_nothing_and_zero_gamma_neg_takes_0_to_the_0_as_1()
    {
        // p = sigmoid(-4) = 0.018 < clip 0.05: p_m = 0, the negative's loss and gradient are exactly 0 for any gamma_neg.
        using var scope = NewDisposeScope();
        foreach (var gammaNeg in new[] { 0.0, 0.5, 4.0 })
        {
            var x = tensor(new[] { -4.0, -4.0 }).requires_grad_(true);
            var loss = Functional.asymmetric_loss(x, tensor(new[] { 0.0, 0.0 }), gamma_neg: gammaNeg, reduction: Reduction.None);
            loss.sum().backward();
            Assert.Equal([0.0, 0.0], Eval.ToArray(loss));
            Assert.Equal([0.0, 0.0], Eval.ToArray(x.grad!));
        }
    }

    [Fact]
    public void soft_targets_weight_the_positive_and_negative_terms_linearly()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new[] { 1.3, -0.7, 2.2 });
        var soft = tensor(new[] { 0.3, 0.9, 0.5 });
        var loss = Functional.asymmetric_loss(x, soft, reduction: Reduction.None);
        var one = Functional.asymmetric_loss(x, ones_like(x), reduction: Reduction.None);
        var zero = Functional.asymmetric_loss(x, zeros_like(x), reduction: Reduction.None);
        Assert.Equal(Eval.ToArray(soft * one + (1 - soft) * zero), Eval.ToArray(loss), (p, q) => Tol.Close(p, q, Tol.IdentityRel64, Tol.IdentityAbs64));
    }
}
