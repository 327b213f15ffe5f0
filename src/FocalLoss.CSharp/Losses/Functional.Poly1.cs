using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;

namespace FocalLoss;

public static partial class Functional
{
    /// <summary>
    /// Poly-1 cross-entropy on logits (Leng et al. 2022, "PolyLoss: A Polynomial Expansion Perspective of
    /// Classification Loss Functions", arXiv:2204.12511): <c>Poly1 = CE + epsilon (1 - p_t)</c> with
    /// <c>p = sigmoid(inputs)</c>, <c>p_t = p t + (1 - p)(1 - t)</c>. It is <see cref="poly1_focal_loss"/> with
    /// <c>alpha = null</c> and <c>gamma = 0</c>.
    /// </summary>
    /// <remarks><c>1 - p_t</c> comes from <c>logsigmoid</c> (hard targets) or the soft-target log-space form of
    /// <see cref="sigmoid_focal_loss"/>, so it keeps full relative accuracy at saturated logits.</remarks>
    /// <param name="inputs">Logits, any shape, floating point.</param>
    /// <param name="targets">Same shape and dtype; 0/1 labels or soft targets in [0, 1].</param>
    /// <param name="epsilon">Coefficient of the first polynomial term, finite and >= -1 (default 1, the paper's
    /// recommendation for ImageNet-style training); 0 gives plain BCE, -1 removes the leading term of CE's expansion.</param>
    /// <param name="labelSmoothing">In [0, 1) (default 0: off): computed on the targets <c>t (1 - labelSmoothing) + labelSmoothing / 2</c>.</param>
    /// <param name="reduction"><c>None</c> (per element), <c>Mean</c> (default) or <c>Sum</c>.</param>
    public static Tensor poly1_cross_entropy(Tensor inputs, Tensor targets, double epsilon = 1.0, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean) =>
        poly1_focal_loss(inputs, targets, null, 0.0, epsilon, labelSmoothing, reduction);

