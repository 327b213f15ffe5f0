using System.Reflection;
using FocalLoss.Data;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FocalLoss;

/// <summary>
/// Factories for the loss modules (TorchSharp's third entry point, beside the functional form and the
/// sealed module). Each factory has its module's name and its constructor's parameters.
/// </summary>
public static class Losses
{
    /// <summary>Creates a <see cref="FocalLoss.SigmoidFocalLoss"/>.</summary>
    public static SigmoidFocalLoss SigmoidFocalLoss(double? alpha = 0.25, double gamma = 2.0, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean) => new(alpha, gamma, labelSmoothing, reduction);

    /// <summary>Creates a <see cref="FocalLoss.FocalLossFromProbabilities"/> (the seed's form).</summary>
    public static FocalLossFromProbabilities FocalLossFromProbabilities(double? alpha = 0.25, double gamma = 2.0, Reduction reduction = Reduction.Mean) => new(alpha, gamma, reduction);

    /// <summary>Creates a <see cref="FocalLoss.SoftmaxFocalLoss"/>.</summary>
    public static SoftmaxFocalLoss SoftmaxFocalLoss(Tensor? alpha = null, double gamma = 2.0, long ignoreIndex = -100, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean) => new(alpha, gamma, ignoreIndex, labelSmoothing, reduction);

    /// <summary>Creates a <see cref="FocalLoss.BinaryCrossEntropyWithLogitsLoss"/>, the plain binary cross-entropy baseline.</summary>
    public static BinaryCrossEntropyWithLogitsLoss BinaryCrossEntropyWithLogitsLoss(double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean) => new(labelSmoothing, reduction);

    /// <summary>Creates a <see cref="FocalLoss.BalancedBinaryCrossEntropyWithLogitsLoss"/>, the alpha-balanced baseline.</summary>
    public static BalancedBinaryCrossEntropyWithLogitsLoss BalancedBinaryCrossEntropyWithLogitsLoss(double alpha = 0.25, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean) => new(alpha, labelSmoothing, reduction);

    /// <summary>Creates a <see cref="FocalLoss.SoftmaxCrossEntropyLoss"/>, the multi-class baseline.</summary>
    public static SoftmaxCrossEntropyLoss SoftmaxCrossEntropyLoss(Tensor? weight = null, long ignoreIndex = -100, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean) => new(weight, ignoreIndex, labelSmoothing, reduction);

    /// <summary>Creates a <see cref="FocalLoss.AsymmetricLoss"/> (ASL, multi-label).</summary>
    public static AsymmetricLoss AsymmetricLoss(double gamma_neg = 4.0, double gamma_pos = 1.0, double clip = 0.05, bool detach_focusing_weight = false, Reduction reduction = Reduction.Mean) =>
        new(gamma_neg, gamma_pos, clip, detach_focusing_weight, reduction);

    /// <summary>Creates a <see cref="FocalLoss.Poly1CrossEntropyLoss"/> (binary Poly-1 cross-entropy).</summary>
    public static Poly1CrossEntropyLoss Poly1CrossEntropyLoss(double epsilon = 1.0, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean) => new(epsilon, labelSmoothing, reduction);

    /// <summary>Creates a <see cref="FocalLoss.Poly1FocalLoss"/> (binary Poly-1 focal loss).</summary>
    public static Poly1FocalLoss Poly1FocalLoss(double? alpha = 0.25, double gamma = 2.0, double epsilon = 1.0, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean) =>
        new(alpha, gamma, epsilon, labelSmoothing, reduction);

    /// <summary>Creates a <see cref="FocalLoss.SoftmaxPoly1CrossEntropyLoss"/> (multi-class Poly-1 cross-entropy).</summary>
    public static SoftmaxPoly1CrossEntropyLoss SoftmaxPoly1CrossEntropyLoss(double epsilon = 1.0, long ignoreIndex = -100, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean) =>
        new(epsilon, ignoreIndex, labelSmoothing, reduction);

    /// <summary>Creates a <see cref="FocalLoss.SoftmaxPoly1FocalLoss"/> (multi-class Poly-1 focal loss).</summary>
    public static SoftmaxPoly1FocalLoss SoftmaxPoly1FocalLoss(Tensor? alpha = null, double gamma = 2.0, double epsilon = 1.0, long ignoreIndex = -100, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean) =>
        new(alpha, gamma, epsilon, ignoreIndex, labelSmoothing, reduction);

    /// <summary>Creates a <see cref="FocalLoss.FocalLossStar"/> (FL*).</summary>
    public static FocalLossStar FocalLossStar(double gamma = 2.0, double beta = 1.0, Reduction reduction = Reduction.Mean) => new(gamma, beta, reduction);

    /// <summary>Creates a <see cref="FocalLoss.SoftmaxFocalLossSampleDependent"/> (FLSD, multi-class; null schedule: FLSD-53).</summary>
    public static SoftmaxFocalLossSampleDependent SoftmaxFocalLossSampleDependent(GammaSchedule? schedule = null, Tensor? alpha = null, long ignoreIndex = -100, Reduction reduction = Reduction.Mean) =>
        new(schedule, alpha, ignoreIndex, reduction);

