using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;
using F = TorchSharp.torch.nn.functional;
using FocalLoss.Infrastructure;

namespace FocalLoss;

/// <summary>
/// The loss family as pure functions, TorchSharp style: validate, compute the per-element loss with the
/// paper's names, reduce exactly once at the end. Parameter names follow torchvision
/// (<c>torchvision/ops/focal_loss.py</c>) so a reader can diff the port against the original.
/// Every function calls <see cref="TorchRuntime.EnsureLoaded"/> first, so it works as the first call of a
/// program; the device follows the inputs (CPU or CUDA). The family is split over files by idea:
/// <c>Functional.cs</c> holds focal loss and the baselines, <c>Functional.*.cs</c> the later members
/// (Asymmetric Loss, Poly-1, FL*, sample-dependent focal loss, normalisation by the number of positives).
/// </summary>
/// <remarks>
/// Label smoothing (<c>labelSmoothing</c>, in [0, 1), default 0 = off) is one definition per task. Binary
/// losses smooth the targets towards 1/2, <c>t' = t (1 - eps) + eps / 2</c>, and then are exactly the same
/// function on the soft targets <c>t'</c>. Multi-class losses smooth the one-hot target towards uniform,
/// <c>q = (1 - eps) onehot(t) + eps / C</c>, and sum their per-class terms over q: for the cross-entropy this is
/// PyTorch's <c>cross_entropy(label_smoothing)</c>; for the softmax focal loss it is
/// <c>-sum_k q_k alpha_k (1 - p_k)^gamma log p_k</c>. The literature has no single definition of a
/// label-smoothed focal loss; this one is our choice: each class keeps its own modulating factor, and
/// <c>eps = 0</c> gives the standard form exactly (the same code path, bit for bit).
/// </remarks>
public static partial class Functional
{
    /// <summary>
    /// Focal loss on logits (Lin et al. 2017, "Focal Loss for Dense Object Detection", arXiv:1708.02002):
    /// <c>FL = alpha_t * (1 - p_t)^gamma * CE(p, t)</c> with <c>p = sigmoid(inputs)</c>,
    /// <c>p_t = p t + (1 - p)(1 - t)</c>, <c>alpha_t = alpha t + (1 - alpha)(1 - t)</c>.
    /// </summary>
    /// <remarks>
    /// Unlike torchvision, the modulating factor is computed in log space,
    /// <c>(1 - p_t)^gamma = exp(gamma * log(1 - p_t))</c> with <c>log(1 - p_t)</c> built from
    /// <c>logsigmoid</c>, so loss and gradient stay finite for float32 logits of +-100 and every
    /// <c>gamma >= 0</c>, including <c>0 &lt; gamma &lt; 1</c> where torchvision's gradient is NaN at
    /// saturated, correctly classified logits. Values match torchvision wherever it is finite.
    /// </remarks>
    /// <param name="inputs">Logits of any shape, floating point.</param>
    /// <param name="targets">Same shape and dtype as <paramref name="inputs"/>; 0/1 labels, or soft targets in [0, 1].</param>
    /// <param name="alpha">Weight of the positive class in [0, 1] (default 0.25); negatives get <c>1 - alpha</c>.
    /// <c>null</c> turns class weighting off (torchvision's <c>alpha = -1</c>).</param>
    /// <param name="gamma">Focusing parameter, finite and >= 0 (default 2). <c>gamma = 0</c> gives alpha-weighted BCE.</param>
    /// <param name="labelSmoothing">In [0, 1) (default 0: off): the loss is computed on the smoothed targets
    /// <c>t (1 - labelSmoothing) + labelSmoothing / 2</c> (see the class remarks), alpha_t included.</param>
    /// <param name="reduction"><c>None</c> (per element), <c>Mean</c> (default) or <c>Sum</c>.</param>
    public static Tensor sigmoid_focal_loss(Tensor inputs, Tensor targets, double? alpha = 0.25, double gamma = 2.0, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean)
    {
        TorchRuntime.EnsureLoaded();
        CheckBinary(inputs, nameof(inputs), targets, alpha, gamma, reduction);
        Guard.LabelSmoothing(labelSmoothing);
        if (SigmoidFocalPath(inputs, targets) == FocalKernel.Fused)
            return FusedSigmoidFocal.Apply(inputs, targets, new FocalParameters(alpha ?? double.NaN, gamma, labelSmoothing, reduction));
        var hardTargets = Guard.TargetsAreHard(targets, nameof(targets)) && labelSmoothing == 0;
        using var scope = NewDisposeScope();
        if (labelSmoothing != 0) targets = Smoothed(targets, labelSmoothing);
        Tensor ce_loss, loss;
        if (hardTargets)
        {
            // z is the logit signed towards the true class: p_t = sigmoid(z), 1 - p_t = sigmoid(-z), so
            // CE = -log sigmoid(z) and log(1 - p_t) = log sigmoid(-z), each straight from logsigmoid with
            // full relative accuracy (torch's fused BCE-with-logits computes log(1 + e^-|x|) without log1p).
            var z = inputs * (2 * targets - 1);
            ce_loss = -F.logsigmoid(z);
            loss = gamma == 0 ? ce_loss : (gamma * F.logsigmoid(-z)).exp() * ce_loss;
        }
        else
        {
            var log_p = F.logsigmoid(inputs);
            var log_1m_p = F.logsigmoid(-inputs);
            ce_loss = -(targets * log_p + (1 - targets) * log_1m_p);
            loss = gamma == 0 ? ce_loss : SoftModulatingFactor(log_p, log_1m_p, targets, gamma) * ce_loss;
        }
        return Reduce(AlphaWeighted(loss, targets, alpha), reduction).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// The seed tutorial's focal loss, computed from probabilities exactly as it writes it:
    /// <c>at = a t + (1 - a)(1 - t); pt = p t + (1 - p)(1 - t); loss = -at * (1 - pt)^g * log(pt)</c>.
    /// Kept for faithful replication of the seed experiment; prefer <see cref="sigmoid_focal_loss"/>.
    /// </summary>
    /// <remarks>
    /// Not numerically safe, on purpose (nothing is clamped): when <c>pt</c> rounds to 0 the loss is
    /// <c>+inf</c> and its gradient NaN. A float32 sigmoid rounds to exactly 1 from a logit of about
    /// 16.6, so a wrong-side sample with logit >= 17 and target 0 gives <c>+inf</c>; in float64 this
    /// happens from about 37. For <c>0 &lt; g &lt; 1</c> the gradient of <c>(1 - pt)^g</c> is NaN
    /// wherever <c>pt</c> is exactly 1 (saturated, correct).
    /// </remarks>
    /// <param name="probabilities">Probabilities of the positive class in [0, 1], any shape, floating point.</param>
    /// <param name="targets">Same shape and dtype; 0/1 labels or soft targets in [0, 1].</param>
    /// <param name="alpha">Positive-class weight in [0, 1] (default 0.25); <c>null</c>: no class weighting.</param>
    /// <param name="gamma">Focusing parameter, finite and >= 0 (default 2).</param>
    /// <param name="reduction"><c>None</c>, <c>Mean</c> (default) or <c>Sum</c>.</param>
    public static Tensor focal_loss_from_probabilities(Tensor probabilities, Tensor targets, double? alpha = 0.25, double gamma = 2.0, Reduction reduction = Reduction.Mean)
    {
        TorchRuntime.EnsureLoaded();
        CheckBinary(probabilities, nameof(probabilities), targets, alpha, gamma, reduction);
        if (SigmoidFocalPath(probabilities, targets, nameof(probabilities)) == FocalKernel.Fused)
            // The same formula in one pass each way; both inputs are range-checked inside the forward pass.
            return FusedSigmoidFocal.Apply(probabilities, targets, new FocalParameters(alpha ?? double.NaN, gamma, 0, reduction, OnProbabilities: true));
        Guard.InUnitInterval(targets, nameof(targets));
        Guard.InUnitInterval(probabilities, nameof(probabilities));
        using var scope = NewDisposeScope();
        var p = probabilities;
        var p_t = p * targets + (1 - p) * (1 - targets);
        var loss = -(1 - p_t).pow(gamma) * p_t.log();
        return Reduce(AlphaWeighted(loss, targets, alpha), reduction).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Multi-class focal loss on logits: <c>FL = -alpha[t] * (1 - p_t)^gamma * log(p_t)</c> with
    /// <c>p = softmax(inputs, dim 1)</c> and <c>p_t = p[t]</c>. With two classes, <c>alpha = null</c> and no label
    /// smoothing it equals <see cref="sigmoid_focal_loss"/> on the logit difference. With label smoothing
    /// <c>eps</c>: <c>FL = -sum_k q_k alpha_k (1 - p_k)^gamma log p_k</c>, <c>q = (1 - eps) onehot(t) + eps / C</c>
    /// (a choice, see the class remarks).
    /// </summary>
    /// <remarks>
    /// <c>log(1 - p_t)</c> is the log-sum-exp of the other classes' log-probabilities, so the
    /// modulating factor is computed in log space and stays finite for saturated logits. With label smoothing,
    /// <c>log(1 - p_k)</c> of every class is the log-sum-exp of the others for the most probable class and
    /// <c>log1p(-p_k)</c> for the rest (each p_k &lt;= 1/2 there), so it stays accurate too.
    /// <c>Mean</c> divides the sum by the number of non-ignored targets (alpha does not renormalise the
    /// mean, as in torchvision's sigmoid form; PyTorch's <c>cross_entropy(weight)</c> divides by the
    /// weight sum instead). If every target is ignored, <c>Mean</c> is NaN, as in PyTorch.
    /// </remarks>
    /// <param name="inputs">Logits <c>[N, C]</c> or <c>[N, C, d1, ...]</c>, floating point, C >= 2.</param>
    /// <param name="targets">Class indices (Int64) of shape <c>[N]</c> or <c>[N, d1, ...]</c>, each in [0, C) or <paramref name="ignoreIndex"/>.</param>
    /// <param name="alpha">Optional per-class weights, a 1-D tensor of length C with finite values >= 0; null: no weighting.</param>
    /// <param name="gamma">Focusing parameter, finite and >= 0 (default 2). <c>gamma = 0</c> gives (weighted) cross-entropy.</param>
    /// <param name="ignoreIndex">Target value that contributes nothing and is excluded from the mean (default -100).</param>
    /// <param name="labelSmoothing">In [0, 1) (default 0: off), see the summary.</param>
    /// <param name="reduction"><c>None</c> (shape of targets, ignored entries 0), <c>Mean</c> (default) or <c>Sum</c>.</param>
    public static Tensor softmax_focal_loss(Tensor inputs, Tensor targets, Tensor? alpha = null, double gamma = 2.0, long ignoreIndex = -100, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean)
    {
        TorchRuntime.EnsureLoaded();
        var classes = CheckMultiClass(inputs, targets, alpha, ignoreIndex);
        Guard.Gamma(gamma);
        Guard.LabelSmoothing(labelSmoothing);
        Guard.Reduction(reduction);
        using var scope = NewDisposeScope();
        var valid = targets.ne(ignoreIndex);
        var target = targets.masked_fill(valid.logical_not(), 0).unsqueeze(1);
        var log_p = F.log_softmax(inputs, 1);
        var loss = SoftmaxFocalTerm(log_p, target, classes, alpha, gamma, labelSmoothing);
        return ReduceValid(loss, valid, reduction).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Baseline: plain binary cross-entropy on logits, <c>-(t log p + (1 - t) log(1 - p))</c>, from
    /// TorchSharp's fused <c>binary_cross_entropy_with_logits</c>, with the same checks as the focal losses.
    /// </summary>
    /// <param name="inputs">Logits, any shape, floating point.</param>
    /// <param name="targets">Same shape and dtype, values in [0, 1].</param>
    /// <param name="labelSmoothing">In [0, 1) (default 0: off): the targets become <c>t (1 - labelSmoothing) + labelSmoothing / 2</c>.</param>
    /// <param name="reduction"><c>None</c>, <c>Mean</c> (default) or <c>Sum</c>.</param>
    public static Tensor binary_cross_entropy_with_logits(Tensor inputs, Tensor targets, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean)
    {
        TorchRuntime.EnsureLoaded();
        CheckBinary(inputs, nameof(inputs), targets, null, 0, reduction);
        Guard.LabelSmoothing(labelSmoothing);
        Guard.InUnitInterval(targets, nameof(targets));
        if (labelSmoothing == 0) return F.binary_cross_entropy_with_logits(inputs, targets, reduction: reduction);
        using var scope = NewDisposeScope();
        return F.binary_cross_entropy_with_logits(inputs, Smoothed(targets, labelSmoothing), reduction: reduction).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Baseline: alpha-balanced binary cross-entropy on logits, <c>alpha_t * CE</c> (Lin et al. 2017,
    /// section 3.1): the focal loss with <c>gamma = 0</c>.
    /// </summary>
    /// <param name="inputs">Logits, any shape, floating point.</param>
    /// <param name="targets">Same shape and dtype, values in [0, 1].</param>
    /// <param name="alpha">Positive-class weight in [0, 1] (default 0.25).</param>
    /// <param name="labelSmoothing">In [0, 1) (default 0: off): computed on the targets <c>t (1 - labelSmoothing) + labelSmoothing / 2</c>, alpha_t included.</param>
    /// <param name="reduction"><c>None</c>, <c>Mean</c> (default) or <c>Sum</c>.</param>
    public static Tensor balanced_binary_cross_entropy_with_logits(Tensor inputs, Tensor targets, double alpha = 0.25, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean) =>
        sigmoid_focal_loss(inputs, targets, alpha, 0.0, labelSmoothing, reduction);

    /// <summary>
    /// Baseline: softmax cross-entropy, PyTorch's <c>cross_entropy</c> (optional class <paramref name="weight"/>,
    /// whose <c>Mean</c> divides by the summed weights of non-ignored targets; optional <c>label_smoothing</c>),
    /// with the focal losses' checks.
    /// </summary>
    /// <param name="inputs">Logits <c>[N, C]</c> or <c>[N, C, d1, ...]</c>.</param>
    /// <param name="targets">Int64 class indices, shape <c>[N]</c> or <c>[N, d1, ...]</c>.</param>
    /// <param name="weight">Optional per-class weights of length C, finite and >= 0.</param>
    /// <param name="ignoreIndex">Target value to ignore (default -100).</param>
    /// <param name="labelSmoothing">In [0, 1) (default 0: off): PyTorch's <c>label_smoothing</c>, the target
    /// <c>q = (1 - labelSmoothing) onehot(t) + labelSmoothing / C</c>.</param>
    /// <param name="reduction"><c>None</c>, <c>Mean</c> (default) or <c>Sum</c>.</param>
    public static Tensor softmax_cross_entropy(Tensor inputs, Tensor targets, Tensor? weight = null, long ignoreIndex = -100, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean)
    {
        TorchRuntime.EnsureLoaded();
        CheckMultiClass(inputs, targets, weight, ignoreIndex, nameof(weight));
        Guard.LabelSmoothing(labelSmoothing);
        Guard.Reduction(reduction);
        return F.cross_entropy(inputs, targets, weight?.to(inputs.dtype), ignoreIndex, reduction, labelSmoothing);
    }

    /// <summary><c>(1 - p_t)^gamma</c> in log space for soft targets: exp(gamma * log(1 - p_t)), with torchvision's p_t.</summary>
    private static Tensor SoftModulatingFactor(Tensor log_p, Tensor log_1m_p, Tensor targets, double gamma) =>
        (gamma * SoftLogOneMinusPt(log_p, log_1m_p, targets)).exp();

    /// <summary><c>log(1 - p_t)</c> for soft targets, with torchvision's <c>p_t = p t + (1 - p)(1 - t)</c>.</summary>
    private static Tensor SoftLogOneMinusPt(Tensor log_p, Tensor log_1m_p, Tensor targets)
    {
        // 1 - p_t = t (1 - p) + (1 - t) p, so log(1 - p_t) = logaddexp(log t + log(1 - p), log(1 - t) + log p).
        // If some targets are 0 or 1, one branch is log 0 = -inf there and logaddexp returns the other
        // exactly, with gradient weight exp(-inf) = 0 on the dead branch, so no NaN arises (libtorch's
        // kernels take a slow path on such infinities, hence the separate hard-target path above).
        var log_1m_p_t = logaddexp(targets.log() + log_1m_p, (-targets).log1p() + log_p);
        return log_1m_p_t;
    }

    /// <summary>Binary label smoothing: the targets pulled towards 1/2, <c>t (1 - eps) + eps / 2</c>.</summary>
    private static Tensor Smoothed(Tensor targets, double labelSmoothing) => targets * (1 - labelSmoothing) + labelSmoothing / 2;

    /// <summary>
    /// The per-element softmax focal loss before ignored entries are masked:
    /// <c>-sum_k q_k alpha_k (1 - p_k)^gamma log p_k</c> with <c>q = (1 - eps) onehot(target) + eps / C</c>.
    /// Without smoothing only the target's term is computed: <c>-alpha_t (1 - p_t)^gamma log p_t</c>.
    /// </summary>
    /// <remarks><paramref name="log_p"/>: log-probabilities, classes along dim 1; <paramref name="target"/>: class
    /// indices with the class dim kept (size 1), ignored entries replaced by a valid class.</remarks>
    private static Tensor SoftmaxFocalTerm(Tensor log_p, Tensor target, long classes, Tensor? alpha, double gamma, double labelSmoothing)
    {
        var log_p_t = log_p.gather(1, target).squeeze(1);
        var ce_loss = -log_p_t;
        var loss = ce_loss;
        if (gamma != 0)
        {
            var log_1m_p_t = SoftmaxLogOneMinusPt(log_p, target, classes);
            loss = (gamma * log_1m_p_t).exp() * ce_loss;
        }
        if (alpha is not null)
        {
            var alpha_t = alpha.to(log_p.dtype).index_select(0, target.flatten()).view(ce_loss.shape);
            loss = alpha_t * loss;
        }
        if (labelSmoothing == 0) return loss;
        // The uniform part of q: every class k, weighted by eps / C, with its own modulating factor and alpha_k.
        var per_class = -log_p;
        if (gamma != 0) per_class = (gamma * LogOneMinusSoftmax(log_p, classes)).exp() * per_class;
        if (alpha is not null) per_class = alpha.to(log_p.dtype).view(ClassAxisShape(log_p.dim(), classes)) * per_class;
        return (1 - labelSmoothing) * loss + labelSmoothing / classes * per_class.sum(1);
    }

    /// <summary><c>log(1 - p_t)</c> of the target class: the log-sum-exp of the other classes' log-probabilities.</summary>
    private static Tensor SoftmaxLogOneMinusPt(Tensor log_p, Tensor target, long classes)
    {
        var classIds = arange(classes, device: log_p.device).view(ClassAxisShape(log_p.dim(), classes));
        return log_p.masked_fill(classIds.eq(target), double.NegativeInfinity).logsumexp(1);
    }

    /// <summary>
    /// <c>log(1 - p_k)</c> for every class k, accurate everywhere: for the most probable class the log-sum-exp of
    /// the others; for every other class <c>log1p(-p_k)</c>, well conditioned because such a p_k is at most 1/2.
    /// Both branches see safe inputs, so neither puts a NaN into the other's gradient.
    /// </summary>
    private static Tensor LogOneMinusSoftmax(Tensor log_p, long classes)
    {
        var classIds = arange(classes, device: log_p.device).view(ClassAxisShape(log_p.dim(), classes));
        var isTop = classIds.eq(log_p.detach().argmax(1, keepdim: true));
        var log_1m_p_top = log_p.masked_fill(isTop, double.NegativeInfinity).logsumexp(1, keepdim: true);
        var p_rest = log_p.exp().masked_fill(isTop, 0);
        return where(isTop, log_1m_p_top, (-p_rest).log1p());
    }

    /// <summary>Zeroes ignored entries, then reduces; <c>Mean</c> divides by the number of entries not ignored.</summary>
    private static Tensor ReduceValid(Tensor loss, Tensor valid, Reduction reduction)
    {
        loss = where(valid, loss, zeros_like(loss));
        return reduction switch
        {
            Reduction.None => loss,
            Reduction.Sum => loss.sum(),
            _ => loss.sum() / valid.sum().to(loss.dtype),
        };
    }

    private static Tensor AlphaWeighted(Tensor loss, Tensor targets, double? alpha)
    {
        if (alpha is not { } a) return loss;
        var alpha_t = a * targets + (1 - a) * (1 - targets);
        return alpha_t * loss;
    }

    private static Tensor Reduce(Tensor loss, Reduction reduction) => reduction switch
    {
        Reduction.None => loss,
        Reduction.Sum => loss.sum(),
        Reduction.Mean => loss.mean(),
        _ => throw new ArgumentException($"reduction must be None, Mean or Sum, got {(int)reduction}", nameof(reduction)),
    };

    private static long[] ClassAxisShape(long dims, long classes)
    {
        var shape = Enumerable.Repeat(1L, (int)dims).ToArray();
        shape[1] = classes;
        return shape;
    }

    private static void CheckBinary(Tensor inputs, string inputsName, Tensor targets, double? alpha, double gamma, Reduction reduction)
    {
        Guard.FloatingPoint(inputs, inputsName);
        Guard.SameShape(targets, nameof(targets), inputs, inputsName);
        Guard.SameDtype(targets, nameof(targets), inputs, inputsName);
        Guard.SameDevice(targets, nameof(targets), inputs, inputsName);
        Guard.Gamma(gamma);
        Guard.Alpha(alpha);
        Guard.Reduction(reduction);
    }

    private static long CheckMultiClass(Tensor inputs, Tensor targets, Tensor? alpha, long ignoreIndex, string alphaName = "alpha")
    {
        Guard.FloatingPoint(inputs, nameof(inputs));
        if (inputs.dim() < 2)
            throw new ArgumentException($"inputs must be [N, C] or [N, C, d1, ...], got shape {Format.Shape(inputs.shape)}", nameof(inputs));
        var classes = inputs.shape[1];
        if (classes < 2)
            throw new ArgumentException($"inputs must have at least 2 classes along dim 1, got shape {Format.Shape(inputs.shape)}", nameof(inputs));
        var expected = inputs.shape.Take(1).Concat(inputs.shape.Skip(2)).ToArray();
        if (!targets.shape.AsSpan().SequenceEqual(expected))
            throw new ArgumentException($"targets shape {Format.Shape(targets.shape)} must equal inputs shape without the class dim {Format.Shape(expected)}", nameof(targets));
        Guard.SameDevice(targets, nameof(targets), inputs, nameof(inputs));
        Guard.ClassIndices(targets, nameof(targets), classes, ignoreIndex);
        if (alpha is not null)
        {
            if (alpha.dim() != 1 || alpha.shape[0] != classes)
                throw new ArgumentException($"{alphaName} must be a 1-D tensor of length C = {classes}, got shape {Format.Shape(alpha.shape)}", alphaName);
            Guard.FloatingPoint(alpha, alphaName);
            Guard.SameDevice(alpha, alphaName, inputs, nameof(inputs));
            if (Guard.CheckTensorValues) Guard.NonNegativeFinite(alpha, alphaName);
        }
        return classes;
    }
}