    /// <summary>
    /// Poly-1 focal loss on logits (Leng et al. 2022, arXiv:2204.12511):
    /// <c>Poly1 = FL + epsilon (1 - p_t)^(gamma + 1)</c>, with <c>FL = alpha_t (1 - p_t)^gamma CE</c> as in
    /// <see cref="sigmoid_focal_loss"/>. As in the paper's code, alpha weights the focal term only, not the
    /// polynomial term.
    /// </summary>
    /// <remarks>Both <c>(1 - p_t)</c> powers are <c>exp(k log(1 - p_t))</c> with <c>log(1 - p_t)</c> from
    /// <c>logsigmoid</c>: finite for float32 logits of +-100.</remarks>
    /// <param name="inputs">Logits, any shape, floating point.</param>
    /// <param name="targets">Same shape and dtype; 0/1 labels or soft targets in [0, 1] (torchvision's p_t).</param>
    /// <param name="alpha">Positive-class weight of the focal term in [0, 1] (default 0.25); <c>null</c>: no class weighting.</param>
    /// <param name="gamma">Focusing parameter, finite and >= 0 (default 2).</param>
    /// <param name="epsilon">Coefficient of the polynomial term, finite and >= -1 (default 1); 0 gives <see cref="sigmoid_focal_loss"/>.</param>
    /// <param name="labelSmoothing">In [0, 1) (default 0: off): computed on the targets <c>t (1 - labelSmoothing) + labelSmoothing / 2</c>.</param>
    /// <param name="reduction"><c>None</c> (per element), <c>Mean</c> (default) or <c>Sum</c>.</param>
    public static Tensor poly1_focal_loss(Tensor inputs, Tensor targets, double? alpha = 0.25, double gamma = 2.0, double epsilon = 1.0, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean)
    {
        TorchRuntime.EnsureLoaded();
        CheckBinary(inputs, nameof(inputs), targets, alpha, gamma, reduction);
        Guard.Epsilon(epsilon);
        Guard.LabelSmoothing(labelSmoothing);
        var hardTargets = Guard.TargetsAreHard(targets, nameof(targets)) && labelSmoothing == 0;
        using var scope = NewDisposeScope();
        if (labelSmoothing != 0) targets = Smoothed(targets, labelSmoothing);
        Tensor ce_loss, log_1m_p_t;
        if (hardTargets)
        {
            var z = inputs * (2 * targets - 1);   // signed towards the true class: p_t = sigmoid(z)
            ce_loss = -F.logsigmoid(z);
            log_1m_p_t = F.logsigmoid(-z);
        }
        else
        {
            var log_p = F.logsigmoid(inputs);
            var log_1m_p = F.logsigmoid(-inputs);
            ce_loss = -(targets * log_p + (1 - targets) * log_1m_p);
            log_1m_p_t = SoftLogOneMinusPt(log_p, log_1m_p, targets);
        }
        var focal = gamma == 0 ? ce_loss : (gamma * log_1m_p_t).exp() * ce_loss;
        var poly1 = AlphaWeighted(focal, targets, alpha) + epsilon * ((gamma + 1) * log_1m_p_t).exp();
        return Reduce(poly1, reduction).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Multi-class Poly-1 cross-entropy on logits (Leng et al. 2022, arXiv:2204.12511):
    /// <c>Poly1 = CE + epsilon (1 - p_t)</c> with <c>p = softmax(inputs, dim 1)</c> and <c>p_t = p[t]</c>. With label
    /// smoothing, as in the paper's code on smoothed labels, <c>p_t = sum_k q_k p_k</c> and CE is PyTorch's
    /// label-smoothed cross-entropy, so <c>1 - p_t = (1 - eps)(1 - p[t]) + eps (C - 1) / C</c>.
    /// </summary>
    /// <remarks><c>1 - p[t]</c> is the sum of the other classes' probabilities (a log-sum-exp), accurate at
    /// saturation. <c>Mean</c> divides by the number of non-ignored targets.</remarks>
    /// <param name="inputs">Logits <c>[N, C]</c> or <c>[N, C, d1, ...]</c>, floating point, C >= 2.</param>
    /// <param name="targets">Int64 class indices <c>[N]</c> or <c>[N, d1, ...]</c>, each in [0, C) or <paramref name="ignoreIndex"/>.</param>
    /// <param name="epsilon">Coefficient of the first polynomial term, finite and >= -1 (default 1); 0 gives the cross-entropy.</param>
    /// <param name="ignoreIndex">Target value that contributes nothing and is excluded from the mean (default -100).</param>
    /// <param name="labelSmoothing">In [0, 1) (default 0: off): <c>q = (1 - eps) onehot(t) + eps / C</c>.</param>
    /// <param name="reduction"><c>None</c> (shape of targets, ignored entries 0), <c>Mean</c> (default) or <c>Sum</c>.</param>
    public static Tensor softmax_poly1_cross_entropy(Tensor inputs, Tensor targets, double epsilon = 1.0, long ignoreIndex = -100, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean)
    {
        TorchRuntime.EnsureLoaded();
        var classes = CheckMultiClass(inputs, targets, null, ignoreIndex);
        Guard.Epsilon(epsilon);
        Guard.LabelSmoothing(labelSmoothing);
        Guard.Reduction(reduction);
        using var scope = NewDisposeScope();
        var valid = targets.ne(ignoreIndex);
        var target = targets.masked_fill(valid.logical_not(), 0).unsqueeze(1);
        var log_p = F.log_softmax(inputs, 1);
        var ce_loss = SoftmaxFocalTerm(log_p, target, classes, null, 0.0, labelSmoothing);
        var one_minus_p_t = SoftmaxLogOneMinusPt(log_p, target, classes).exp();
        if (labelSmoothing != 0)
            one_minus_p_t = (1 - labelSmoothing) * one_minus_p_t + labelSmoothing * (classes - 1) / classes;
        var poly1 = ce_loss + epsilon * one_minus_p_t;
        return ReduceValid(poly1, valid, reduction).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Multi-class Poly-1 focal loss on logits (Leng et al. 2022, arXiv:2204.12511):
    /// <c>Poly1 = FL + epsilon (1 - p_t)^(gamma + 1)</c> with FL as in <see cref="softmax_focal_loss"/>. Per-class
    /// alpha weights the focal term only, as in the paper's code. With label smoothing both terms are summed over
    /// <c>q = (1 - eps) onehot(t) + eps / C</c>: <c>FL = -sum_k q_k alpha_k (1 - p_k)^gamma log p_k</c> and the
    /// polynomial term <c>epsilon sum_k q_k (1 - p_k)^(gamma + 1)</c> (for gamma = 0 this is the paper's
    /// <c>epsilon (1 - sum_k q_k p_k)</c>).
    /// </summary>
    /// <remarks>Every <c>log(1 - p_k)</c> is computed without cancellation (see <see cref="softmax_focal_loss"/>).
    /// <c>Mean</c> divides by the number of non-ignored targets; alpha does not renormalise it.</remarks>
    /// <param name="inputs">Logits <c>[N, C]</c> or <c>[N, C, d1, ...]</c>, floating point, C >= 2.</param>
    /// <param name="targets">Int64 class indices <c>[N]</c> or <c>[N, d1, ...]</c>, each in [0, C) or <paramref name="ignoreIndex"/>.</param>
    /// <param name="alpha">Optional per-class weights of the focal term, 1-D of length C, finite and >= 0; null: no weighting.</param>
    /// <param name="gamma">Focusing parameter, finite and >= 0 (default 2).</param>
    /// <param name="epsilon">Coefficient of the polynomial term, finite and >= -1 (default 1); 0 gives <see cref="softmax_focal_loss"/>.</param>
    /// <param name="ignoreIndex">Target value that contributes nothing and is excluded from the mean (default -100).</param>
    /// <param name="labelSmoothing">In [0, 1) (default 0: off), see the summary.</param>
    /// <param name="reduction"><c>None</c> (shape of targets, ignored entries 0), <c>Mean</c> (default) or <c>Sum</c>.</param>
    public static Tensor softmax_poly1_focal_loss(Tensor inputs, Tensor targets, Tensor? alpha = null, double gamma = 2.0, double epsilon = 1.0, long ignoreIndex = -100, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean)
    {
        TorchRuntime.EnsureLoaded();
        var classes = CheckMultiClass(inputs, targets, alpha, ignoreIndex);
        Guard.Gamma(gamma);
        Guard.Epsilon(epsilon);
        Guard.LabelSmoothing(labelSmoothing);
        Guard.Reduction(reduction);
        using var scope = NewDisposeScope();
        var valid = targets.ne(ignoreIndex);
        var target = targets.masked_fill(valid.logical_not(), 0).unsqueeze(1);
        var log_p = F.log_softmax(inputs, 1);
        var focal = SoftmaxFocalTerm(log_p, target, classes, alpha, gamma, labelSmoothing);
        var poly_term = ((gamma + 1) * SoftmaxLogOneMinusPt(log_p, target, classes)).exp();
        if (labelSmoothing != 0)
            poly_term = (1 - labelSmoothing) * poly_term + labelSmoothing / classes * ((gamma + 1) * LogOneMinusSoftmax(log_p, classes)).exp().sum(1);
        var poly1 = focal + epsilon * poly_term;
        return ReduceValid(poly1, valid, reduction).MoveToOuterDisposeScope();
    }
}
