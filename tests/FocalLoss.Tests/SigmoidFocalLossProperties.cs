using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Xunit;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;

namespace FocalLoss.Tests;

/// <summary>
/// The invariants of the binary focal loss, as FsCheck properties over inputs drawn from meaningful
/// buckets. Each is named as the statement it checks. tests/mutation/ shows each one failing on a
/// deliberately broken variant of the loss.
/// </summary>
public abstract class SigmoidFocalLossProperties(FocalKernel kernel) : OnKernel(kernel)
{
    private const int Many = 200;
    /// <summary>Finite differences cost 2n + 1 evaluations per case of n (8 to 64) elements.</summary>
    private const int ManyLong = 100;

    private static Eval.BinaryLoss Focal(BinaryCase c, Reduction reduction = Reduction.None) =>
        (x, t) => Functional.sigmoid_focal_loss(x, t, c.Alpha, c.Gamma, reduction: reduction);

    private static Property Holds(BinaryCase c, bool condition, string label) => condition.Label(label + ": " + c).Classified(c);

    [LossProperty(MaxTest = Many)]
    public Property gamma_zero_equals_alpha_weighted_bce_in_value_and_gradient() =>
        Prop.ForAll(Generators.BinaryArb, Gen.Elements(Reduction.None, Reduction.Mean, Reduction.Sum).ToArbitrary(), (c, reduction) =>
        {
            var focal = Eval.WithGrad((x, t) => Functional.sigmoid_focal_loss(x, t, c.Alpha, 0.0, reduction: reduction), c.Logits, c.Targets);
            // Independent reference: TorchSharp's fused BCE, weighted by alpha_t computed here, reduced here.
            var reference = Eval.WithGrad((x, t) =>
            {
                var weighted = F.binary_cross_entropy_with_logits(x, t, reduction: Reduction.None) * tensor(c.Targets.Select((_, i) => c.AlphaT(i)).ToArray(), x.dtype);
                return reduction switch { Reduction.Mean => weighted.mean(), Reduction.Sum => weighted.sum(), _ => weighted };
            }, c.Logits, c.Targets);
            var ok = focal.Loss.Zip(reference.Loss).All(p => Tol.Close(p.First, p.Second, Tol.IdentityRel64, Tol.IdentityAbs64))
                  && focal.Grad.Zip(reference.Grad).All(p => Tol.Close(p.First, p.Second, Tol.IdentityRel64, Tol.IdentityAbs64));
            return Holds(c, ok, $"reduction {reduction}");
        });

    [LossProperty(MaxTest = Many)]
    public Property focal_loss_never_exceeds_alpha_weighted_bce() =>
        Prop.ForAll(Generators.BinaryArb, c =>
        {
            var focal = Eval.Values(Focal(c), c.Logits, c.Targets);
            var bce = Eval.Values((x, t) => F.binary_cross_entropy_with_logits(x, t, reduction: Reduction.None), c.Logits, c.Targets);
            return Holds(c, focal.Select((f, i) => f <= c.AlphaT(i) * bce[i] * (1 + 1e-12) + Tol.IdentityAbs64).All(b => b), "focal <= alpha_t * BCE");
        });

    [LossProperty(MaxTest = Many)]
    public Property focal_over_bce_equals_alpha_t_times_one_minus_p_t_to_the_gamma() =>
        Prop.ForAll(Generators.BinaryArb, c =>
        {
            var focal = Eval.Values(Focal(c), c.Logits, c.Targets);
            var failures = new List<string>();
            for (var i = 0; i < c.Logits.Length; i++)
            {
                var z = c.Targets[i] == 1 ? c.Logits[i] : -c.Logits[i];       // signed logit: p_t = sigmoid(z)
                var bce = Eval.Softplus(-z);
                if (bce < 1e-200) continue;                                  // ratio undefined where BCE underflows
                var expected = c.AlphaT(i) * Math.Pow(Eval.Sigmoid(-z), c.Gamma); // 1 - p_t = sigmoid(-z), exact in double
                if (!Tol.Close(focal[i] / bce, expected, Tol.IdentityRel64, 1e-300))
                    failures.Add($"[{i}] ratio {focal[i] / bce:R} expected {expected:R}");
            }
            return Holds(c, failures.Count == 0, "FL / BCE = alpha_t (1 - p_t)^gamma " + string.Join("; ", failures));
        });

