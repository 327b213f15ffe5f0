using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;

namespace FocalLoss;

public static partial class Functional
{
    /// <summary>
    /// Asymmetric Loss for multi-label classification on logits (Ridnik et al. 2021, "Asymmetric Loss For
    /// Multi-Label Classification", arXiv:2009.14119):
    /// <c>L = -[ y (1 - p)^gamma_pos log p + (1 - y) p_m^gamma_neg log(1 - p_m) ]</c> per element, with
    /// <c>p = sigmoid(inputs)</c> and the shifted probability <c>p_m = max(p - clip, 0)</c> (the probability
    /// margin, which discards easy negatives with <c>p &lt;= clip</c> entirely).
    /// </summary>
    /// <remarks>
    /// Computed in log space, without the authors' <c>clamp(min = 1e-8)</c> on the logs: <c>log p = logsigmoid(x)</c>,
    /// <c>(1 - p)^gamma_pos = exp(gamma_pos * logsigmoid(-x))</c>. Without a margin, <c>p_m^gamma_neg =
    /// exp(gamma_neg * logsigmoid(x))</c> and <c>log(1 - p_m) = logsigmoid(-x)</c>. With one, <c>log(1 - p_m)</c> is
    /// <c>log1p(-p_m)</c> where <c>p_m &lt;= 1/2</c> and <c>log(sigmoid(-x) + clip)</c> (a sum of positives) where
    /// <c>p_m > 1/2</c>, so neither cancels; where <c>p &lt;= clip</c> the negative term is exactly 0 with gradient 0
    /// (<c>p_m^gamma_neg</c> takes <c>0^0 = 1</c> as the authors' <c>torch.pow</c> does, times <c>log 1 = 0</c>), and both
    /// branches are evaluated on safe inputs there, so no NaN reaches the gradient. Loss and gradient are finite
    /// for float32 logits of +-100. With 0/1 targets this equals the authors' <c>AsymmetricLoss</c> wherever
    /// their clamp is inactive, reduced by <paramref name="reduction"/> (theirs returns the negative sum).
    /// Soft targets in [0, 1] weight the two terms linearly, <c>y * positive + (1 - y) * negative</c>; the
    /// authors' code instead mixes p_t and the exponent inside one focusing weight, so the two differ for soft
    /// targets and agree for 0/1 ones.
    /// </remarks>
    /// <param name="inputs">Logits of any shape (typically <c>[N, C]</c>: C independent labels per sample), floating point.</param>
    /// <param name="targets">Same shape and dtype as <paramref name="inputs"/>; 0/1 labels, or soft targets in [0, 1] (see remarks).</param>
    /// <param name="gamma_neg">Focusing parameter of the negatives, finite and >= 0 (default 4).</param>
    /// <param name="gamma_pos">Focusing parameter of the positives, finite and >= 0 (default 1). <c>gamma_pos = gamma_neg = gamma</c>
    /// with <c>clip = 0</c> is the focal loss without alpha; all three 0 is binary cross-entropy.</param>
    /// <param name="clip">Probability margin in [0, 1) (default 0.05); 0 turns the shift off.</param>
    /// <param name="detach_focusing_weight">The authors' <c>disable_torch_grad_focal_loss</c> (default false): when true the
    /// focusing weights <c>(1 - p)^gamma_pos</c> and <c>p_m^gamma_neg</c> are constants for autograd; the value is the same,
    /// the gradient is that of the log terms alone, weighted.</param>
    /// <param name="reduction"><c>None</c> (per element), <c>Mean</c> (default, over all elements) or <c>Sum</c>.</param>
    public static Tensor asymmetric_loss(Tensor inputs, Tensor targets, double gamma_neg = 4.0, double gamma_pos = 1.0, double clip = 0.05, bool detach_focusing_weight = false, Reduction reduction = Reduction.Mean)
    {
        TorchRuntime.EnsureLoaded();
        CheckBinary(inputs, nameof(inputs), targets, null, 0, reduction);
        Guard.Gamma(gamma_neg, nameof(gamma_neg));
        Guard.Gamma(gamma_pos, nameof(gamma_pos));
        Guard.Clip(clip);
        Guard.InUnitInterval(targets, nameof(targets));
        using var scope = NewDisposeScope();
        var log_p = F.logsigmoid(inputs);
        var log_1m_p = F.logsigmoid(-inputs);
        var positive_weight = gamma_pos == 0 ? null : (gamma_pos * log_1m_p).exp();
        Tensor? negative_weight;
        Tensor log_1m_p_m;
        if (clip == 0)
        {
            negative_weight = gamma_neg == 0 ? null : (gamma_neg * log_p).exp();
            log_1m_p_m = log_1m_p;
        }
        else
        {
            var shifted = inputs.sigmoid() - clip;
            var margin_active = shifted.gt(0);
            // Safe stand-in where p <= clip: both branches stay finite there, and where() passes them no gradient.
            var p_m = where(margin_active, shifted, full_like(shifted, 0.5));
            var log_1m_p_m_small = (-p_m).log1p();
            var log_1m_p_m_large = ((-inputs).sigmoid() + clip).log();
            log_1m_p_m = where(margin_active, where(p_m.le(0.5), log_1m_p_m_small, log_1m_p_m_large), zeros_like(shifted));
            negative_weight = gamma_neg == 0 ? null
                : where(margin_active, (gamma_neg * p_m.log()).exp(), zeros_like(shifted));
        }
        if (detach_focusing_weight)
        {
            positive_weight = positive_weight?.detach();
            negative_weight = negative_weight?.detach();
        }
        var positive = positive_weight is null ? log_p : positive_weight * log_p;
        var negative = negative_weight is null ? log_1m_p_m : negative_weight * log_1m_p_m;
        var loss = -(targets * positive + (1 - targets) * negative);
        return Reduce(loss, reduction).MoveToOuterDisposeScope();
    }
}
