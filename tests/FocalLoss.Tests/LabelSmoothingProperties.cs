using FsCheck;
using FsCheck.Fluent;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;

namespace FocalLoss.Tests;

/// <summary>
/// Label smoothing: binary losses are the same function on the targets t (1 - eps) + eps / 2; softmax losses sum
/// their per-class terms over q = (1 - eps) onehot + eps / C (PyTorch's label_smoothing for the cross-entropy).
/// eps = 0 is the unchanged path, pinned by the golden tests.
/// </summary>
public abstract class LabelSmoothingProperties(FocalKernel kernel) : OnKernel(kernel)
{
    private const int Many = 150;

    private static readonly Arbitrary<double> Smoothings = FamilyGenerators.Arb(FamilyGenerators.LabelSmoothing);

    /// <summary>Every binary loss with a label-smoothing parameter, by name, at the case's alpha and gamma.</summary>
    private static IEnumerable<(string Name, Func<Tensor, Tensor, double, Tensor> Loss)> BinaryLosses(BinaryCase c) =>
    [
        ("sigmoid_focal_loss", (x, t, eps) => Functional.sigmoid_focal_loss(x, t, c.Alpha, c.Gamma, eps, Reduction.None)),
        ("binary_cross_entropy_with_logits", (x, t, eps) => Functional.binary_cross_entropy_with_logits(x, t, eps, Reduction.None)),
        ("balanced_binary_cross_entropy_with_logits", (x, t, eps) => Functional.balanced_binary_cross_entropy_with_logits(x, t, c.Alpha ?? 0.25, eps, Reduction.None)),
        ("poly1_cross_entropy", (x, t, eps) => Functional.poly1_cross_entropy(x, t, 1.5, eps, Reduction.None)),
        ("poly1_focal_loss", (x, t, eps) => Functional.poly1_focal_loss(x, t, c.Alpha, c.Gamma, 0.7, eps, Reduction.None)),
    ];

    private static IEnumerable<(string Name, MultiEval.MultiLoss Loss)> SoftmaxLosses(MultiClassCase m, double eps) =>
    [
        ("softmax_focal_loss", (x, t, alpha) => Functional.softmax_focal_loss(x, t, alpha, m.Gamma, labelSmoothing: eps, reduction: Reduction.Sum)),
        ("softmax_cross_entropy", (x, t, alpha) => Functional.softmax_cross_entropy(x, t, alpha, labelSmoothing: eps, reduction: Reduction.Sum)),
        ("softmax_poly1_cross_entropy", (x, t, _) => Functional.softmax_poly1_cross_entropy(x, t, 1.5, labelSmoothing: eps, reduction: Reduction.Sum)),
        ("softmax_poly1_focal_loss", (x, t, alpha) => Functional.softmax_poly1_focal_loss(x, t, alpha, m.Gamma, 0.7, labelSmoothing: eps, reduction: Reduction.Sum)),
    ];

    /// <summary>q_k of one row: (1 - eps) onehot(t) + eps / C.</summary>
    private static double Q(MultiClassCase m, int row, int k, double eps) => (k == m.Targets[row] ? 1 - eps : 0) + eps / m.Classes;

    [LossProperty(MaxTest = Many)]
    public Property binary_losses_with_label_smoothing_equal_the_same_loss_on_smoothed_targets_in_value_and_gradient() =>
        Prop.ForAll(Generators.BinaryArb, Smoothings, (c, eps) =>
        {
            var smoothed = c.Targets.Select(t => t * (1 - eps) + eps / 2).ToArray();
            var failures = new List<string>();
            foreach (var (name, loss) in BinaryLosses(c))
            {
                var withEps = Eval.WithGrad((x, t) => loss(x, t, eps), c.Logits, c.Targets);
                var onSmoothed = Eval.WithGrad((x, t) => loss(x, t, 0), c.Logits, smoothed);
                if (Compare.First(Compare.Identity(withEps.Loss, onSmoothed.Loss, "loss"), Compare.Identity(withEps.Grad, onSmoothed.Grad, "grad")) is { } m)
                    failures.Add($"{name}: {m}");
            }
            return (failures.Count == 0).Label($"eps {eps}: {string.Join("; ", failures)}: {c}").Classified(c);
        });