    [LossProperty(MaxTest = Many)]
    public Property loss_does_not_increase_as_p_t_rises() =>
        Prop.ForAll(Generators.BinaryArb, Gen.Choose(1, 400).ToArbitrary(), (c, step) =>
        {
            // Move every logit towards its target by a positive step: p_t rises, the loss must not.
            var delta = step / 40.0;
            var moved = c.Logits.Select((x, i) => x + (c.Targets[i] == 1 ? delta : -delta)).ToArray();
            var before = Eval.Values(Focal(c), c.Logits, c.Targets);
            var after = Eval.Values(Focal(c), moved, c.Targets);
            return Holds(c, before.Zip(after).All(p => p.Second <= p.First * (1 + 1e-12) + 1e-300), $"step {delta}");
        });

    [LossProperty(MaxTest = Many)]
    public Property loss_does_not_increase_as_gamma_rises() =>
        Prop.ForAll(Generators.BinaryArb, Gen.Choose(1, 500).ToArbitrary(), (c, step) =>
        {
            var higher = c with { Gamma = c.Gamma + step / 100.0 };
            var low = Eval.Values(Focal(c), c.Logits, c.Targets);
            var high = Eval.Values(Focal(higher), c.Logits, c.Targets);
            return Holds(c, low.Zip(high).All(p => p.Second <= p.First * (1 + 1e-12) + 1e-300), $"gamma {c.Gamma} -> {higher.Gamma}");
        });

    [LossProperty(MaxTest = Many)]
    public Property flipping_logit_target_and_alpha_leaves_the_loss_unchanged() =>
        Prop.ForAll(Generators.BinaryArb, c =>
        {
            var flipped = c with { Logits = c.Logits.Select(x => -x).ToArray(), Targets = c.Targets.Select(t => 1 - t).ToArray(), Alpha = 1 - c.Alpha };
            var original = Eval.WithGrad(Focal(c), c.Logits, c.Targets);
            var mirror = Eval.WithGrad(Focal(flipped), flipped.Logits, flipped.Targets);
            var ok = original.Loss.Zip(mirror.Loss).All(p => Tol.Close(p.First, p.Second, Tol.IdentityRel64, Tol.IdentityAbs64))
                  && original.Grad.Zip(mirror.Grad).All(p => Tol.Close(p.First, -p.Second, Tol.IdentityRel64, Tol.IdentityAbs64));
            return Holds(c, ok, "label flip");
        });

    [LossProperty(MaxTest = Many)]
    public Property mean_is_sum_over_count_and_none_sums_to_sum() =>
        Prop.ForAll(Generators.BinaryLongArb, c =>
        {
            var none = Eval.Values(Focal(c, Reduction.None), c.Logits, c.Targets);
            var sum = Eval.Values(Focal(c, Reduction.Sum), c.Logits, c.Targets).Single();
            var mean = Eval.Values(Focal(c, Reduction.Mean), c.Logits, c.Targets).Single();
            var ok = none.Length == c.Logits.Length
                  && Tol.Close(none.Sum(), sum, Tol.IdentityRel64, Tol.IdentityAbs64)
                  && Tol.Close(mean, sum / c.Logits.Length, Tol.IdentityRel64, Tol.IdentityAbs64);
            return Holds(c, ok, $"none.sum {none.Sum():R} sum {sum:R} mean {mean:R}");
        });

    [LossProperty(MaxTest = Many)]
    public Property loss_is_invariant_under_permutation_of_samples() =>
        Prop.ForAll(Generators.BinaryLongArb, Gen.Choose(0, int.MaxValue).ToArbitrary(), (c, seed) =>
        {
            // Fisher-Yates from one seeded generator: ordering by new Random(seed + i).Next() gave only
            // n distinct permutations (rotations of an odd/even interleaving).
            var order = Enumerable.Range(0, c.Logits.Length).ToArray();
            new Random(seed).Shuffle(order);
            var permuted = c with { Logits = order.Select(i => c.Logits[i]).ToArray(), Targets = order.Select(i => c.Targets[i]).ToArray() };
            var ok = true;
            foreach (var reduction in new[] { Reduction.Sum, Reduction.Mean })
            {
                var a = Eval.Values(Focal(c, reduction), c.Logits, c.Targets).Single();
                var b = Eval.Values(Focal(permuted, reduction), permuted.Logits, permuted.Targets).Single();
                ok &= Tol.Close(a, b, Tol.IdentityRel64, Tol.IdentityAbs64);
            }
            var none = Eval.Values(Focal(c), c.Logits, c.Targets);
            var nonePermuted = Eval.Values(Focal(permuted), permuted.Logits, permuted.Targets);
            ok &= order.Select((source, i) => Tol.Close(nonePermuted[i], none[source], Tol.IdentityRel64, Tol.IdentityAbs64)).All(b => b);
            return Holds(c, ok, $"order [{string.Join(",", order)}]");
        });

