using FsCheck;
using FsCheck.Fluent;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;

namespace FocalLoss.Tests;

/// <summary>Laws of Poly-1 (Leng et al. 2022), binary and softmax, cross-entropy and focal.</summary>
public class Poly1Properties
{
    private const int Many = 150;
    private const int ManyLong = 50;

    private static readonly Arbitrary<Reduction> Reductions = Gen.Elements(Reduction.None, Reduction.Mean, Reduction.Sum).ToArbitrary();
    private static readonly Arbitrary<double> Epsilons = FamilyGenerators.Arb(FamilyGenerators.Epsilon);

    private static Eval.BinaryLoss BinaryCe(double epsilon, Reduction reduction = Reduction.None) =>
        (x, t) => Functional.poly1_cross_entropy(x, t, epsilon, reduction: reduction);

    private static Eval.BinaryLoss BinaryFocal(BinaryCase c, double epsilon, Reduction reduction = Reduction.None) =>
        (x, t) => Functional.poly1_focal_loss(x, t, c.Alpha, c.Gamma, epsilon, reduction: reduction);

    private static MultiEval.MultiLoss SoftmaxCe(double epsilon, Reduction reduction = Reduction.None) =>
        (x, t, _) => Functional.softmax_poly1_cross_entropy(x, t, epsilon, reduction: reduction);

    private static MultiEval.MultiLoss SoftmaxFocal(MultiClassCase m, double epsilon, Reduction reduction = Reduction.None) =>
        (x, t, alpha) => Functional.softmax_poly1_focal_loss(x, t, alpha, m.Gamma, epsilon, reduction: reduction);

    [LossProperty(MaxTest = Many)]
    public Property binary_poly1_with_epsilon_zero_equals_its_base_in_value_and_gradient() =>
        Prop.ForAll(Generators.BinaryArb, Reductions, (c, reduction) =>
        {
            var ce = Eval.WithGrad(BinaryCe(0, reduction), c.Logits, c.Targets);
            var bce = Eval.WithGrad((x, t) => F.binary_cross_entropy_with_logits(x, t, reduction: reduction), c.Logits, c.Targets);
            var focal = Eval.WithGrad(BinaryFocal(c, 0, reduction), c.Logits, c.Targets);
            var fl = Eval.WithGrad((x, t) => Functional.sigmoid_focal_loss(x, t, c.Alpha, c.Gamma, reduction: reduction), c.Logits, c.Targets);
            var mismatch = Compare.First(
                Compare.Identity(ce.Loss, bce.Loss, "CE loss"), Compare.Identity(ce.Grad, bce.Grad, "CE grad"),
                Compare.Identity(focal.Loss, fl.Loss, "focal loss"), Compare.Identity(focal.Grad, fl.Grad, "focal grad"));
            return (mismatch is null).Label($"reduction {reduction}: {mismatch}: {c}").Classified(c);
        });

    [LossProperty(MaxTest = Many)]
    public Property softmax_poly1_with_epsilon_zero_equals_its_base_in_value_and_gradient() =>
        Prop.ForAll(Generators.MultiClassArb, Reductions, (m, reduction) =>
        {
            var ce = MultiEval.WithGrad(SoftmaxCe(0, reduction), m);
            var torchCe = MultiEval.WithGrad((x, t, _) => F.cross_entropy(x, t, reduction: reduction), m);
            var focal = MultiEval.WithGrad(SoftmaxFocal(m, 0, reduction), m);
            var fl = MultiEval.WithGrad((x, t, alpha) => Functional.softmax_focal_loss(x, t, alpha, m.Gamma, reduction: reduction), m);
            var mismatch = Compare.First(
                Compare.Identity(ce.Loss, torchCe.Loss, "CE loss"), Compare.Identity(ce.Grad, torchCe.Grad, "CE grad"),
                Compare.Identity(focal.Loss, fl.Loss, "focal loss"), Compare.Identity(focal.Grad, fl.Grad, "focal grad"));
            return (mismatch is null).Label($"reduction {reduction}: {mismatch}: {m}");
        });

    [LossProperty(MaxTest = Many)]
    public Property binary_poly1_minus_its_base_is_epsilon_times_one_minus_p_t_to_the_gamma_plus_one() =>
        Prop.ForAll(Generators.BinaryArb, Epsilons, (c, epsilon) =>
        {
            // 1 - p_t = sigmoid(-z), z the logit signed towards the target: exact in double. Alpha must not weight it.
            var poly = Eval.Values(BinaryFocal(c, epsilon), c.Logits, c.Targets);
            var focal = Eval.Values((x, t) => Functional.sigmoid_focal_loss(x, t, c.Alpha, c.Gamma, reduction: Reduction.None), c.Logits, c.Targets);
            var polyCe = Eval.Values(BinaryCe(epsilon), c.Logits, c.Targets);
            var ce = c.Logits.Select((x, i) => Eval.Softplus(c.Targets[i] == 1 ? -x : x)).ToArray();
            var oneMinusPt = c.Logits.Select((x, i) => Eval.Sigmoid(c.Targets[i] == 1 ? -x : x)).ToArray();
            var expectedFocal = focal.Select((f, i) => f + epsilon * Math.Pow(oneMinusPt[i], c.Gamma + 1)).ToArray();
            var expectedCe = ce.Select((v, i) => v + epsilon * oneMinusPt[i]).ToArray();
            var mismatch = Compare.First(Compare.Identity(poly, expectedFocal, "focal"), Compare.Identity(polyCe, expectedCe, "CE"));
            return (mismatch is null).Label($"epsilon {epsilon}: {mismatch}: {c}").Classified(c);
        });

