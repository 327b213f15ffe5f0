using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;

namespace FocalLoss.Tests;

/// <summary>The three entry points (functional, sealed module, factory) and the by-name registry agree.</summary>
public class LossFamilyTests
{
    private static readonly double[] Logits = [2.5, -1.0, 0.3, -4.0, 7.0];
    private static readonly double[] Targets = [1, 0, 0, 1, 1];

    [Fact]
    public void module_and_factory_forms_equal_the_functional_form()
    {
        using var scope = NewDisposeScope();
        var x = tensor(Logits);
        var t = tensor(Targets);
        var expected = Functional.sigmoid_focal_loss(x, t, 0.4, 1.5, Reduction.Sum).item<double>();
        Assert.Equal(expected, new SigmoidFocalLoss(0.4, 1.5, Reduction.Sum).call(x, t).item<double>());
        Assert.Equal(expected, Losses.SigmoidFocalLoss(0.4, 1.5, Reduction.Sum).call(x, t).item<double>());
        Assert.Equal(expected, Losses.Create("sigmoid_focal", new Dictionary<string, string> { ["alpha"] = "0.4", ["gamma"] = "1.5" }, Reduction.Sum).call(x, t).item<double>());
    }

    [Fact]
    public void every_registered_loss_is_created_by_name_and_reports_its_hyper_parameters()
    {
        Assert.Equal(["sigmoid_focal", "focal_from_probabilities", "softmax_focal", "bce", "balanced_bce", "cross_entropy"], Losses.Names);
        foreach (var name in Losses.Names)
        {
            using var loss = Losses.Create(name);
            Assert.Equal(name, loss.Name);
        }
        Assert.Equal("none", Losses.Create("sigmoid_focal", new Dictionary<string, string> { ["alpha"] = "none" }).HyperParameters["alpha"]);
        Assert.Equal("0.25", Losses.Create("sigmoid_focal").HyperParameters["alpha"]);
        Assert.Equal("0.5,2", Losses.Create("softmax_focal", new Dictionary<string, string> { ["alpha"] = "0.5, 2" }).HyperParameters["alpha"]);
        Assert.Equal(LossInput.Probabilities, Losses.Create("focal_from_probabilities").Input);
        Assert.Equal(LossTask.MultiClass, Losses.Create("cross_entropy").Task);
    }

    [Fact]
    public void unknown_names_and_keys_are_rejected_with_the_valid_ones_listed()
    {
        var e = Assert.Throws<ArgumentException>(() => Losses.Create("focal"));
        Assert.Contains("sigmoid_focal, focal_from_probabilities, softmax_focal, bce, balanced_bce, cross_entropy", e.Message);
        Assert.Contains("got 'focal'", e.Message);
        var k = Assert.Throws<ArgumentException>(() => Losses.Create("bce", new Dictionary<string, string> { ["gamma"] = "2" }));
        Assert.Contains("accept no keys, got 'gamma'", k.Message);
        var v = Assert.Throws<ArgumentException>(() => Losses.Create("sigmoid_focal", new Dictionary<string, string> { ["gamma"] = "two" }));
        Assert.Equal("gamma", v.ParamName);
    }

    [Fact]
    public void baselines_equal_their_torch_definitions()
    {
        using var scope = NewDisposeScope();
        var x = tensor(Logits);
        var t = tensor(Targets);
        Assert.Equal(F.binary_cross_entropy_with_logits(x, t).item<double>(), Losses.BCEWithLogitsLoss().call(x, t).item<double>(), 14);
        var alphaT = tensor(Targets.Select(v => v == 1 ? 0.3 : 0.7).ToArray());
        Assert.Equal((alphaT * F.binary_cross_entropy_with_logits(x, t, reduction: Reduction.None)).mean().item<double>(),
            Losses.BalancedBCEWithLogitsLoss(0.3).call(x, t).item<double>(), 14);
        var logits = tensor(new[] { 1.0, 2.0, -1.0, 0.5, 0.5, 3.0 }).reshape(2, 3);
        var classes = tensor(new long[] { 1, 2 });
        var weight = tensor(new[] { 1.0, 2.0, 0.5 });
        Assert.Equal(F.cross_entropy(logits, classes, weight).item<double>(), Losses.CrossEntropyLoss(weight).call(logits, classes).item<double>(), 14);
    }

    [Fact]
    public void the_probability_form_is_the_seeds_formula_and_overflows_where_documented()
    {
        using var scope = NewDisposeScope();
        // The seed's numbers: p = 0.7, t = 1, alpha 0.25, gamma 2: -0.25 * 0.3^2 * log 0.7.
        var seed = Functional.focal_loss_from_probabilities(tensor(new[] { 0.7 }), tensor(new[] { 1.0 }), reduction: Reduction.Sum).item<double>();
        Assert.Equal(-0.25 * 0.09 * Math.Log(0.7), seed, 15);
        // float32 sigmoid(17) rounds to 1: with target 0, p_t = 0 and the seed form is +inf (documented, not clamped).
        var p = tensor(new[] { 17f }).sigmoid();
        Assert.Equal(1f, p.item<float>());
        Assert.True(float.IsPositiveInfinity(Functional.focal_loss_from_probabilities(p, tensor(new[] { 0f })).item<float>()));
        Assert.True(float.IsFinite(Functional.sigmoid_focal_loss(tensor(new[] { 17f }), tensor(new[] { 0f })).item<float>()));
    }

    [Fact]
    public void soft_targets_follow_torchvisions_definition()
    {
        // torchvision: p_t = p t + (1 - p)(1 - t), linear in t: the log-space factor must reproduce it for soft t.
        using var scope = NewDisposeScope();
        var x = tensor(new[] { 1.2, -0.4, 3.0, -2.0 });
        var t = tensor(new[] { 0.9, 0.1, 0.5, 0.3 });
        var p = x.sigmoid();
        var p_t = p * t + (1 - p) * (1 - t);
        var alpha_t = 0.25 * t + 0.75 * (1 - t);
        var expected = alpha_t * (1 - p_t).pow(2) * F.binary_cross_entropy_with_logits(x, t, reduction: Reduction.None);
        var actual = Functional.sigmoid_focal_loss(x, t, reduction: Reduction.None);
        Assert.Equal(Eval.ToArray(expected), Eval.ToArray(actual), (a, b) => Tol.Close(a, b, Tol.IdentityRel64, Tol.IdentityAbs64));
    }

    [Fact]
    public void loss_modules_move_their_class_weights_with_the_module()
    {
        using var loss = Losses.SoftmaxFocalLoss(tensor(new[] { 0.2, 0.8 }));
        Assert.Single(loss.buffers());
        loss.to(ScalarType.Float32);
        Assert.Equal(ScalarType.Float32, loss.buffers().Single().dtype);
    }
}
