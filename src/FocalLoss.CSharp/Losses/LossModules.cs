using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FocalLoss;

/// <summary>What a loss expects as its first argument.</summary>
public enum LossInput
{
    /// <summary>Unnormalised scores: logits for binary losses, per-class logits for multi-class ones.</summary>
    Logits,
    /// <summary>Probabilities of the positive class in [0, 1].</summary>
    Probabilities,
}

/// <summary>The task a loss trains for.</summary>
public enum LossTask
{
    /// <summary>One output per sample (or per element), 0/1 targets of the same shape.</summary>
    Binary,
    /// <summary>C outputs per sample along dim 1, Int64 class-index targets.</summary>
    MultiClass,
}

/// <summary>
/// The common face of every loss in the workbench, so an experiment can swap losses by name and record
/// their settings next to its results.
/// </summary>
public interface ILossFunction
{
    /// <summary>Registry name, as accepted by <see cref="Losses.Create"/>, e.g. <c>sigmoid_focal</c>.</summary>
    string Name { get; }

    /// <summary>Logits or probabilities.</summary>
    LossInput Input { get; }

    /// <summary>Binary or multi-class.</summary>
    LossTask Task { get; }

    /// <summary>Hyper-parameters as invariant-culture strings (<c>alpha</c>, <c>gamma</c>, ...); "none" for an absent alpha.</summary>
    IReadOnlyDictionary<string, string> HyperParameters { get; }

    /// <summary>Computes the loss with the given reduction (the trainer chooses mean or sum semantics).</summary>
    Tensor Compute(Tensor inputs, Tensor targets, Reduction reduction);
}

/// <summary>Base of the loss modules: a TorchSharp module whose <c>forward</c> applies its configured reduction.</summary>
public abstract class LossModule : Module<Tensor, Tensor, Tensor>, ILossFunction
{
    /// <summary>Creates the module and validates the reduction.</summary>
    protected LossModule(string name, Reduction reduction) : base(name)
    {
        Guard.Reduction(reduction);
        Reduction = reduction;
    }

    /// <summary>The reduction <c>forward</c> applies.</summary>
    public Reduction Reduction { get; }

    /// <inheritdoc />
    public string Name => GetName();

    /// <inheritdoc />
    public abstract LossInput Input { get; }

    /// <inheritdoc />
    public abstract LossTask Task { get; }

    /// <inheritdoc />
    public abstract IReadOnlyDictionary<string, string> HyperParameters { get; }

    /// <inheritdoc />
    public abstract Tensor Compute(Tensor inputs, Tensor targets, Reduction reduction);

    /// <summary>Computes the loss with this module's <see cref="Reduction"/>.</summary>
    public sealed override Tensor forward(Tensor input, Tensor target) => Compute(input, target, Reduction);

    /// <summary>A readable summary: name and hyper-parameters.</summary>
    public override string ToString() => $"{Name}({string.Join(", ", HyperParameters.Select(kv => $"{kv.Key}={kv.Value}"))})";

    private protected static string Format(double? value) => value is { } v ? v.ToString("R", CultureInfo.InvariantCulture) : "none";
}

/// <summary>Base of the two binary focal-loss modules: validated alpha and gamma, recorded as hyper-parameters.</summary>
public abstract class BinaryFocalLossModule : LossModule
{
    /// <summary>Validates and stores the hyper-parameters.</summary>
    protected BinaryFocalLossModule(string name, double? alpha, double gamma, Reduction reduction) : base(name, reduction)
    {
        Guard.Alpha(alpha);
        Guard.Gamma(gamma);
        (Alpha, Gamma) = (alpha, gamma);
    }

    /// <summary>Positive-class weight, or null for none.</summary>
    public double? Alpha { get; }
    /// <summary>Focusing parameter.</summary>
    public double Gamma { get; }
    /// <inheritdoc />
    public override LossTask Task => LossTask.Binary;
    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> HyperParameters => new Dictionary<string, string> { ["alpha"] = Format(Alpha), ["gamma"] = Format(Gamma) };
}

/// <summary>Module form of <see cref="Functional.sigmoid_focal_loss"/>.</summary>
public sealed class SigmoidFocalLoss : BinaryFocalLossModule
{
    /// <summary>Creates the loss; see <see cref="Functional.sigmoid_focal_loss"/> for the parameters.</summary>
    public SigmoidFocalLoss(double? alpha = 0.25, double gamma = 2.0, Reduction reduction = Reduction.Mean) : base(Losses.SigmoidFocalName, alpha, gamma, reduction) { }
    /// <inheritdoc />
    public override LossInput Input => LossInput.Logits;
    /// <inheritdoc />
    public override Tensor Compute(Tensor inputs, Tensor targets, Reduction reduction) => Functional.sigmoid_focal_loss(inputs, targets, Alpha, Gamma, reduction);
}

/// <summary>Module form of <see cref="Functional.focal_loss_from_probabilities"/> (the seed's form).</summary>
public sealed class FocalLossFromProbabilities : BinaryFocalLossModule
{
    /// <summary>Creates the loss; see <see cref="Functional.focal_loss_from_probabilities"/> for the parameters.</summary>
    public FocalLossFromProbabilities(double? alpha = 0.25, double gamma = 2.0, Reduction reduction = Reduction.Mean) : base(Losses.ProbabilityFocalName, alpha, gamma, reduction) { }
    /// <inheritdoc />
    public override LossInput Input => LossInput.Probabilities;
    /// <inheritdoc />
    public override Tensor Compute(Tensor inputs, Tensor targets, Reduction reduction) => Functional.focal_loss_from_probabilities(inputs, targets, Alpha, Gamma, reduction);
}