    [LossProperty(MaxTest = Many)]
    public Property softmax_poly1_minus_its_base_is_epsilon_times_one_minus_p_t_to_the_gamma_plus_one() =>
        Prop.ForAll(Generators.MultiClassArb, Epsilons, (m, epsilon) =>
        {
            var poly = MultiEval.Values(SoftmaxFocal(m, epsilon), m);
            var polyCe = MultiEval.Values(SoftmaxCe(epsilon), m);
            var expectedFocal = new double[m.Rows];
            var expectedCe = new double[m.Rows];
            for (var r = 0; r < m.Rows; r++)
            {
                var t = (int)m.Targets[r];
                var log_p_t = MultiEval.LogSoftmax(m, r)[t];
                var one_minus_p_t = MultiEval.OneMinusP(m, r)[t];
                expectedFocal[r] = -MultiEval.AlphaOf(m, t) * Math.Pow(one_minus_p_t, m.Gamma) * log_p_t + epsilon * Math.Pow(one_minus_p_t, m.Gamma + 1);
                expectedCe[r] = -log_p_t + epsilon * one_minus_p_t;
            }
            var mismatch = Compare.First(Compare.Identity(poly, expectedFocal, "focal"), Compare.Identity(polyCe, expectedCe, "CE"));
            return (mismatch is null).Label($"epsilon {epsilon}: {mismatch}: {m}");
        });

    [LossProperty(MaxTest = ManyLong)]
    public Property binary_poly1_gradient_equals_central_finite_differences_in_float64() =>
        Prop.ForAll(Generators.BinaryModerateLongArb, Epsilons, (c, epsilon) =>
        {
            string? Check(Eval.BinaryLoss loss) =>
                FiniteDifferences.Mismatch(x => Eval.Values(loss, x, c.Targets).Single(), c.Logits, Eval.WithGrad(loss, c.Logits, c.Targets).Grad);
            var mismatch = Compare.First(Check(BinaryCe(epsilon, Reduction.Sum)), Check(BinaryFocal(c, epsilon, Reduction.Sum)));
            return (mismatch is null).Label($"epsilon {epsilon}: {mismatch}: {c}").Classified(c);
        });

    [LossProperty(MaxTest = 30)]
    public Property softmax_poly1_gradient_equals_central_finite_differences_in_float64() =>
        Prop.ForAll(Generators.MultiClassLongArb, Epsilons, (m, epsilon) =>
        {
            string? Check(MultiEval.MultiLoss loss) =>
                FiniteDifferences.Mismatch(x => MultiEval.Values(loss, m, x).Single(), m.Logits, MultiEval.WithGrad(loss, m).Grad);
            var mismatch = Compare.First(Check(SoftmaxCe(epsilon, Reduction.Sum)), Check(SoftmaxFocal(m, epsilon, Reduction.Sum)));
            return (mismatch is null).Label($"epsilon {epsilon}: {mismatch}: {m}");
        });

    [LossProperty(MaxTest = Many)]
    public Property poly1_loss_and_gradient_are_finite_for_logits_up_to_plus_minus_100_in_float32_and_float64() =>
        Prop.ForAll(Generators.BinaryArb, Generators.MultiClassArb, Gen.Elements(ScalarType.Float32, ScalarType.Float64).ToArbitrary(), (c, m, dtype) =>
        {
            var extreme = c.Logits.Select(x => Math.Clamp(x * 4, -100, 100)).ToArray();
            var multi = MultiEval.Scaled(m, 10);
            var results = new[]
            {
                Eval.WithGrad(BinaryCe(1), extreme, c.Targets, dtype),
                Eval.WithGrad(BinaryFocal(c, 1), extreme, c.Targets, dtype),
                MultiEval.WithGrad(SoftmaxCe(1), m, multi, dtype),
                MultiEval.WithGrad(SoftmaxFocal(m, 1), m, multi, dtype),
            };
            var ok = results.All(r => r.Loss.Concat(r.Grad).All(double.IsFinite));
            return ok.Label($"dtype {dtype}: {c}; {m} scaled by 10").Classified(c);
        });

    [Fact]
    public void alpha_weights_the_focal_term_only_as_in_the_papers_code()
    {
        // One positive at logit 0: p_t = 1/2, CE = log 2. Poly1 = alpha (1/2)^gamma log 2 + epsilon (1/2)^(gamma + 1).
        using var scope = NewDisposeScope();
        var loss = Functional.poly1_focal_loss(tensor(new[] { 0.0 }), tensor(new[] { 1.0 }), alpha: 0.25, gamma: 2, epsilon: 2, reduction: Reduction.Sum).item<double>();
        Assert.Equal(0.25 * 0.25 * Math.Log(2) + 2 * 0.125, loss, 15);
    }
}
