using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;

namespace FocalLoss;

public static partial class Functional
{
    /// <summary>
    /// Multi-class focal loss with a sample-dependent gamma (FLSD; Mukhoti et al. 2020, "Calibrating Deep Neural
    /// Networks using Focal Loss", arXiv:2002.09437): <c>FL = -alpha[t] (1 - p_t)^gamma(p_t) log p_t</c>, with
    /// <c>p = softmax(inputs, dim 1)</c>, <c>p_t = p[t]</c> and <c>gamma(p_t)</c> from <paramref name="schedule"/>,
    /// chosen on the detached p_t (the choice carries no gradient).
    /// </summary>
    /// <remarks>As <see cref="softmax_focal_loss"/>: the modulating factor in log space, <c>Mean</c> over the
    /// non-ignored targets. A <see cref="GammaSchedule.Constant"/> schedule gives <see cref="softmax_focal_loss"/>.
    /// The loss jumps where p_t crosses a threshold (gamma changes there); its gradient is that of the focal loss
    /// with the chosen gamma.</remarks>
    /// <param name="inputs">Logits <c>[N, C]</c> or <c>[N, C, d1, ...]</c>, floating point, C >= 2.</param>
    /// <param name="targets">Int64 class indices <c>[N]</c> or <c>[N, d1, ...]</c>, each in [0, C) or <paramref name="ignoreIndex"/>.</param>
    /// <param name="schedule">The gamma schedule; null (default) is FLSD-53, <see cref="GammaSchedule.Flsd53"/>.</param>
    /// <param name="alpha">Optional per-class weights, 1-D of length C, finite and >= 0; null (default): no weighting, as in the paper.</param>
    /// <param name="ignoreIndex">Target value that contributes nothing and is excluded from the mean (default -100).</param>
    /// <param name="reduction"><c>None</c> (shape of targets, ignored entries 0), <c>Mean</c> (default) or <c>Sum</c>.</param>
    public static Tensor softmax_focal_loss_sample_dependent(Tensor inputs, Tensor targets, GammaSchedule? schedule = null, Tensor? alpha = null, long ignoreIndex = -100, Reduction reduction = Reduction.Mean)
    {
        TorchRuntime.EnsureLoaded();
        var classes = CheckMultiClass(inputs, targets, alpha, ignoreIndex);
        Guard.Reduction(reduction);
        schedule ??= GammaSchedule.Flsd53;
        using var scope = NewDisposeScope();
        var valid = targets.ne(ignoreIndex);
        var target = targets.masked_fill(valid.logical_not(), 0).unsqueeze(1);
        var log_p = F.log_softmax(inputs, 1);
        var log_p_t = log_p.gather(1, target).squeeze(1);
        var ce_loss = -log_p_t;
        var gamma = schedule.GammaFor(log_p_t.detach().exp());
        var log_1m_p_t = SoftmaxLogOneMinusPt(log_p, target, classes);
        var loss = (gamma * log_1m_p_t).exp() * ce_loss;
        if (alpha is not null)
            loss = alpha.to(inputs.dtype).index_select(0, target.flatten()).view(ce_loss.shape) * loss;
        return ReduceValid(loss, valid, reduction).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Binary focal loss on logits with a sample-dependent gamma (FLSD; Mukhoti et al. 2020, arXiv:2002.09437):
    /// <c>FL = alpha_t (1 - p_t)^gamma(p_t) CE(p, t)</c> as in <see cref="sigmoid_focal_loss"/>, with
    /// <c>gamma(p_t)</c> from <paramref name="schedule"/>, chosen on the detached p_t (the choice carries no gradient).
    /// </summary>
    /// <remarks>Log space as <see cref="sigmoid_focal_loss"/>; soft targets use torchvision's
    /// <c>p_t = p t + (1 - p)(1 - t)</c> both for the factor and for choosing gamma. A constant schedule gives
    /// <see cref="sigmoid_focal_loss"/>. The loss jumps where p_t crosses a threshold.</remarks>
    /// <param name="inputs">Logits, any shape, floating point.</param>
    /// <param name="targets">Same shape and dtype; 0/1 labels or soft targets in [0, 1].</param>
    /// <param name="schedule">The gamma schedule; null (default) is FLSD-53, <see cref="GammaSchedule.Flsd53"/>.</param>
    /// <param name="alpha">Positive-class weight in [0, 1]; null (default): no class weighting, as in the paper.</param>
    /// <param name="reduction"><c>None</c> (per element), <c>Mean</c> (default) or <c>Sum</c>.</param>
    public static Tensor sigmoid_focal_loss_sample_dependent(Tensor inputs, Tensor targets, GammaSchedule? schedule = null, double? alpha = null, Reduction reduction = Reduction.Mean)
    {
        TorchRuntime.EnsureLoaded();
        CheckBinary(inputs, nameof(inputs), targets, alpha, 0, reduction);
        schedule ??= GammaSchedule.Flsd53;
        var hardTargets = Guard.TargetsAreHard(targets, nameof(targets));
        using var scope = NewDisposeScope();
        Tensor ce_loss, log_1m_p_t, p_t;
        if (hardTargets)
        {
            var z = inputs * (2 * targets - 1);   // signed towards the true class: p_t = sigmoid(z)
            ce_loss = -F.logsigmoid(z);
            log_1m_p_t = F.logsigmoid(-z);
            p_t = z.detach().sigmoid();
        }
        else
        {
            var log_p = F.logsigmoid(inputs);
            var log_1m_p = F.logsigmoid(-inputs);
            ce_loss = -(targets * log_p + (1 - targets) * log_1m_p);
            log_1m_p_t = SoftLogOneMinusPt(log_p, log_1m_p, targets);
            var p = inputs.detach().sigmoid();
            p_t = p * targets + (1 - p) * (1 - targets);
        }
        var gamma = schedule.GammaFor(p_t);
        var loss = (gamma * log_1m_p_t).exp() * ce_loss;
        return Reduce(AlphaWeighted(loss, targets, alpha), reduction).MoveToOuterDisposeScope();
    }
}
