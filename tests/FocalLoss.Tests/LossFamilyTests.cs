using FocalLoss.Data;
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
        var expected = Functional.sigmoid_focal_loss(x, t, 0.4, 1.5, reduction: Reduction.Sum).item<double>();
        Assert.Equal(expected, new SigmoidFocalLoss(0.4, 1.5, reduction: Reduction.Sum).call(x, t).item<double>());
        Assert.Equal(expected, Losses.SigmoidFocalLoss(0.4, 1.5, reduction: Reduction.Sum).call(x, t).item<double>());
        Assert.Equal(expected, Losses.SigmoidFocalLoss(0.4, 1.5).Compute(x, t, Reduction.Sum).item<double>());
    }

    [Fact]
    public void the_registry_is_the_one_table_of_names_and_each_name_is_the_functional_module_and_factory_name()
    {
        Assert.Equal(["sigmoid_focal_loss", "focal_loss_from_probabilities", "softmax_focal_loss", "binary_cross_entropy_with_logits",
            "balanced_binary_cross_entropy_with_logits", "softmax_cross_entropy", "asymmetric_loss", "poly1_cross_entropy", "poly1_focal_loss",
            "softmax_poly1_cross_entropy", "softmax_poly1_focal_loss", "focal_loss_star", "softmax_focal_loss_sample_dependent",
            "sigmoid_focal_loss_sample_dependent"], LossRegistry.Names);
        foreach (var info in LossRegistry.All)
        {
            Assert.NotNull(typeof(Functional).GetMethod(info.Name));
            var pascal = string.Concat(info.Name.Split('_').Select(w => char.ToUpperInvariant(w[0]) + w[1..]));
            Assert.Equal(pascal.Contains("Loss") ? pascal : pascal + "Loss", info.Module.Name);
            var factory = typeof(Losses).GetMethod(info.Module.Name);
            Assert.NotNull(factory);
            Assert.Equal(info.Module, factory!.ReturnType);
            Assert.Equal(info.Module.GetConstructors().Single().GetParameters().Select(p => p.Name), factory.GetParameters().Select(p => p.Name));
            using var loss = (LossModule)factory.Invoke(null, factory.GetParameters().Select(p => p.DefaultValue).ToArray())!;
            Assert.Equal(info.Name, loss.Name);
            Assert.Equal(info.Task, loss.Task);
            Assert.Equal(info.Input, loss.Input);
            Assert.Equal(info.HyperParameters.Select(p => p.Name).Order(), loss.HyperParameters.Keys.Order());
            Assert.IsAssignableFrom<Loss<Tensor, Tensor, Tensor>>(loss);
        }
        Assert.Equal("none", Losses.SigmoidFocalLoss(alpha: null).HyperParameters["alpha"]);
        Assert.Equal("[0.5, 2]", Losses.SoftmaxFocalLoss(tensor(new[] { 0.5, 2.0 })).HyperParameters["alpha"]);
    }

    /// <summary>A non-default value for every hyper-parameter name of the family, for a loss over C = 3 classes.</summary>
    /// <remarks>The arms are typed object on purpose: TorchSharp converts numbers to Tensor implicitly, so a switch
    /// whose arms all convert to Tensor would box every number as a scalar tensor.</remarks>
    private static object NonDefault(System.Reflection.ParameterInfo parameter) => parameter.Name switch
    {
        "alpha" or "weight" when parameter.ParameterType == typeof(Tensor) => (object)tensor(new[] { 0.3, 1.2, 0.7 }),
        "alpha" => 0.4,
        "gamma" => 1.5,
        "labelSmoothing" => 0.1,
        "epsilon" => 0.5,
        "gamma_neg" => 3.0,
        "gamma_pos" => 0.5,
        "clip" => 0.1,
        "detach_focusing_weight" => true,
        "beta" => 0.5,
        "ignoreIndex" => 1L,
        "schedule" => new GammaSchedule([0.5], [4.0], 1.0),
        _ => throw new InvalidOperationException($"no non-default value for hyper-parameter '{parameter.Name}': add one here"),
    };

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void every_module_and_factory_equals_its_functional_form_with_default_and_with_changed_hyper_parameters(bool changed)
    {
        using var scope = NewDisposeScope();
        var binaryLogits = tensor(new[] { 2.5, -1.0, 0.3, -4.0, 7.0, 0.2 });
        var binaryTargets = tensor(new[] { 1.0, 0.0, 0.0, 1.0, 1.0, 0.0 });
        var classLogits = tensor(new[] { 1.0, 2.0, -1.0, 0.5, 0.5, 3.0, -2.0, 0.1, 0.4 }).reshape(3, 3);
        var classTargets = tensor(new long[] { 1, 2, 0 });
        foreach (var info in LossRegistry.All)
        {
            var (x, t) = info.Task == LossTask.MultiClass ? (classLogits, classTargets)
                : info.Task == LossTask.MultiLabel ? (binaryLogits.reshape(2, 3), binaryTargets.reshape(2, 3))
                : (info.Input == LossInput.Probabilities ? binaryLogits.sigmoid() : binaryLogits, binaryTargets);
            var factory = typeof(Losses).GetMethod(info.Module.Name)!;
            var factoryArgs = factory.GetParameters().Select(p => changed && p.Name != "reduction" ? NonDefault(p) : p.DefaultValue).ToArray();
            using var module = (LossModule)factory.Invoke(null, factoryArgs)!;
            var functional = typeof(Functional).GetMethod(info.Name)!;
            var functionalArgs = functional.GetParameters().Select(p => p.Position == 0 ? x : p.Position == 1 ? t
                : changed && p.Name != "reduction" ? NonDefault(p) : p.DefaultValue).ToArray();
            var expected = ((Tensor)functional.Invoke(null, functionalArgs)!).item<double>();
            Assert.True(double.IsFinite(expected), $"{info.Name}: finite");
            Assert.Equal(expected, module.call(x, t).item<double>());
            Assert.Equal(expected, module.Compute(x, t, Reduction.Mean).item<double>());
            var constructed = (LossModule)Activator.CreateInstance(info.Module, factoryArgs)!;
            Assert.Equal(expected, constructed.call(x, t).item<double>());
        }
    }

    [Fact]
    public void an_unknown_name_is_an_error_listing_the_valid_ones_never_another_loss()
    {
        var e = Assert.Throws<ArgumentException>(() => LossRegistry.Get("focal"));
        Assert.Contains("sigmoid_focal_loss, focal_loss_from_probabilities, softmax_focal_loss", e.Message);
        Assert.Contains("got 'focal'", e.Message);
        Assert.Equal("name", e.ParamName);
    }

    [Fact]
    public void baselines_equal_their_torch_definitions()
    {
        using var scope = NewDisposeScope();
        var x = tensor(Logits);
        var t = tensor(Targets);
        Assert.Equal(F.binary_cross_entropy_with_logits(x, t).item<double>(), Losses.BinaryCrossEntropyWithLogitsLoss().call(x, t).item<double>(), 14);
        var alphaT = tensor(Targets.Select(v => v == 1 ? 0.3 : 0.7).ToArray());
        Assert.Equal((alphaT * F.binary_cross_entropy_with_logits(x, t, reduction: Reduction.None)).mean().item<double>(),
            Losses.BalancedBinaryCrossEntropyWithLogitsLoss(0.3).call(x, t).item<double>(), 14);
        var logits = tensor(new[] { 1.0, 2.0, -1.0, 0.5, 0.5, 3.0 }).reshape(2, 3);
        var classes = tensor(new long[] { 1, 2 });
        var weight = tensor(new[] { 1.0, 2.0, 0.5 });
        Assert.Equal(F.cross_entropy(logits, classes, weight).item<double>(), Losses.SoftmaxCrossEntropyLoss(weight).call(logits, classes).item<double>(), 14);
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
