using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FocalLoss.Tests;

/// <summary>
/// External oracle: torchvision.ops.sigmoid_focal_loss on PyTorch (Debian python3-torch 1.13.1,
/// python3-torchvision 0.14.1), 200 cases in data/golden/ (see its README).
/// </summary>
public abstract class GoldenValueTests(FocalKernel kernel) : OnKernel(kernel)
{
    public sealed record GoldenCase(
        int Id, double[] Logits, int[] Targets, double Alpha, double Gamma, string Reduction,
        double[] Output, double[] Grad,
        [property: JsonPropertyName("output_f32")] double[] OutputF32,
        [property: JsonPropertyName("grad_f32")] double[] GradF32,
        [property: JsonPropertyName("output_exact")] double[] OutputExact,
        [property: JsonPropertyName("grad_exact")] double[] GradExact,
        bool Nonfinite);

    public static readonly GoldenCase[] Cases = Golden.Load<GoldenCase>("sigmoid_focal_loss.json");

    public static TheoryData<int> Ids() => new(Cases.Select(c => c.Id));

    private static (double[] Loss, double[] Grad) Evaluate(GoldenCase c, ScalarType dtype) =>
        Eval.WithGrad((x, t) => Functional.sigmoid_focal_loss(x, t, c.Alpha < 0 ? null : c.Alpha, c.Gamma, reduction: Golden.ReductionOf(c.Id, c.Reduction)), c.Logits, c.Targets.Select(t => (double)t).ToArray(), dtype);

    private static void AssertClose(double[] actual, double[] expected, double rel, double abs, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (var i = 0; i < expected.Length; i++)
            Assert.True(Tol.Close(actual[i], expected[i], rel, abs), $"{what}[{i}]: expected {expected[i]:R}, got {actual[i]:R}");
    }

    [Fact]
    public void the_golden_file_holds_200_cases_including_torchvision_nan_gradients()
    {
        Assert.Equal(200, Cases.Length);
        Assert.Equal(8, Cases.Count(c => c.Grad.Any(double.IsNaN)));
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void float64_matches_torchvision_and_is_finite_where_torchvision_is_not(int id)
    {
        var c = Cases[id];
        var (loss, grad) = Evaluate(c, ScalarType.Float64);
        Assert.All(loss.Concat(grad), v => Assert.True(double.IsFinite(v), $"case {id}: non-finite value {v}"));
        for (var i = 0; i < c.Output.Length; i++)
        {
            var expected = double.IsFinite(c.Output[i]) ? c.Output[i] : c.OutputExact[i];
            Assert.True(Tol.Close(loss[i], expected, Tol.GoldenRel64, Tol.GoldenAbs64), $"case {id} output[{i}]: expected {expected:R}, got {loss[i]:R}");
        }
        for (var i = 0; i < c.Grad.Length; i++)
        {
            // Where torchvision's gradient is NaN, the stable closed form is the reference.
            var expected = double.IsFinite(c.Grad[i]) ? c.Grad[i] : c.GradExact[i];
            Assert.True(Tol.Close(grad[i], expected, Tol.GoldenRel64, Tol.GoldenAbs64), $"case {id} grad[{i}]: expected {expected:R}, got {grad[i]:R}");
        }
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void float64_matches_the_stable_closed_form(int id)
    {
        var c = Cases[id];
        var (loss, grad) = Evaluate(c, ScalarType.Float64);
        AssertClose(loss, c.OutputExact, Tol.GoldenRel64, Tol.GoldenAbs64, $"case {id} output");
        AssertClose(grad, c.GradExact, Tol.GoldenRel64, Tol.GoldenAbs64, $"case {id} grad");
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void float32_matches_torchvision_float32(int id)
    {
        var c = Cases[id];
        var (loss, grad) = Evaluate(c, ScalarType.Float32);
        Assert.All(loss.Concat(grad), v => Assert.True(double.IsFinite(v), $"case {id}: non-finite value {v}"));
        for (var i = 0; i < c.OutputF32.Length; i++)
        {
            var expected = double.IsFinite(c.OutputF32[i]) ? c.OutputF32[i] : c.OutputExact[i];
            Assert.True(Tol.Close(loss[i], expected, Tol.GoldenRel32, Tol.GoldenAbs32), $"case {id} output[{i}]: expected {expected:R}, got {loss[i]:R}");
        }
        for (var i = 0; i < c.GradF32.Length; i++)
        {
            var expected = double.IsFinite(c.GradF32[i]) ? c.GradF32[i] : c.GradExact[i];
            Assert.True(Tol.Close(grad[i], expected, Tol.GoldenRel32, Tol.GoldenAbs32), $"case {id} grad[{i}]: expected {expected:R}, got {grad[i]:R}");
        }
    }
}

/// <summary>GoldenValueTests on the composite of libtorch operations.</summary>
public sealed class GoldenValueTestsComposite() : GoldenValueTests(FocalKernel.Composite);

/// <summary>GoldenValueTests on the fused CPU kernel (forced: a case it cannot serve fails).</summary>
public sealed class GoldenValueTestsFused() : GoldenValueTests(FocalKernel.Fused);