    [LossProperty(MaxTest = Many)]
    public Property softmax_cross_entropy_with_label_smoothing_equals_torch_label_smoothing_and_minus_sum_of_q_log_p() =>
        Prop.ForAll(Generators.MultiClassArb, Smoothings, (m, eps) =>
        {
            var ours = MultiEval.Values((x, t, _) => Functional.softmax_cross_entropy(x, t, labelSmoothing: eps, reduction: Reduction.None), m);
            var torchCe = MultiEval.Values((x, t, _) => F.cross_entropy(x, t, reduction: Reduction.None, label_smoothing: eps), m);
            var byHand = Enumerable.Range(0, m.Rows).Select(r =>
            {
                var log_p = MultiEval.LogSoftmax(m, r);
                return -Enumerable.Range(0, m.Classes).Sum(k => Q(m, r, k, eps) * log_p[k]);
            }).ToArray();
            var mismatch = Compare.First(Compare.Identity(ours, torchCe, "against torch"), Compare.Identity(ours, byHand, "against -sum q log p"));
            return (mismatch is null).Label($"eps {eps}: {mismatch}: {m}");
        });

    [LossProperty(MaxTest = Many)]
    public Property softmax_focal_with_gamma_zero_and_label_smoothing_equals_torch_cross_entropy_summed_with_alpha_as_weight_and_averaged_without() =>
        Prop.ForAll(Generators.MultiClassArb, Smoothings, (m, eps) =>
        {
            using var scope = NewDisposeScope();
            var x = tensor(m.Logits).reshape(m.Rows, m.Classes);
            var t = tensor(m.Targets);
            var alpha = m.Alpha is null ? null : tensor(m.Alpha);
            var focalSum = Functional.softmax_focal_loss(x, t, alpha, 0.0, labelSmoothing: eps, reduction: Reduction.Sum).item<double>();
            var ceSum = F.cross_entropy(x, t, alpha, reduction: Reduction.Sum, label_smoothing: eps).item<double>();
            var focalMean = Functional.softmax_focal_loss(x, t, null, 0.0, labelSmoothing: eps).item<double>();
            var ceMean = F.cross_entropy(x, t, label_smoothing: eps).item<double>();
            return (Tol.Close(focalSum, ceSum, Tol.IdentityRel64, Tol.IdentityAbs64) && Tol.Close(focalMean, ceMean, Tol.IdentityRel64, Tol.IdentityAbs64))
                .Label($"eps {eps}: sum focal {focalSum:R} ce {ceSum:R}; mean focal {focalMean:R} ce {ceMean:R}; {m}");
        });

    [LossProperty(MaxTest = Many)]
    public Property label_smoothed_softmax_losses_sum_their_per_class_terms_over_q() =>
        Prop.ForAll(Generators.MultiClassArb, Smoothings, FamilyGenerators.Arb(FamilyGenerators.Epsilon), (m, eps, epsilon) =>
        {
            var focal = MultiEval.Values((x, t, alpha) => Functional.softmax_focal_loss(x, t, alpha, m.Gamma, labelSmoothing: eps, reduction: Reduction.None), m);
            var polyFocal = MultiEval.Values((x, t, alpha) => Functional.softmax_poly1_focal_loss(x, t, alpha, m.Gamma, epsilon, labelSmoothing: eps, reduction: Reduction.None), m);
            var polyCe = MultiEval.Values((x, t, _) => Functional.softmax_poly1_cross_entropy(x, t, epsilon, labelSmoothing: eps, reduction: Reduction.None), m);
            var (expectedFocal, expectedPolyFocal, expectedPolyCe) = (new double[m.Rows], new double[m.Rows], new double[m.Rows]);
            for (var r = 0; r < m.Rows; r++)
            {
                var log_p = MultiEval.LogSoftmax(m, r);
                var one_minus_p = MultiEval.OneMinusP(m, r);
                double SumOverQ(Func<int, double> term) => Enumerable.Range(0, m.Classes).Sum(k => Q(m, r, k, eps) * term(k));
                expectedFocal[r] = SumOverQ(k => -MultiEval.AlphaOf(m, k) * Math.Pow(one_minus_p[k], m.Gamma) * log_p[k]);
                expectedPolyFocal[r] = expectedFocal[r] + epsilon * SumOverQ(k => Math.Pow(one_minus_p[k], m.Gamma + 1));
                expectedPolyCe[r] = SumOverQ(k => -log_p[k]) + epsilon * SumOverQ(k => one_minus_p[k]);
            }
            var mismatch = Compare.First(
                Compare.Identity(focal, expectedFocal, "softmax focal"),
                Compare.Identity(polyFocal, expectedPolyFocal, "softmax poly-1 focal"),
                Compare.Identity(polyCe, expectedPolyCe, "softmax poly-1 CE"));
            return (mismatch is null).Label($"eps {eps} epsilon {epsilon}: {mismatch}: {m}");
        });

