using System.Text.Json;
using System.Text.Json.Serialization;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FocalLoss.Tests;

/// <summary>
/// External oracle for the multi-class focal loss: 120 cases computed in float64 by PyTorch 1.13.1's own
/// ops (log_softmax, gather, autograd) in data/golden/softmax_focal_loss.json, from
/// make_softmax_focal_and_asl.py (see its docstring and data/golden/README.md). Logits [5, C] with C in
/// 2..6, per-class alpha in two cases of three, ignored targets (-100), gamma in {0, 0.5, 1, 2, 5}, and every
/// reduction; the value as well as the gradient is compared.
/// </summary>
public class SoftmaxGoldenValueTests
{
    public sealed record GoldenCase(
        int Id, double[][] Logits, long[] Targets,
        [property: JsonPropertyName("ignore_index")] long IgnoreIndex,
        double[]? Alpha, double Gamma, string Reduction, double[] Output, double[][] Grad);

    public static readonly GoldenCase[] Cases = Golden.Load<GoldenCase>("softmax_focal_loss.json");

    public static TheoryData<int> Ids() => new(Cases.Select(c => c.Id));


    /// <summary>The loss (flattened) and the gradient of its sum with respect to the logits (row-major).</summary>
    private static (double[] Loss, double[] Grad) Evaluate(GoldenCase c)
    {
        using var scope = NewDisposeScope();
        var x = tensor(c.Logits.SelectMany(row => row).ToArray(), ScalarType.Float64).reshape(c.Logits.Length, c.Logits[0].Length).requires_grad_(true);
        var alpha = c.Alpha is null ? null : tensor(c.Alpha, ScalarType.Float64);
        var loss = Functional.softmax_focal_loss(x, tensor(c.Targets), alpha, c.Gamma, c.IgnoreIndex, reduction: Golden.ReductionOf(c.Id, c.Reduction));
        loss.sum().backward();
        return (Eval.ToArray(loss), Eval.ToArray(x.grad!));
    }

    [Fact]
    public void the_golden_file_holds_120_cases_with_per_class_alpha_ignored_targets_every_gamma_and_every_reduction()
    {
        Assert.True(Cases.Length == 120, $"{Cases.Length} cases");
        Assert.True(Cases.Count(c => c.Alpha is not null) == 80, $"{Cases.Count(c => c.Alpha is not null)} cases with per-class alpha");
        Assert.True(Cases.Count(c => c.Targets.Contains(c.IgnoreIndex)) == 30, $"{Cases.Count(c => c.Targets.Contains(c.IgnoreIndex))} cases with an ignored target");
        Assert.True(Cases.Any(c => c.Alpha is not null && c.Targets.Contains(c.IgnoreIndex) && c.Reduction == "mean"), "a case combines per-class alpha, an ignored target and the mean");
        Assert.Equal(["mean", "none", "sum"], Cases.Select(c => c.Reduction).Distinct().Order());
        Assert.Equal([0.0, 0.5, 1.0, 2.0, 5.0], Cases.Select(c => c.Gamma).Distinct().Order());
        Assert.All(Cases, c => Assert.True(c.Alpha is null || c.Alpha.Length == c.Logits[0].Length, $"case {c.Id}: alpha has one weight per class"));
        Assert.All(Cases, c => Assert.True(c.Output.Concat(c.Grad.SelectMany(r => r)).All(double.IsFinite), $"case {c.Id}: every reference value is finite"));
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void float64_value_and_gradient_match_pytorch(int id)
    {
        var c = Cases[id];
        var (loss, grad) = Evaluate(c);
        var expectedGrad = c.Grad.SelectMany(row => row).ToArray();
        Assert.True(loss.Length == c.Output.Length, $"case {id}: {loss.Length} loss values, expected {c.Output.Length}");
        Assert.True(grad.Length == expectedGrad.Length, $"case {id}: {grad.Length} gradient values, expected {expectedGrad.Length}");
        for (var i = 0; i < c.Output.Length; i++)
            Assert.True(Tol.Close(loss[i], c.Output[i], Tol.GoldenRel64, Tol.GoldenAbs64),
                $"case {id} ({c.Reduction}, gamma {c.Gamma}, alpha {(c.Alpha is null ? "none" : "per class")}) output[{i}]: expected {c.Output[i]:R}, got {loss[i]:R}");
        for (var i = 0; i < expectedGrad.Length; i++)
            Assert.True(Tol.Close(grad[i], expectedGrad[i], Tol.GoldenRel64, Tol.GoldenAbs64),
                $"case {id} ({c.Reduction}, gamma {c.Gamma}, alpha {(c.Alpha is null ? "none" : "per class")}) grad[{i / c.Logits[0].Length}, {i % c.Logits[0].Length}]: expected {expectedGrad[i]:R}, got {grad[i]:R}");
    }
}
