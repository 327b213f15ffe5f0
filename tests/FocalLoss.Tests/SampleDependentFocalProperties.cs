using FsCheck;
using FsCheck.Fluent;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FocalLoss.Tests;

/// <summary>Laws of the focal loss with sample-dependent gamma (FLSD, Mukhoti et al. 2020) and of its schedule.</summary>
public class SampleDependentFocalProperties
{
    private const int Many = 150;

    private static readonly Arbitrary<GammaSchedule> Schedules = FamilyGenerators.Arb(FamilyGenerators.Schedule);
    private static readonly Arbitrary<Reduction> Reductions = Gen.Elements(Reduction.None, Reduction.Mean, Reduction.Sum).ToArbitrary();

    private static Eval.BinaryLoss Binary(GammaSchedule schedule, double? alpha, Reduction reduction = Reduction.None) =>
        (x, t) => Functional.sigmoid_focal_loss_sample_dependent(x, t, schedule, alpha, reduction);

    private static MultiEval.MultiLoss Softmax(GammaSchedule schedule, Reduction reduction = Reduction.None) =>
        (x, t, alpha) => Functional.softmax_focal_loss_sample_dependent(x, t, schedule, alpha, reduction: reduction);

    /// <summary>Whether some p_t lies within <paramref name="margin"/> of a threshold (where the loss jumps).</summary>
    private static bool NearThreshold(GammaSchedule schedule, IEnumerable<double> p_t, double margin) =>
        p_t.Any(p => schedule.Thresholds.Any(th => Math.Abs(p - th) < margin));

    private static double[] BinaryPt(BinaryCase c) => c.Logits.Select((x, i) => Eval.Sigmoid(c.Targets[i] == 1 ? x : -x)).ToArray();

    private static double[] SoftmaxPt(MultiClassCase m) => Enumerable.Range(0, m.Rows).Select(r => Math.Exp(MultiEval.LogSoftmax(m, r)[m.Targets[r]])).ToArray();

    [LossProperty(MaxTest = Many)]
    public Property a_constant_schedule_equals_sigmoid_focal_loss_in_value_and_gradient() =>
        Prop.ForAll(Generators.BinaryArb, Reductions, (c, reduction) =>
        {
            var flsd = Eval.WithGrad(Binary(GammaSchedule.Constant(c.Gamma), c.Alpha, reduction), c.Logits, c.Targets);
            var focal = Eval.WithGrad((x, t) => Functional.sigmoid_focal_loss(x, t, c.Alpha, c.Gamma, reduction: reduction), c.Logits, c.Targets);
            var mismatch = Compare.First(Compare.Identity(flsd.Loss, focal.Loss, "loss"), Compare.Identity(flsd.Grad, focal.Grad, "grad"));
            return (mismatch is null).Label($"reduction {reduction}: {mismatch}: {c}").Classified(c);
        });

    [LossProperty(MaxTest = Many)]
    public Property a_constant_schedule_equals_softmax_focal_loss_in_value_and_gradient() =>
        Prop.ForAll(Generators.MultiClassArb, Reductions, (m, reduction) =>
        {
            var flsd = MultiEval.WithGrad(Softmax(GammaSchedule.Constant(m.Gamma), reduction), m);
            var focal = MultiEval.WithGrad((x, t, alpha) => Functional.softmax_focal_loss(x, t, alpha, m.Gamma, reduction: reduction), m);
            var mismatch = Compare.First(Compare.Identity(flsd.Loss, focal.Loss, "loss"), Compare.Identity(flsd.Grad, focal.Grad, "grad"));
            return (mismatch is null).Label($"reduction {reduction}: {mismatch}: {m}");
        });

    [LossProperty(MaxTest = Many)]
    public Property each_binary_element_gets_the_focal_loss_of_the_gamma_its_p_t_selects() =>
        Prop.ForAll(Generators.BinaryArb, Schedules, (c, schedule) =>
        {
            var loss = Eval.Values(Binary(schedule, c.Alpha), c.Logits, c.Targets);
            var p_t = BinaryPt(c);
            var expected = c.Logits.Select((x, i) =>
            {
                var z = c.Targets[i] == 1 ? x : -x;
                return c.AlphaT(i) * Math.Pow(Eval.Sigmoid(-z), schedule.GammaFor(p_t[i])) * Eval.Softplus(-z);
            }).ToArray();
            var mismatch = Compare.Identity(loss, expected, "loss");
            return (mismatch is null).Label($"schedule {schedule}: {mismatch}: {c}").Classified(c);
        });

    [LossProperty(MaxTest = Many)]
    public Property each_softmax_row_gets_the_focal_loss_of_the_gamma_its_p_t_selects() =>
        Prop.ForAll(Generators.MultiClassArb, Schedules, (m, schedule) =>
        {
            var loss = MultiEval.Values(Softmax(schedule), m);
            var p_t = SoftmaxPt(m);
            var expected = Enumerable.Range(0, m.Rows).Select(r =>
            {
                var t = (int)m.Targets[r];
                return -MultiEval.AlphaOf(m, t) * Math.Pow(MultiEval.OneMinusP(m, r)[t], schedule.GammaFor(p_t[r])) * MultiEval.LogSoftmax(m, r)[t];
            }).ToArray();
            // A p_t within rounding of a threshold may fall on either side in the two computations.
            if (NearThreshold(schedule, p_t, 1e-12)) return true.Label("p_t on a threshold").Classify(true, "skipped: p_t on a threshold");
            var mismatch = Compare.Identity(loss, expected, "loss");
            return (mismatch is null).Label($"schedule {schedule}: {mismatch}: {m}");
        });

