using FocalLoss.Infrastructure;
using TorchSharp;
using static TorchSharp.torch;

namespace FocalLoss;

/// <summary>
/// Class-balanced weights by the effective number of samples (Cui et al. 2019, "Class-Balanced Loss Based on
/// Effective Number of Samples", arXiv:1901.05555): class c with <c>n_c</c> samples has the effective number
/// <c>E_c = (1 - beta^n_c) / (1 - beta)</c> and the weight <c>1 / E_c = (1 - beta) / (1 - beta^n_c)</c>, normalised
/// so that the C weights sum to C (the paper's convention). <c>beta = 0</c> gives uniform weights (all 1); as
/// <c>beta -> 1</c> the weights approach inverse class frequency (normalised to sum to C).
/// </summary>
/// <remarks>
/// <c>1 - beta^n</c> is computed as <c>-expm1(n log1p(beta - 1))</c>, accurate for beta close to 1 and large counts
/// (beta = 0.9999 with n = 10^6 is the paper's range). The weights feed every weighted loss: <see cref="WeightTensor"/>
/// as <c>alpha</c> of <see cref="Functional.softmax_focal_loss"/> (and its Poly-1 and sample-dependent forms) or
/// <c>weight</c> of <see cref="Functional.softmax_cross_entropy"/>; <see cref="BinaryAlpha"/> as the <c>alpha</c>
/// of the binary losses.
/// </remarks>
public static class ClassBalanced
{
    /// <summary>The class-balanced weight of each class, normalised to sum to C.</summary>
    /// <param name="counts">Samples per class (index = class id, e.g. <c>TensorDataset.ClassCounts()</c>), each >= 1, at least one class.</param>
    /// <param name="beta">In [0, 1): 0 is no re-weighting; the paper uses 0.9 to 0.9999.</param>
    public static double[] Weights(long[] counts, double beta)
    {
        ArgumentNullException.ThrowIfNull(counts);
        if (counts.Length == 0)
            throw new ArgumentException("counts must hold the sample count of at least one class, got none", nameof(counts));
        if (!(beta >= 0 && beta < 1))
            throw new ArgumentException($"beta must be in [0, 1), got {Format.Number(beta)}", nameof(beta));
        for (var c = 0; c < counts.Length; c++)
            if (counts[c] < 1)
                throw new ArgumentException($"counts[{c}] must be >= 1 (class {c} needs a sample for an effective number), got {counts[c]}", nameof(counts));
        var logBeta = Log1p(beta - 1);   // beta - 1 is exact for beta in [1/2, 1)
        var raw = counts.Select(n => (1 - beta) / -Expm1(n * logBeta)).ToArray();
        var total = raw.Sum();
        return raw.Select(w => w * counts.Length / total).ToArray();
    }

    /// <summary>
    /// The binary losses' alpha (weight of the positive class) from the class-balanced weights of the two classes:
    /// <c>w_1 / (w_0 + w_1)</c>. <c>beta = 0</c> gives 0.5.
    /// </summary>
    /// <param name="counts">Two counts, negatives (class 0) then positives (class 1), each >= 1.</param>
    /// <param name="beta">In [0, 1).</param>
    public static double BinaryAlpha(long[] counts, double beta)
    {
        ArgumentNullException.ThrowIfNull(counts);
        if (counts.Length != 2)
            throw new ArgumentException($"counts must hold two counts, negatives (class 0) then positives (class 1), got {counts.Length}", nameof(counts));
        var w = Weights(counts, beta);
        return w[1] / (w[0] + w[1]);
    }

    /// <summary>
    /// <see cref="Weights"/> as a 1-D tensor of length C, usable as the per-class <c>alpha</c> or <c>weight</c> of every
    /// weighted multi-class loss (the losses convert it to the logits' dtype).
    /// </summary>
    /// <param name="counts">Samples per class, each >= 1.</param>
    /// <param name="beta">In [0, 1).</param>
    /// <param name="dtype">Floating-point dtype (default float64).</param>
    /// <param name="device">Device (default CPU); it must be the logits' device.</param>
    public static Tensor WeightTensor(long[] counts, double beta, ScalarType dtype = ScalarType.Float64, Device? device = null)
    {
        TorchRuntime.EnsureLoaded();
        if (!torch.is_floating_point(torch.empty(0, dtype)))
            throw new ArgumentException($"dtype must be a floating-point type (weights are fractions), got {dtype}", nameof(dtype));
        var weights = Weights(counts, beta);
        using var scope = NewDisposeScope();
        return tensor(weights, ScalarType.Float64).to(dtype, device ?? CPU).MoveToOuterDisposeScope();
    }

    /// <summary>log(1 + x), accurate for small x (Goldberg's trick; -inf at x = -1).</summary>
    private static double Log1p(double x)
    {
        var u = 1 + x;
        return u == 1 ? x : Math.Log(u) * x / (u - 1);
    }

    /// <summary>exp(x) - 1, accurate for small x (Kahan's trick; -1 at x = -inf).</summary>
    private static double Expm1(double x)
    {
        var u = Math.Exp(x);
        if (u == 1) return x;
        var um1 = u - 1;
        return um1 == -1 ? -1 : um1 * x / Math.Log(u);
    }
}