/// <summary>Module form of <see cref="Functional.softmax_focal_loss"/>; the class weights are a buffer that moves with the module.</summary>
public sealed class SoftmaxFocalLoss : LossModule
{
    private readonly Tensor? alpha;

    /// <summary>Creates the loss; see <see cref="Functional.softmax_focal_loss"/> for the parameters.</summary>
    public SoftmaxFocalLoss(Tensor? alpha = null, double gamma = 2.0, long ignoreIndex = -100, Reduction reduction = Reduction.Mean) : base(Losses.SoftmaxFocalName, reduction)
    {
        Guard.Gamma(gamma);
        if (alpha is not null && alpha.dim() != 1)
            throw new ArgumentException($"alpha must be a 1-D tensor of per-class weights, got shape {Guard.Shape(alpha.shape)}", nameof(alpha));
        this.alpha = alpha?.detach().clone();
        (Gamma, IgnoreIndex) = (gamma, ignoreIndex);
        RegisterComponents();
    }

    /// <summary>Focusing parameter.</summary>
    public double Gamma { get; }
    /// <summary>Target value that is ignored.</summary>
    public long IgnoreIndex { get; }
    /// <inheritdoc />
    public override LossInput Input => LossInput.Logits;
    /// <inheritdoc />
    public override LossTask Task => LossTask.MultiClass;
    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> HyperParameters => new Dictionary<string, string>
    {
        ["alpha"] = Losses.FormatVector(alpha), ["gamma"] = Format(Gamma), ["ignore_index"] = IgnoreIndex.ToString(CultureInfo.InvariantCulture),
    };
    /// <inheritdoc />
    public override Tensor Compute(Tensor inputs, Tensor targets, Reduction reduction) => Functional.softmax_focal_loss(inputs, targets, alpha, Gamma, IgnoreIndex, reduction);
}

/// <summary>Baseline module: plain binary cross-entropy on logits.</summary>
public sealed class BinaryCrossEntropyLoss : LossModule
{
    /// <summary>Creates the loss.</summary>
    public BinaryCrossEntropyLoss(Reduction reduction = Reduction.Mean) : base(Losses.BceName, reduction) { }
    /// <inheritdoc />
    public override LossInput Input => LossInput.Logits;
    /// <inheritdoc />
    public override LossTask Task => LossTask.Binary;
    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> HyperParameters => new Dictionary<string, string>();
    /// <inheritdoc />
    public override Tensor Compute(Tensor inputs, Tensor targets, Reduction reduction) => Functional.binary_cross_entropy_with_logits(inputs, targets, reduction);
}

/// <summary>Baseline module: alpha-balanced binary cross-entropy on logits (focal loss with gamma = 0).</summary>
public sealed class BalancedBinaryCrossEntropyLoss : LossModule
{
    /// <summary>Creates the loss.</summary>
    public BalancedBinaryCrossEntropyLoss(double alpha = 0.25, Reduction reduction = Reduction.Mean) : base(Losses.BalancedBceName, reduction)
    {
        Guard.Alpha(alpha);
        Alpha = alpha;
    }

    /// <summary>Positive-class weight.</summary>
    public double Alpha { get; }
    /// <inheritdoc />
    public override LossInput Input => LossInput.Logits;
    /// <inheritdoc />
    public override LossTask Task => LossTask.Binary;
    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> HyperParameters => new Dictionary<string, string> { ["alpha"] = Format(Alpha) };
    /// <inheritdoc />
    public override Tensor Compute(Tensor inputs, Tensor targets, Reduction reduction) => Functional.balanced_binary_cross_entropy_with_logits(inputs, targets, Alpha, reduction);
}

/// <summary>Baseline module: softmax cross-entropy (PyTorch's <c>cross_entropy</c>).</summary>
public sealed class SoftmaxCrossEntropyLoss : LossModule
{
    private readonly Tensor? weight;

    /// <summary>Creates the loss.</summary>
    public SoftmaxCrossEntropyLoss(Tensor? weight = null, long ignoreIndex = -100, Reduction reduction = Reduction.Mean) : base(Losses.CrossEntropyName, reduction)
    {
        if (weight is not null && weight.dim() != 1)
            throw new ArgumentException($"weight must be a 1-D tensor of per-class weights, got shape {Guard.Shape(weight.shape)}", nameof(weight));
        this.weight = weight?.detach().clone();
        IgnoreIndex = ignoreIndex;
        RegisterComponents();
    }

    /// <summary>Target value that is ignored.</summary>
    public long IgnoreIndex { get; }
    /// <inheritdoc />
    public override LossInput Input => LossInput.Logits;
    /// <inheritdoc />
    public override LossTask Task => LossTask.MultiClass;
    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> HyperParameters => new Dictionary<string, string>
    {
        ["weight"] = Losses.FormatVector(weight), ["ignore_index"] = IgnoreIndex.ToString(CultureInfo.InvariantCulture),
    };
    /// <inheritdoc />
    public override Tensor Compute(Tensor inputs, Tensor targets, Reduction reduction) => Functional.softmax_cross_entropy(inputs, targets, weight, IgnoreIndex, reduction);
}