    [LossProperty(MaxTest = Many)]
    public Property logits_form_equals_probability_form_wherever_the_latter_is_finite() =>
        Prop.ForAll(Generators.BinaryArb, c =>
        {
            var logits = Eval.Values(Focal(c), c.Logits, c.Targets);
            var probs = Eval.Values((x, t) => Functional.focal_loss_from_probabilities(x.sigmoid(), t, c.Alpha, c.Gamma, Reduction.None), c.Logits, c.Targets);
            var compared = 0;
            var ok = true;
            for (var i = 0; i < logits.Length; i++)
            {
                if (!double.IsFinite(probs[i])) continue;
                compared++;
                // The probability form rounds p_t and 1 - p_t to absolute precision eps; log(p_t) and
                // (1 - p_t)^gamma turn that into relative errors eps/p_t and gamma*eps/(1 - p_t).
                var z = c.Targets[i] == 1 ? c.Logits[i] : -c.Logits[i];
                var conditioning = Tol.ProbFormUlps * Tol.MachineEpsilon64 * (1 / Eval.Sigmoid(z) + c.Gamma / Eval.Sigmoid(-z));
                ok &= Tol.Close(logits[i], probs[i], Tol.ProbFormRel64 + conditioning, Tol.ProbFormAbs64);
            }
            return Holds(c, ok, $"{compared} finite probability-form values compared");
        });

    [LossProperty(MaxTest = ManyLong)]
    public Property analytic_gradient_equals_central_finite_differences_in_float64() =>
        Prop.ForAll(Generators.BinaryModerateLongArb, Gen.Elements(Reduction.Mean, Reduction.Sum).ToArbitrary(), (c, reduction) =>
        {
            Eval.BinaryLoss loss = Focal(c, reduction);
            var grad = Eval.WithGrad(loss, c.Logits, c.Targets).Grad;
            var mismatch = FiniteDifferences.Mismatch(x => Eval.Values(loss, x, c.Targets).Single(), c.Logits, grad);
            return Holds(c, mismatch is null, $"reduction {reduction}: {mismatch}");
        });

    [LossProperty(MaxTest = Many)]
    public Property loss_and_gradient_are_finite_for_logits_up_to_plus_minus_100_in_float32_and_float64() =>
        Prop.ForAll(Generators.BinaryArb, Gen.Elements(ScalarType.Float32, ScalarType.Float64).ToArbitrary(), (c, dtype) =>
        {
            var extreme = c with { Logits = c.Logits.Select(x => Math.Clamp(x * 4, -100, 100)).ToArray() };
            var (loss, grad) = Eval.WithGrad(Focal(extreme), extreme.Logits, extreme.Targets, dtype);
            return Holds(extreme, loss.Concat(grad).All(double.IsFinite), $"dtype {dtype}");
        });
}

/// <summary>Soft targets (label smoothing, distillation) take the general log-space path.</summary>
public abstract class SoftTargetProperties(FocalKernel kernel) : OnKernel(kernel)
{
    private static readonly Gen<double> SoftTarget =
        Gen.Frequency((3, Gen.Choose(1, 999).Select(k => k / 1000.0)), (1, Gen.Elements(0.0, 1.0, 1e-9, 1 - 1e-9)));

    private static Gen<(BinaryCase Case, double[] Soft)> WithSoftTargets(Gen<BinaryCase> cases) =>
        from c in cases
        from soft in Gen.ArrayOf(SoftTarget, c.Logits.Length)
        select (c, soft);

    private static readonly Gen<(BinaryCase Case, double[] Soft)> SoftCases = WithSoftTargets(Generators.Binary);

    /// <summary>Long cases without saturated logits, for the finite-difference check.</summary>
    private static readonly Gen<(BinaryCase Case, double[] Soft)> SoftCasesLong = WithSoftTargets(Generators.BinaryModerateLong);

