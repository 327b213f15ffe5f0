using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FocalLoss.Tests;

/// <summary>One test per guard: each error names the parameter, the expectation and what arrived.</summary>
public abstract class GuardTests(FocalKernel kernel) : OnKernel(kernel)
{
    private static readonly Tensor X = tensor(new[] { 0.5f, -1f, 2f, 0f });
    private static readonly Tensor T = tensor(new[] { 1f, 0f, 1f, 0f });
    private static readonly Tensor P = tensor(new[] { 0.5f, 0.1f, 0.9f, 0.3f });
    private static readonly Tensor Logits3 = tensor(new[] { 0.5f, -1f, 2f, 0f, 1f, 1f }).reshape(2, 3);
    private static readonly Tensor Classes = tensor(new long[] { 2, 0 });

    private static void Fails(Action call, string parameter, params string[] fragments)
    {
        var e = Assert.Throws<ArgumentException>(call);
        Assert.Equal(parameter, e.ParamName);
        foreach (var fragment in fragments)
            Assert.Contains(fragment, e.Message);
    }

    [Fact]
    public void targets_shape_must_equal_inputs_shape() =>
        Fails(() => Functional.sigmoid_focal_loss(X, T.reshape(4, 1)), "targets", "targets shape [4, 1] must equal inputs shape [4]");

    [Fact]
    public void probability_targets_shape_must_equal_probabilities_shape() =>
        Fails(() => Functional.focal_loss_from_probabilities(P, T.reshape(2, 2)), "targets", "targets shape [2, 2] must equal probabilities shape [4]");

    [Fact]
    public void targets_dtype_must_equal_inputs_dtype() =>
        Fails(() => Functional.sigmoid_focal_loss(X, T.to_type(ScalarType.Float64)), "targets", "dtype must equal inputs dtype Float32", "got Float64");

    [Theory]
    [InlineData(-1.0, "-1")]
    [InlineData(double.NaN, "NaN")]
    [InlineData(double.PositiveInfinity, "Infinity")]
    public void gamma_must_be_finite_and_non_negative(double gamma, string shown) =>
        Fails(() => Functional.sigmoid_focal_loss(X, T, gamma: gamma), "gamma", $"gamma must be finite and >= 0, got {shown}");