    /// <summary>Creates a <see cref="FocalLoss.SigmoidFocalLossSampleDependent"/> (FLSD, binary; null schedule: FLSD-53).</summary>
    public static SigmoidFocalLossSampleDependent SigmoidFocalLossSampleDependent(GammaSchedule? schedule = null, double? alpha = null, Reduction reduction = Reduction.Mean) =>
        new(schedule, alpha, reduction);
}

/// <summary>One loss of the family: its canonical name and what it is for.</summary>
/// <param name="Name">The canonical name: the name of its functional form in <see cref="Functional"/> and of
/// <see cref="LossModule.Name"/>; the module class and its <see cref="Losses"/> factory are the same name in PascalCase, with "Loss" appended where the name lacks it.</param>
/// <param name="Module">The sealed module class.</param>
/// <param name="Task">Binary, multi-class or multi-label.</param>
/// <param name="Input">Logits or probabilities.</param>
/// <param name="Summary">One line for tables and help texts.</param>
public sealed record LossInfo(string Name, Type Module, LossTask Task, LossInput Input, string Summary)
{
    /// <summary>The hyper-parameters: the module constructor's parameters other than <c>reduction</c>, in order.</summary>
    public IReadOnlyList<ParameterInfo> HyperParameters =>
        Module.GetConstructors().Single().GetParameters().Where(p => p.Name != "reduction").ToList();
}

/// <summary>The one table of the family's names. A name that is not here is an error, never another loss.</summary>
public static class LossRegistry
{
    /// <summary>Every loss, in the order the README's table lists them.</summary>
    public static IReadOnlyList<LossInfo> All { get; } =
    [
        new(nameof(Functional.sigmoid_focal_loss), typeof(SigmoidFocalLoss), LossTask.Binary, LossInput.Logits, "focal loss on logits (Lin et al. 2017)"),
        new(nameof(Functional.focal_loss_from_probabilities), typeof(FocalLossFromProbabilities), LossTask.Binary, LossInput.Probabilities, "the seed tutorial's focal loss on probabilities"),
        new(nameof(Functional.softmax_focal_loss), typeof(SoftmaxFocalLoss), LossTask.MultiClass, LossInput.Logits, "multi-class focal loss on logits"),
        new(nameof(Functional.binary_cross_entropy_with_logits), typeof(BinaryCrossEntropyWithLogitsLoss), LossTask.Binary, LossInput.Logits, "plain binary cross-entropy (baseline)"),
        new(nameof(Functional.balanced_binary_cross_entropy_with_logits), typeof(BalancedBinaryCrossEntropyWithLogitsLoss), LossTask.Binary, LossInput.Logits, "alpha-balanced binary cross-entropy (baseline)"),
        new(nameof(Functional.softmax_cross_entropy), typeof(SoftmaxCrossEntropyLoss), LossTask.MultiClass, LossInput.Logits, "softmax cross-entropy (baseline)"),
        new(nameof(Functional.asymmetric_loss), typeof(AsymmetricLoss), LossTask.MultiLabel, LossInput.Logits, "Asymmetric Loss for multi-label classification (Ridnik et al. 2021)"),
        new(nameof(Functional.poly1_cross_entropy), typeof(Poly1CrossEntropyLoss), LossTask.Binary, LossInput.Logits, "Poly-1 binary cross-entropy (Leng et al. 2022)"),
        new(nameof(Functional.poly1_focal_loss), typeof(Poly1FocalLoss), LossTask.Binary, LossInput.Logits, "Poly-1 focal loss on logits (Leng et al. 2022)"),
        new(nameof(Functional.softmax_poly1_cross_entropy), typeof(SoftmaxPoly1CrossEntropyLoss), LossTask.MultiClass, LossInput.Logits, "Poly-1 softmax cross-entropy (Leng et al. 2022)"),
        new(nameof(Functional.softmax_poly1_focal_loss), typeof(SoftmaxPoly1FocalLoss), LossTask.MultiClass, LossInput.Logits, "Poly-1 multi-class focal loss (Leng et al. 2022)"),
        new(nameof(Functional.focal_loss_star), typeof(FocalLossStar), LossTask.Binary, LossInput.Logits, "FL*, the focal loss of appendix A (Lin et al. 2017)"),
        new(nameof(Functional.softmax_focal_loss_sample_dependent), typeof(SoftmaxFocalLossSampleDependent), LossTask.MultiClass, LossInput.Logits, "multi-class focal loss with sample-dependent gamma, FLSD-53 (Mukhoti et al. 2020)"),
        new(nameof(Functional.sigmoid_focal_loss_sample_dependent), typeof(SigmoidFocalLossSampleDependent), LossTask.Binary, LossInput.Logits, "binary focal loss with sample-dependent gamma, FLSD-53 (Mukhoti et al. 2020)"),
    ];

    /// <summary>Every canonical name.</summary>
    public static IReadOnlyList<string> Names { get; } = All.Select(l => l.Name).ToList();

    /// <summary>The entry of <paramref name="name"/>; an unknown name is an error that lists the valid ones.</summary>
    public static LossInfo Get(string name) =>
        All.SingleOrDefault(l => l.Name == name)
        ?? throw new ArgumentException($"name must be one of {string.Join(", ", Names)}, got '{name}'", nameof(name));
}