    /// <summary>Shrinks like <see cref="Shrink.Binary"/>, the soft targets following the elements that remain.</summary>
    private static IEnumerable<(BinaryCase Case, double[] Soft)> ShrinkSoft((BinaryCase Case, double[] Soft) sc)
    {
        foreach (var keep in Shrink.Removals(sc.Soft.Length))
            yield return (sc.Case.Keep(keep), keep.Select(i => sc.Soft[i]).ToArray());
        foreach (var simpler in Shrink.BinaryValues(sc.Case))
            yield return (simpler, sc.Soft);
    }

    [LossProperty(MaxTest = 150)]
    public Property soft_targets_follow_torchvisions_p_t_and_stay_finite_at_saturation() =>
        Prop.ForAll(Arb.From(SoftCases, ShrinkSoft), sc =>
        {
            var (c, soft) = sc;
            var (loss, grad) = Eval.WithGrad((x, t) => Functional.sigmoid_focal_loss(x, t, c.Alpha, c.Gamma, reduction: Reduction.None), c.Logits, soft);
            var failures = new List<string>();
            for (var i = 0; i < soft.Length; i++)
            {
                // Reference in double: 1 - p_t = t sigmoid(-x) + (1 - t) sigmoid(x); CE by stable softplus.
                var x = c.Logits[i];
                var t = soft[i];
                var q = t * Eval.Sigmoid(-x) + (1 - t) * Eval.Sigmoid(x);
                var ce = t * Eval.Softplus(-x) + (1 - t) * Eval.Softplus(x);
                var alphaT = c.Alpha is { } a ? a * t + (1 - a) * (1 - t) : 1.0;
                var expected = alphaT * Math.Pow(q, c.Gamma) * ce;
                if (!Tol.Close(loss[i], expected, Tol.IdentityRel64, Tol.IdentityAbs64) || !double.IsFinite(grad[i]))
                    failures.Add($"[{i}] x={x:R} t={t:R}: loss {loss[i]:R} expected {expected:R}, grad {grad[i]:R}");
            }
            return (failures.Count == 0).Label(string.Join("; ", failures) + " " + c).Classified(c);
        });

    [LossProperty(MaxTest = 40)]
    public Property soft_target_gradient_equals_central_finite_differences() =>
        Prop.ForAll(Arb.From(SoftCasesLong, ShrinkSoft), sc =>
        {
            var (c, soft) = sc;
            Eval.BinaryLoss loss = (x, t) => Functional.sigmoid_focal_loss(x, t, c.Alpha, c.Gamma, reduction: Reduction.Sum);
            var grad = Eval.WithGrad(loss, c.Logits, soft).Grad;
            var mismatch = FiniteDifferences.Mismatch(x => Eval.Values(loss, x, soft).Single(), c.Logits, grad);
            return (mismatch is null).Label($"{mismatch}: {c} soft targets [{string.Join(", ", soft.Select(t => t.ToString("R")))}]");
        });

    [Fact]
    public void soft_targets_are_finite_at_plus_minus_100_in_float32()
    {
        var logits = new[] { 100.0, -100.0, 100.0, -100.0, 50.0 };
        var targets = new[] { 0.9, 0.1, 1.0, 0.0, 0.5 };
        foreach (var gamma in new[] { 0.0, 0.3, 2.0, 5.0 })
        {
            var (loss, grad) = Eval.WithGrad((x, t) => Functional.sigmoid_focal_loss(x, t, 0.25, gamma, reduction: Reduction.None), logits, targets, ScalarType.Float32);
            Assert.True(loss.Concat(grad).All(double.IsFinite), $"gamma {gamma}: loss [{string.Join(", ", loss)}] grad [{string.Join(", ", grad)}]");
        }
    }
}

/// <summary>SigmoidFocalLossProperties on the composite of libtorch operations.</summary>
public sealed class SigmoidFocalLossPropertiesComposite() : SigmoidFocalLossProperties(FocalKernel.Composite);

/// <summary>SigmoidFocalLossProperties on the fused CPU kernel (forced: a case it cannot serve fails).</summary>
public sealed class SigmoidFocalLossPropertiesFused() : SigmoidFocalLossProperties(FocalKernel.Fused);

/// <summary>SoftTargetProperties on the composite of libtorch operations.</summary>
public sealed class SoftTargetPropertiesComposite() : SoftTargetProperties(FocalKernel.Composite);

/// <summary>SoftTargetProperties on the fused CPU kernel (forced: a case it cannot serve fails).</summary>
public sealed class SoftTargetPropertiesFused() : SoftTargetProperties(FocalKernel.Fused);