    [LossProperty(MaxTest = 20)]
    public Property label_smoothed_binary_gradients_equal_central_finite_differences_in_float64() =>
        Prop.ForAll(Generators.BinaryModerateLongArb, Smoothings, (c, eps) =>
        {
            var failures = BinaryLosses(c)
                .Select(l => (l.Name, Loss: (Eval.BinaryLoss)((x, t) => l.Loss(x, t, eps).sum())))
                .Select(l => (l.Name, Mismatch: FiniteDifferences.Mismatch(x => Eval.Values(l.Loss, x, c.Targets).Single(), c.Logits, Eval.WithGrad(l.Loss, c.Logits, c.Targets).Grad)))
                .Where(f => f.Mismatch is not null).Select(f => $"{f.Name}: {f.Mismatch}").ToList();
            return (failures.Count == 0).Label($"eps {eps}: {string.Join("; ", failures)}: {c}").Classified(c);
        });

    [LossProperty(MaxTest = 30)]
    public Property label_smoothed_softmax_gradients_equal_central_finite_differences_in_float64() =>
        Prop.ForAll(Generators.MultiClassLongArb, Smoothings, (m, eps) =>
        {
            var failures = SoftmaxLosses(m, eps)
                .Select(l => (l.Name, Mismatch: FiniteDifferences.Mismatch(x => MultiEval.Values(l.Loss, m, x).Single(), m.Logits, MultiEval.WithGrad(l.Loss, m).Grad)))
                .Where(f => f.Mismatch is not null).Select(f => $"{f.Name}: {f.Mismatch}").ToList();
            return (failures.Count == 0).Label($"eps {eps}: {string.Join("; ", failures)}: {m}");
        });

    [LossProperty(MaxTest = Many)]
    public Property label_smoothed_losses_are_finite_for_logits_up_to_plus_minus_100_in_float32_and_float64() =>
        Prop.ForAll(Generators.BinaryArb, Generators.MultiClassArb, Smoothings, (c, m, eps) =>
        {
            var failures = new List<string>();
            foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64 })
            {
                var extreme = c.Logits.Select(x => Math.Clamp(x * 4, -100, 100)).ToArray();
                foreach (var (name, loss) in BinaryLosses(c))
                {
                    var (l, g) = Eval.WithGrad((x, t) => loss(x, t, eps), extreme, c.Targets, dtype);
                    if (!l.Concat(g).All(double.IsFinite)) failures.Add($"{name} {dtype}");
                }
                foreach (var (name, loss) in SoftmaxLosses(m, eps))
                {
                    var (l, g) = MultiEval.WithGrad(loss, m, MultiEval.Scaled(m, 10), dtype);
                    if (!l.Concat(g).All(double.IsFinite)) failures.Add($"{name} {dtype}");
                }
            }
            return (failures.Count == 0).Label($"eps {eps}: not finite: {string.Join(", ", failures)}: {c}; {m} scaled by 10").Classified(c);
        });

    [Fact]
    public void label_smoothing_zero_is_the_default_and_changes_nothing()
    {
        using var scope = NewDisposeScope();
        var x = tensor(new[] { 1.2, -0.4, 3.0, -2.0 });
        var t = tensor(new[] { 1.0, 0.0, 1.0, 0.0 });
        Assert.True(TensorAssert.Same(Functional.sigmoid_focal_loss(x, t), Functional.sigmoid_focal_loss(x, t, labelSmoothing: 0)));
        Assert.False(TensorAssert.Same(Functional.sigmoid_focal_loss(x, t), Functional.sigmoid_focal_loss(x, t, labelSmoothing: 0.1)));
        var logits = x.reshape(2, 2);
        var classes = tensor(new long[] { 0, 1 });
        Assert.True(TensorAssert.Same(Functional.softmax_focal_loss(logits, classes), Functional.softmax_focal_loss(logits, classes, labelSmoothing: 0)));
        Assert.False(TensorAssert.Same(Functional.softmax_focal_loss(logits, classes), Functional.softmax_focal_loss(logits, classes, labelSmoothing: 0.1)));
    }
}

/// <summary>LabelSmoothingProperties on the composite of libtorch operations.</summary>
public sealed class LabelSmoothingPropertiesComposite() : LabelSmoothingProperties(FocalKernel.Composite);

/// <summary>LabelSmoothingProperties on the fused CPU kernel (forced: a case it cannot serve fails).</summary>
public sealed class LabelSmoothingPropertiesFused() : LabelSmoothingProperties(FocalKernel.Fused);
