using FocalLoss.Infrastructure;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;

namespace FocalLoss;

public static partial class Functional
{
    /// <summary>
    /// FL*, the alternative focal loss of Lin et al. 2017 (arXiv:1708.02002, appendix A):
    /// <c>FL* = -log(p*_t) / gamma</c> with <c>p*_t = sigmoid(gamma x_t + beta)</c>, where <c>x_t = x</c> for target 1
    /// and <c>x_t = -x</c> for target 0. The logit is scaled by gamma and shifted by beta, so well-classified
    /// examples (large <c>x_t</c>) are down-weighted like the focal loss does, through a different shape.
    /// </summary>
    /// <remarks>
    /// Defined on hard labels only: <c>x_t</c> exists for t = 0 or 1, not between (the domain of this function is
    /// 0/1 targets; with value checks on, anything else is an error; with them off, <c>x_t = x (2t - 1)</c> is used
    /// as given). Computed as <c>-logsigmoid(gamma x_t + beta) / gamma</c>: finite for float32 logits of +-100.
    /// <c>gamma = 1, beta = 0</c> is binary cross-entropy.
    /// </remarks>
    /// <param name="inputs">Logits, any shape, floating point.</param>
    /// <param name="targets">Same shape and dtype, 0/1 labels.</param>
    /// <param name="gamma">Scale of the logit, finite and > 0 (default 2; the paper's good setting is gamma 2, beta 1).</param>
    /// <param name="beta">Shift of the scaled logit, finite (default 1).</param>
    /// <param name="reduction"><c>None</c> (per element), <c>Mean</c> (default) or <c>Sum</c>.</param>
    public static Tensor focal_loss_star(Tensor inputs, Tensor targets, double gamma = 2.0, double beta = 1.0, Reduction reduction = Reduction.Mean)
    {
        TorchRuntime.EnsureLoaded();
        CheckBinary(inputs, nameof(inputs), targets, null, 0, reduction);
        Guard.PositiveGamma(gamma);
        Guard.Finite(beta, nameof(beta));
        // gamma scales and divides in the inputs' dtype: one that overflows it (1e39 in float32) would give inf / inf = NaN.
        var largest = finfo(inputs.dtype).max;
        if (gamma > largest || Math.Abs(beta) > largest)
            throw new ArgumentException($"gamma and beta must be finite in the inputs' dtype {inputs.dtype} (at most {Format.Number(largest)}), got gamma {Format.Number(gamma)}, beta {Format.Number(beta)}", gamma > largest ? nameof(gamma) : nameof(beta));
        Guard.HardTargets(targets, nameof(targets), "FL* is defined for hard targets");
        using var scope = NewDisposeScope();
        var x_t = inputs * (2 * targets - 1);
        var loss = -F.logsigmoid(gamma * x_t + beta) / gamma;
        return Reduce(loss, reduction).MoveToOuterDisposeScope();
    }
}