    [Theory]
    [InlineData(-0.1)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void alpha_must_lie_in_the_unit_interval(double alpha) =>
        Fails(() => Functional.sigmoid_focal_loss(X, T, alpha: alpha), "alpha", "alpha must be in [0, 1] or null");

    [Fact]
    public void targets_must_lie_in_the_unit_interval() =>
        Fails(() => Functional.sigmoid_focal_loss(X, tensor(new[] { 1f, 2f, 0f, -0.5f })), "targets", "targets must lie in [0, 1], got values in [-0.5, 2]");

    [Fact]
    public void nan_targets_are_rejected() =>
        Fails(() => Functional.sigmoid_focal_loss(X, tensor(new[] { 1f, float.NaN, 0f, 0f })), "targets", "targets must lie in [0, 1]");

    [Fact]
    public void probabilities_must_lie_in_the_unit_interval() =>
        Fails(() => Functional.focal_loss_from_probabilities(tensor(new[] { 0.5f, 1.2f, 0.1f, 0f }), T), "probabilities", "probabilities must lie in [0, 1], got values in [0, 1.2");

    [Fact]
    public void integer_inputs_are_rejected() =>
        Fails(() => Functional.sigmoid_focal_loss(tensor(new long[] { 1, 0, 1, 0 }), T), "inputs", "floating-point dtype", "got Int64");

    [Fact]
    public void integer_probabilities_are_rejected() =>
        Fails(() => Functional.focal_loss_from_probabilities(tensor(new long[] { 1, 0, 1, 0 }), T), "probabilities", "floating-point dtype", "got Int64");

    [Fact]
    public void unknown_reduction_is_rejected() =>
        Fails(() => Functional.sigmoid_focal_loss(X, T, reduction: (Reduction)7), "reduction", "reduction must be None, Mean or Sum, got 7");

    [Fact]
    public void multi_class_targets_must_be_class_indices_in_range() =>
        Fails(() => Functional.softmax_focal_loss(Logits3, tensor(new long[] { 3, 0 })), "targets", "class indices in [0, 2] or ignoreIndex -100, got 3");

    [Fact]
    public void multi_class_targets_must_be_int64() =>
        Fails(() => Functional.softmax_focal_loss(Logits3, tensor(new[] { 1f, 0f })), "targets", "dtype Int64, got Float32");

    [Fact]
    public void multi_class_targets_shape_must_match_inputs_without_class_dim() =>
        Fails(() => Functional.softmax_focal_loss(Logits3, tensor(new long[] { 1, 0, 2 })), "targets", "targets shape [3] must equal inputs shape without the class dim [2]");

    [Fact]
    public void multi_class_inputs_need_a_class_dimension() =>
        Fails(() => Functional.softmax_focal_loss(X, Classes), "inputs", "must be [N, C] or [N, C, d1, ...], got shape [4]");

    [Fact]
    public void multi_class_inputs_need_two_classes() =>
        Fails(() => Functional.softmax_focal_loss(X.reshape(4, 1), tensor(new long[] { 0, 0, 0, 0 })), "inputs", "at least 2 classes");

    [Fact]
    public void alpha_vector_must_have_one_weight_per_class() =>
        Fails(() => Functional.softmax_focal_loss(Logits3, Classes, alpha: tensor(new[] { 0.5f, 0.5f })), "alpha", "length C = 3, got shape [2]");

    [Fact]
    public void alpha_vector_must_be_finite_and_non_negative() =>
        Fails(() => Functional.softmax_focal_loss(Logits3, Classes, alpha: tensor(new[] { 0.5f, -1f, 0.2f })), "alpha", "finite and >= 0", "-1");

    [Fact]
    public void softmax_gamma_is_checked_too() =>
        Fails(() => Functional.softmax_focal_loss(Logits3, Classes, gamma: -2), "gamma", "got -2");

    [Fact]
    public void cross_entropy_weight_is_checked_like_alpha() =>
        Fails(() => Functional.softmax_cross_entropy(Logits3, Classes, weight: tensor(new[] { 1f })), "weight", "length C = 3");

    [Fact]
    public void module_constructors_validate_hyper_parameters()
    {
        Fails(() => Losses.SigmoidFocalLoss(gamma: -1), "gamma", "got -1");
        Fails(() => Losses.BalancedBinaryCrossEntropyWithLogitsLoss(alpha: 2), "alpha", "got 2");
        Fails(() => Losses.BinaryCrossEntropyWithLogitsLoss(reduction: (Reduction)9), "reduction", "got 9");
    }

    [Fact]
    public void value_checks_are_off_only_inside_the_scope_and_only_on_the_thread_that_opened_it()
    {
        var bad = tensor(new[] { 1f, 2f, 0f, 0f });
        using var insideReady = new ManualResetEventSlim();
        using var outsideDone = new ManualResetEventSlim();
        Exception? seenOnOtherThread = null;
        var other = new Thread(() =>
        {
            insideReady.Wait();
            try { Functional.sigmoid_focal_loss(X, bad); }
            catch (Exception e) { seenOnOtherThread = e; }
            outsideDone.Set();
        });
        other.Start();
        using (Guard.WithoutValueChecks())
        {
            Assert.False(Guard.CheckTensorValues);
            insideReady.Set();
            Assert.True(outsideDone.Wait(TimeSpan.FromSeconds(30)), "the other thread finished");
            // Inside the scope a target of 2 is not checked: the soft-target formula runs on it.
            Assert.True(float.IsFinite(Functional.sigmoid_focal_loss(X, bad).item<float>()));
            Fails(() => Functional.sigmoid_focal_loss(X, T.reshape(2, 2)), "targets", "shape"); // shape checks still run
        }
        other.Join();
        Assert.IsType<ArgumentException>(seenOnOtherThread);       // another thread kept its checks meanwhile
        Assert.True(Guard.CheckTensorValues);
        Fails(() => Functional.sigmoid_focal_loss(X, bad), "targets", "targets must lie in [0, 1], got values in [0, 2]");
    }

    [Fact]
    public void value_check_scopes_nest_and_may_be_disposed_in_any_order()
    {
        var outer = Guard.WithoutValueChecks();
        var inner = Guard.WithoutValueChecks();
        outer.Dispose();
        Assert.False(Guard.CheckTensorValues);   // the inner scope is still open
        outer.Dispose();                         // a second dispose counts once
        Assert.False(Guard.CheckTensorValues);
        inner.Dispose();
        Assert.True(Guard.CheckTensorValues);    // every scope closed: the checks are back
        Fails(() => Functional.sigmoid_focal_loss(X, tensor(new[] { 0f, 1f, 2f, 0f })), "targets", "targets must lie in [0, 1]");
    }

    [Theory]
    [InlineData(new[] { 0.5, -1.0 }, "alpha values must be finite and >= 0 with at least one > 0, got [0.5, -1]")]
    [InlineData(new[] { 0.5, double.NaN }, "alpha values must be finite and >= 0 with at least one > 0, got [0.5, NaN]")]
    [InlineData(new[] { 0.0, 0.0 }, "alpha values must be finite and >= 0 with at least one > 0, got [0, 0]")]
    [InlineData(new double[0], "alpha must be a non-empty 1-D tensor of per-class weights, got shape [0]")]
    public void softmax_focal_loss_checks_its_class_weights_when_constructed(double[] alpha, string message) =>
        Fails(() => Losses.SoftmaxFocalLoss(tensor(alpha)), "alpha", message);

    [Fact]
    public void softmax_cross_entropy_checks_its_class_weights_when_constructed()
    {
        Fails(() => Losses.SoftmaxCrossEntropyLoss(tensor(new[] { 1.0, -2.0 })), "weight", "weight values must be finite and >= 0 with at least one > 0, got [1, -2]");
        Fails(() => Losses.SoftmaxCrossEntropyLoss(tensor(new[] { 1.0, 2.0 }).reshape(1, 2)), "weight", "got shape [1, 2]");
    }

    // The later members: one test per guard.

    [Theory]
    [InlineData(-1.0, "-1")]
    [InlineData(double.NaN, "NaN")]
    public void asl_gamma_neg_must_be_finite_and_non_negative(double gamma, string shown) =>
        Fails(() => Functional.asymmetric_loss(X, T, gamma_neg: gamma), "gamma_neg", $"gamma_neg must be finite and >= 0, got {shown}");

    [Fact]
    public void asl_gamma_pos_must_be_finite_and_non_negative() =>
        Fails(() => Functional.asymmetric_loss(X, T, gamma_pos: double.PositiveInfinity), "gamma_pos", "gamma_pos must be finite and >= 0, got Infinity");

    [Theory]
    [InlineData(1.0, "1")]
    [InlineData(-0.05, "-0.05")]
    [InlineData(double.NaN, "NaN")]
    public void asl_clip_must_lie_in_zero_one(double clip, string shown) =>
        Fails(() => Functional.asymmetric_loss(X, T, clip: clip), "clip", $"clip must be in [0, 1) (0: no probability margin), got {shown}");

    [Fact]
    public void asl_targets_must_lie_in_the_unit_interval() =>
        Fails(() => Functional.asymmetric_loss(X, tensor(new[] { 1f, 2f, 0f, 0f })), "targets", "targets must lie in [0, 1], got values in [0, 2]");

    [Fact]
    public void asl_targets_shape_must_equal_inputs_shape() =>
        Fails(() => Functional.asymmetric_loss(X.reshape(2, 2), T), "targets", "targets shape [4] must equal inputs shape [2, 2]");

    [Theory]
    [InlineData(-1.5, "-1.5")]
    [InlineData(double.NaN, "NaN")]
    public void poly1_epsilon_must_be_finite_and_at_least_minus_one(double epsilon, string shown) =>
        Fails(() => Functional.poly1_focal_loss(X, T, epsilon: epsilon), "epsilon", $"epsilon must be finite and >= -1, got {shown}");

    [Fact]
    public void softmax_poly1_epsilon_is_checked_too() =>
        Fails(() => Functional.softmax_poly1_cross_entropy(Logits3, Classes, epsilon: -2), "epsilon", "epsilon must be finite and >= -1, got -2");

    [Fact]
    public void softmax_poly1_focal_checks_its_class_weights() =>
        Fails(() => Functional.softmax_poly1_focal_loss(Logits3, Classes, alpha: tensor(new[] { 0.5f })), "alpha", "length C = 3, got shape [1]");

    [Theory]
    [InlineData(1.0, "1")]
    [InlineData(-0.1, "-0.1")]
    [InlineData(double.NaN, "NaN")]
    public void label_smoothing_must_lie_in_zero_one(double labelSmoothing, string shown)
    {
        Fails(() => Functional.sigmoid_focal_loss(X, T, labelSmoothing: labelSmoothing), "labelSmoothing", $"labelSmoothing must be in [0, 1), got {shown}");
        Fails(() => Functional.binary_cross_entropy_with_logits(X, T, labelSmoothing), "labelSmoothing", "labelSmoothing must be in [0, 1)");
        Fails(() => Functional.softmax_focal_loss(Logits3, Classes, labelSmoothing: labelSmoothing), "labelSmoothing", "labelSmoothing must be in [0, 1)");
        Fails(() => Functional.softmax_cross_entropy(Logits3, Classes, labelSmoothing: labelSmoothing), "labelSmoothing", "labelSmoothing must be in [0, 1)");
        Fails(() => Functional.softmax_poly1_focal_loss(Logits3, Classes, labelSmoothing: labelSmoothing), "labelSmoothing", "labelSmoothing must be in [0, 1)");
    }

    [Theory]
    [InlineData(0.0, "0")]
    [InlineData(-1.0, "-1")]
    [InlineData(double.PositiveInfinity, "Infinity")]
    public void fl_star_gamma_must_be_finite_and_positive(double gamma, string shown) =>
        Fails(() => Functional.focal_loss_star(X, T, gamma: gamma), "gamma", $"gamma must be finite and > 0, got {shown}");

    [Fact]
    public void fl_star_beta_must_be_finite() =>
        Fails(() => Functional.focal_loss_star(X, T, beta: double.NaN), "beta", "beta must be finite, got NaN");

    [Fact]
    public void fl_star_gamma_must_be_finite_in_the_inputs_dtype() =>
        // 1e39 is a finite double but infinite in float32, where FL* would divide inf by inf.
        Fails(() => Functional.focal_loss_star(X, T, gamma: 1e39), "gamma", "gamma and beta must be finite in the inputs' dtype Float32 (at most 3.4028234663852886E+38), got gamma 1E+39, beta 1");

    [Fact]
    public void class_balanced_weight_tensors_must_be_floating_point() =>
        Fails(() => ClassBalanced.WeightTensor([10, 100], 0.99, ScalarType.Int64), "dtype", "dtype must be a floating-point type (weights are fractions), got Int64");

    [Fact]
    public void fl_star_targets_must_be_hard_labels() =>
        Fails(() => Functional.focal_loss_star(X, tensor(new[] { 1f, 0.3f, 0f, 0.3f })), "targets", "targets must be hard 0/1 labels (FL* is defined for hard targets), got 0.30000001192092896 (2 such values)");

    [Fact]
    public void gamma_schedule_thresholds_must_ascend_strictly_within_zero_one()
    {
        Fails(() => new GammaSchedule([0.5, 0.2], [5.0, 3.0], 1), "thresholds", "thresholds must be strictly ascending values in (0, 1], got [0.5, 0.2]");
        Fails(() => new GammaSchedule([0.2, 0.2], [5.0, 3.0], 1), "thresholds", "got [0.2, 0.2]");
        Fails(() => new GammaSchedule([0.0], [5.0], 1), "thresholds", "got [0]");
        Fails(() => new GammaSchedule([1.5], [5.0], 1), "thresholds", "got [1.5]");
    }

    [Fact]
    public void gamma_schedule_needs_one_gamma_per_threshold() =>
        Fails(() => new GammaSchedule([0.2, 0.5], [5.0], 1), "gammas", "gammas must hold one gamma per threshold (2), got 1");

    [Fact]
    public void gamma_schedule_gammas_must_be_finite_and_non_negative()
    {
        Fails(() => new GammaSchedule([0.2], [-5.0], 1), "gammas[0]", "gammas[0] must be finite and >= 0, got -5");
        Fails(() => new GammaSchedule([0.2], [5.0], double.NaN), "finalGamma", "finalGamma must be finite and >= 0, got NaN");
    }

    [Fact]
    public void sample_dependent_losses_check_alpha()
    {
        Fails(() => Functional.sigmoid_focal_loss_sample_dependent(X, T, alpha: 1.5), "alpha", "alpha must be in [0, 1] or null");
        Fails(() => Functional.softmax_focal_loss_sample_dependent(Logits3, Classes, alpha: tensor(new[] { 1f, -1f, 1f })), "alpha", "finite and >= 0");
    }

    [Fact]
    public void later_module_constructors_validate_hyper_parameters()
    {
        Fails(() => Losses.AsymmetricLoss(clip: 2), "clip", "got 2");
        Fails(() => Losses.AsymmetricLoss(gamma_pos: -1), "gamma_pos", "got -1");
        Fails(() => Losses.Poly1CrossEntropyLoss(epsilon: -3), "epsilon", "got -3");
        Fails(() => Losses.Poly1FocalLoss(labelSmoothing: 1), "labelSmoothing", "got 1");
        Fails(() => Losses.SoftmaxPoly1CrossEntropyLoss(labelSmoothing: -1), "labelSmoothing", "got -1");
        Fails(() => Losses.SoftmaxPoly1FocalLoss(tensor(new[] { -1.0, 1.0 })), "alpha", "got [-1, 1]");
        Fails(() => Losses.FocalLossStar(gamma: 0), "gamma", "got 0");
        Fails(() => Losses.SigmoidFocalLossSampleDependent(alpha: -0.5), "alpha", "got -0.5");
        Fails(() => Losses.SoftmaxFocalLossSampleDependent(alpha: tensor(new[] { 0.0, 0.0 })), "alpha", "got [0, 0]");
        Fails(() => Losses.SigmoidFocalLoss(labelSmoothing: 1.5), "labelSmoothing", "got 1.5");
        Fails(() => Losses.SoftmaxCrossEntropyLoss(labelSmoothing: 1), "labelSmoothing", "got 1");
    }
}

/// <summary>GuardTests on the composite of libtorch operations.</summary>
public sealed class GuardTestsComposite() : GuardTests(FocalKernel.Composite);

/// <summary>GuardTests on the fused CPU kernel (forced: a case it cannot serve fails).</summary>
public sealed class GuardTestsFused() : GuardTests(FocalKernel.Fused);
