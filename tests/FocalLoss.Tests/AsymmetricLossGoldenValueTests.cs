using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FocalLoss.Tests;

/// <summary>
/// External oracle for the Asymmetric Loss: 120 multi-label cases computed in float64 by PyTorch 1.13.1's own
/// ops (logsigmoid, sigmoid, clamp, autograd) in data/golden/asl.json, from make_softmax_focal_and_asl.py (see
/// its docstring and data/golden/README.md). Logits [4, C] with C in 2..5 (every sixth case holds a logit of
/// +-30), 0/1 targets, (gamma_pos, gamma_neg, clip) in {(0, 4, 0.05), (1, 4, 0.05), (0, 0, 0), (2, 2, 0),
/// (0, 2, 0.2), (1, 1, 0)} and every reduction; value and gradient are compared in float64.
/// </summary>
public class AsymmetricLossGoldenValueTests
{
    public sealed record GoldenCase(
        int Id, double[][] Logits, int[][] Targets,
        [property: JsonPropertyName("gamma_pos")] double GammaPos,
        [property: JsonPropertyName("gamma_neg")] double GammaNeg,
        double Clip, string Reduction, double[] Output, double[][] Grad);

    public static readonly GoldenCase[] Cases = Golden.Load<GoldenCase>("asl.json");

    public static TheoryData<int> Ids() => new(Cases.Select(c => c.Id));


    /// <summary>The loss (flattened) and the gradient of its sum with respect to the [N, C] logits (row-major).</summary>
    private static (double[] Loss, double[] Grad) Evaluate(GoldenCase c, bool detach = false)
    {
        using var scope = NewDisposeScope();
        var shape = new long[] { c.Logits.Length, c.Logits[0].Length };
        var x = tensor(c.Logits.SelectMany(row => row).ToArray(), ScalarType.Float64).reshape(shape).requires_grad_(true);
        var y = tensor(c.Targets.SelectMany(row => row).Select(v => (double)v).ToArray(), ScalarType.Float64).reshape(shape);
        var loss = Functional.asymmetric_loss(x, y, c.GammaNeg, c.GammaPos, c.Clip, detach, Golden.ReductionOf(c.Id, c.Reduction));
        loss.sum().backward();
        return (Eval.ToArray(loss), Eval.ToArray(x.grad!));
    }

    private static string Describe(GoldenCase c) => $"case {c.Id} ({c.Reduction}, gamma_pos {c.GammaPos}, gamma_neg {c.GammaNeg}, clip {c.Clip})";

    [Fact]
    public void the_golden_file_holds_120_multi_label_cases_with_every_setting_and_reduction()
    {
        Assert.True(Cases.Length == 120, $"{Cases.Length} cases");
        Assert.Equal(6, Cases.Select(c => (c.GammaPos, c.GammaNeg, c.Clip)).Distinct().Count());
        Assert.Equal(["mean", "none", "sum"], Cases.Select(c => c.Reduction).Distinct().Order());
        Assert.True(Cases.Count(c => c.Logits.Any(r => r.Any(v => Math.Abs(v) >= 30))) == 20, "20 cases hold a logit of +-30");
        Assert.All(Cases, c => Assert.True(c.Targets.SelectMany(r => r).All(t => t is 0 or 1), $"case {c.Id}: 0/1 targets"));
        Assert.All(Cases, c => Assert.True(c.Output.Concat(c.Grad.SelectMany(r => r)).All(double.IsFinite), $"case {c.Id}: every reference value is finite"));
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void float64_value_and_gradient_match_pytorch(int id)
    {
        var c = Cases[id];
        var (loss, grad) = Evaluate(c);
        var expectedGrad = c.Grad.SelectMany(row => row).ToArray();
        Assert.True(loss.Length == c.Output.Length, $"{Describe(c)}: {loss.Length} loss values, expected {c.Output.Length}");
        Assert.True(grad.Length == expectedGrad.Length, $"{Describe(c)}: {grad.Length} gradient values, expected {expectedGrad.Length}");
        for (var i = 0; i < c.Output.Length; i++)
            Assert.True(Tol.Close(loss[i], c.Output[i], Tol.GoldenRel64, Tol.GoldenAbs64), $"{Describe(c)} output[{i}]: expected {c.Output[i]:R}, got {loss[i]:R}");
        for (var i = 0; i < expectedGrad.Length; i++)
            Assert.True(Tol.Close(grad[i], expectedGrad[i], Tol.GoldenRel64, Tol.GoldenAbs64),
                $"{Describe(c)} grad[{i / c.Logits[0].Length}, {i % c.Logits[0].Length}]: expected {expectedGrad[i]:R}, got {grad[i]:R}");
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void detaching_the_focusing_weight_keeps_the_value(int id)
    {
        var c = Cases[id];
        var (loss, _) = Evaluate(c, detach: true);
        for (var i = 0; i < c.Output.Length; i++)
            Assert.True(Tol.Close(loss[i], c.Output[i], Tol.GoldenRel64, Tol.GoldenAbs64), $"{Describe(c)} output[{i}] with detached weights: expected {c.Output[i]:R}, got {loss[i]:R}");
    }
}