    [LossProperty(MaxTest = 60)]
    public Property flsd_gradient_equals_central_finite_differences_in_float64() =>
        Prop.ForAll(Generators.BinaryModerateLongArb, Generators.MultiClassLongArb, Schedules, (c, m, schedule) =>
        {
            // The loss jumps where p_t crosses a threshold: finite differences hold away from the thresholds
            // (a step of 1e-6 in a logit moves p_t by at most 2.5e-7).
            var near = NearThreshold(schedule, BinaryPt(c), 1e-5) || NearThreshold(schedule, SoftmaxPt(m), 1e-5);
            if (near) return true.Label("near a threshold").Classify(true, "skipped: p_t near a threshold");
            Eval.BinaryLoss binary = Binary(schedule, c.Alpha, Reduction.Sum);
            var binaryMismatch = FiniteDifferences.Mismatch(x => Eval.Values(binary, x, c.Targets).Single(), c.Logits, Eval.WithGrad(binary, c.Logits, c.Targets).Grad);
            var softmax = Softmax(schedule, Reduction.Sum);
            var softmaxMismatch = FiniteDifferences.Mismatch(x => MultiEval.Values(softmax, m, x).Single(), m.Logits, MultiEval.WithGrad(softmax, m).Grad);
            var mismatch = Compare.First(binaryMismatch is null ? null : "binary " + binaryMismatch, softmaxMismatch is null ? null : "softmax " + softmaxMismatch);
            return (mismatch is null).Label($"schedule {schedule}: {mismatch}: {c}; {m}");
        });

    [LossProperty(MaxTest = Many)]
    public Property flsd_loss_and_gradient_are_finite_for_logits_up_to_plus_minus_100_in_float32_and_float64() =>
        Prop.ForAll(Generators.BinaryArb, Generators.MultiClassArb, Schedules, (c, m, schedule) =>
        {
            var ok = true;
            foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64 })
            {
                var binary = Eval.WithGrad(Binary(schedule, c.Alpha), c.Logits.Select(x => Math.Clamp(x * 4, -100, 100)).ToArray(), c.Targets, dtype);
                var softmax = MultiEval.WithGrad(Softmax(schedule), m, MultiEval.Scaled(m, 10), dtype);
                ok &= binary.Loss.Concat(binary.Grad).Concat(softmax.Loss).Concat(softmax.Grad).All(double.IsFinite);
            }
            return ok.Label($"schedule {schedule}: {c}; {m} scaled by 10").Classified(c);
        });

    [Fact]
    public void flsd_53_uses_gamma_5_below_p_t_0_2_and_gamma_3_from_there()
    {
        Assert.Equal(5.0, GammaSchedule.Flsd53.GammaFor(0.1999));
        Assert.Equal(3.0, GammaSchedule.Flsd53.GammaFor(0.2));
        Assert.Equal(3.0, GammaSchedule.Flsd53.GammaFor(0.9));
        Assert.Equal("p_t < 0.2: 5, else 3", GammaSchedule.Flsd53.ToString());
        // The default (null) schedule is FLSD-53: logit -2 gives p_t = 0.119 (gamma 5), logit 1 gives 0.731 (gamma 3).
        using var scope = NewDisposeScope();
        var x = tensor(new[] { -2.0, 1.0 });
        var t = tensor(new[] { 1.0, 1.0 });
        var flsd = Eval.ToArray(Functional.sigmoid_focal_loss_sample_dependent(x, t, reduction: Reduction.None));
        Assert.Equal(Math.Pow(Eval.Sigmoid(2), 5) * Eval.Softplus(2), flsd[0], 14);
        Assert.Equal(Math.Pow(Eval.Sigmoid(-1), 3) * Eval.Softplus(-1), flsd[1], 14);
    }

    [Fact]
    public void a_tensor_of_p_t_gets_the_gamma_of_the_smallest_threshold_above_it()
    {
        var schedule = new GammaSchedule([0.2, 0.5], [5.0, 3.0], 1.0);
        using var scope = NewDisposeScope();
        var p_t = tensor(new[] { 0.0, 0.19, 0.2, 0.49, 0.5, 1.0 });
        Assert.Equal([5.0, 5.0, 3.0, 3.0, 1.0, 1.0], Eval.ToArray(schedule.GammaFor(p_t)));
        Assert.Equal([5.0, 5.0, 3.0, 3.0, 1.0, 1.0], new[] { 0.0, 0.19, 0.2, 0.49, 0.5, 1.0 }.Select(schedule.GammaFor));
    }

    [Fact]
    public void the_gamma_choice_carries_no_gradient()
    {
        // A schedule whose gamma depends on p_t: the gradient equals that of the focal loss at the chosen gamma,
        // with no term from d gamma / d p_t.
        using var scope = NewDisposeScope();
        var schedule = new GammaSchedule([0.5], [4.0], 1.0);
        var x = tensor(new[] { -0.7, 0.3, 2.0 }).requires_grad_(true);
        var t = tensor(new[] { 1.0, 1.0, 0.0 });
        Functional.sigmoid_focal_loss_sample_dependent(x, t, schedule, null, Reduction.Sum).backward();
        var expected = new double[3];
        foreach (var (i, gamma) in new[] { (0, 4.0), (1, 1.0), (2, 4.0) })
        {
            var xi = tensor(new[] { x[i].item<double>() }).requires_grad_(true);
            Functional.sigmoid_focal_loss(xi, t[i].reshape(1), null, gamma, reduction: Reduction.Sum).backward();
            expected[i] = xi.grad!.item<double>();
        }
        Assert.Equal(expected, Eval.ToArray(x.grad!), (a, b) => Tol.Close(a, b, Tol.IdentityRel64, Tol.IdentityAbs64));
    }
}
