using FsCheck;
using FsCheck.Fluent;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;

namespace FocalLoss.Tests;

/// <summary>Laws of FL* (Lin et al. 2017, appendix A).</summary>
public class FocalLossStarProperties
{
    private const int Many = 150;

    private static Eval.BinaryLoss Star(double gamma, double beta, Reduction reduction = Reduction.None) =>
        (x, t) => Functional.focal_loss_star(x, t, gamma, beta, reduction);

    private static readonly Arbitrary<(double Gamma, double Beta)> Parameters =
        FamilyGenerators.Arb(from g in FamilyGenerators.StarGamma from b in FamilyGenerators.Beta select (g, b));

    [LossProperty(MaxTest = Many)]
    public Property fl_star_with_gamma_one_and_beta_zero_equals_binary_cross_entropy_in_value_and_gradient() =>
        Prop.ForAll(Generators.BinaryArb, Gen.Elements(Reduction.None, Reduction.Mean, Reduction.Sum).ToArbitrary(), (c, reduction) =>
        {
            var star = Eval.WithGrad(Star(1, 0, reduction), c.Logits, c.Targets);
            var bce = Eval.WithGrad((x, t) => F.binary_cross_entropy_with_logits(x, t, reduction: reduction), c.Logits, c.Targets);
            var mismatch = Compare.First(Compare.Identity(star.Loss, bce.Loss, "loss"), Compare.Identity(star.Grad, bce.Grad, "grad"));
            return (mismatch is null).Label($"reduction {reduction}: {mismatch}: {c}").Classified(c);
        });

    [LossProperty(MaxTest = Many)]
    public Property fl_star_equals_softplus_of_minus_gamma_x_t_minus_beta_over_gamma() =>
        Prop.ForAll(Generators.BinaryArb, Parameters, (c, p) =>
        {
            // -log sigmoid(u) = softplus(-u), u = gamma x_t + beta, x_t = x for target 1 and -x for target 0.
            var loss = Eval.Values(Star(p.Gamma, p.Beta), c.Logits, c.Targets);
            var expected = c.Logits.Select((x, i) => Eval.Softplus(-(p.Gamma * (c.Targets[i] == 1 ? x : -x) + p.Beta)) / p.Gamma).ToArray();
            var mismatch = Compare.Identity(loss, expected, "loss");
            return (mismatch is null).Label($"gamma {p.Gamma} beta {p.Beta}: {mismatch}: {c}").Classified(c);
        });

    [LossProperty(MaxTest = Many)]
    public Property fl_star_does_not_increase_as_x_t_rises() =>
        Prop.ForAll(Generators.BinaryArb, Parameters, Gen.Choose(1, 400).ToArbitrary(), (c, p, step) =>
        {
            var delta = step / 40.0;
            var moved = c.Logits.Select((x, i) => x + (c.Targets[i] == 1 ? delta : -delta)).ToArray();
            var before = Eval.Values(Star(p.Gamma, p.Beta), c.Logits, c.Targets);
            var after = Eval.Values(Star(p.Gamma, p.Beta), moved, c.Targets);
            return before.Zip(after).All(q => q.Second <= q.First * (1 + 1e-12) + 1e-300).Label($"gamma {p.Gamma} beta {p.Beta} step {delta}: {c}").Classified(c);
        });

    [LossProperty(MaxTest = 80)]
    public Property fl_star_gradient_equals_central_finite_differences_in_float64() =>
        Prop.ForAll(Generators.BinaryModerateLongArb, Parameters, (c, p) =>
        {
            Eval.BinaryLoss loss = Star(p.Gamma, p.Beta, Reduction.Sum);
            var grad = Eval.WithGrad(loss, c.Logits, c.Targets).Grad;
            var mismatch = FiniteDifferences.Mismatch(x => Eval.Values(loss, x, c.Targets).Single(), c.Logits, grad);
            return (mismatch is null).Label($"gamma {p.Gamma} beta {p.Beta}: {mismatch}: {c}").Classified(c);
        });

    [LossProperty(MaxTest = Many)]
    public Property fl_star_loss_and_gradient_are_finite_for_logits_up_to_plus_minus_100_in_float32_and_float64() =>
        Prop.ForAll(Generators.BinaryArb, Parameters, Gen.Elements(ScalarType.Float32, ScalarType.Float64).ToArbitrary(), (c, p, dtype) =>
        {
            var extreme = c with { Logits = c.Logits.Select(x => Math.Clamp(x * 4, -100, 100)).ToArray() };
            var (loss, grad) = Eval.WithGrad(Star(p.Gamma, p.Beta), extreme.Logits, extreme.Targets, dtype);
            return loss.Concat(grad).All(double.IsFinite).Label($"gamma {p.Gamma} beta {p.Beta} dtype {dtype}: {extreme}").Classified(extreme);
        });
}
