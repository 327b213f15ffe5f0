using FocalLoss.Data;
using FocalLoss.Infrastructure;
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

/// <summary>
/// The common face of every loss in the workbench, so an experiment can swap losses and record their
/// settings next to its results.
/// </summary>
public interface ILossFunction
{
    /// <summary>The loss's canonical name (<see cref="LossRegistry"/>), which is also its functional form's name, e.g. <c>sigmoid_focal_loss</c>.</summary>
    string Name { get; }

    /// <summary>Logits or probabilities.</summary>
    LossInput Input { get; }

    /// <summary>Binary, multi-class or multi-label.</summary>
    LossTask Task { get; }

    /// <summary>
    /// The hyper-parameters, keyed by the constructor parameter names (<c>alpha</c>, <c>gamma</c>, ...), as
    /// invariant-culture text for logs and reports; <c>none</c> for an absent optional one.
    /// </summary>
    IReadOnlyDictionary<string, string> HyperParameters { get; }

    /// <summary>Computes the loss with the given reduction (the trainer chooses mean or sum semantics).</summary>
    Tensor Compute(Tensor inputs, Tensor targets, Reduction reduction);
}

/// <summary>
/// Base of the loss modules: TorchSharp's own <see cref="Loss{T1, T2, TResult}"/> (so <c>reduction</c> and
/// <c>forward</c> behave as in <c>torch.nn</c>), plus the workbench's <see cref="ILossFunction"/>.
/// </summary>
public abstract class LossModule : Loss<Tensor, Tensor, Tensor>, ILossFunction
{
    /// <summary>Creates the module after checking the reduction.</summary>
    protected LossModule(string name, Reduction reduction) : base(Guard.Reduction(reduction)) => Name = name;

    /// <inheritdoc />
    public string Name { get; }

    /// <inheritdoc />
    public abstract LossInput Input { get; }

    /// <inheritdoc />
    public abstract LossTask Task { get; }

    /// <inheritdoc />
    public abstract IReadOnlyDictionary<string, string> HyperParameters { get; }

    /// <inheritdoc />
    public abstract Tensor Compute(Tensor inputs, Tensor targets, Reduction reduction);

    /// <summary>Computes the loss with this module's <c>reduction</c>.</summary>
    public sealed override Tensor forward(Tensor input, Tensor target) => Compute(input, target, reduction);

    /// <summary>A readable summary: name and hyper-parameters.</summary>
    public override string ToString() => $"{Name}({string.Join(", ", HyperParameters.Select(kv => $"{kv.Key}={kv.Value}"))})";

    private protected static string Text(double? value) => value is { } v ? Format.Number(v) : "none";

    private protected static string Text(bool value) => value ? "true" : "false";

    private protected static string Text(Tensor? vector) => vector is null
        ? "none"
        : "[" + string.Join(", ", vector.to_type(ScalarType.Float64).cpu().data<double>().ToArray().Select(Format.Number)) + "]";
}

/// <summary>Base of the binary focal-loss modules: validated alpha and gamma, recorded as hyper-parameters.</summary>
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
    public override IReadOnlyDictionary<string, string> HyperParameters => new Dictionary<string, string> { ["alpha"] = Text(Alpha), ["gamma"] = Text(Gamma) };
}

/// <summary>Module form of <see cref="Functional.sigmoid_focal_loss"/>.</summary>
public sealed class SigmoidFocalLoss : BinaryFocalLossModule
{
    /// <summary>Creates the loss; see <see cref="Functional.sigmoid_focal_loss"/> for the parameters.</summary>
    public SigmoidFocalLoss(double? alpha = 0.25, double gamma = 2.0, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean) : base(nameof(Functional.sigmoid_focal_loss), alpha, gamma, reduction)
    {
        Guard.LabelSmoothing(labelSmoothing);
        LabelSmoothing = labelSmoothing;
    }

    /// <summary>Label smoothing in [0, 1); 0 is off.</summary>
    public double LabelSmoothing { get; }
    /// <inheritdoc />
    public override LossInput Input => LossInput.Logits;
    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> HyperParameters => new Dictionary<string, string>
    {
        ["alpha"] = Text(Alpha), ["gamma"] = Text(Gamma), ["labelSmoothing"] = Text(LabelSmoothing),
    };
    /// <inheritdoc />
    public override Tensor Compute(Tensor inputs, Tensor targets, Reduction reduction) => Functional.sigmoid_focal_loss(inputs, targets, Alpha, Gamma, LabelSmoothing, reduction);
}

/// <summary>Module form of <see cref="Functional.focal_loss_from_probabilities"/> (the seed's form).</summary>
public sealed class FocalLossFromProbabilities : BinaryFocalLossModule
{
    /// <summary>Creates the loss; see <see cref="Functional.focal_loss_from_probabilities"/> for the parameters.</summary>
    public FocalLossFromProbabilities(double? alpha = 0.25, double gamma = 2.0, Reduction reduction = Reduction.Mean) : base(nameof(Functional.focal_loss_from_probabilities), alpha, gamma, reduction) { }
    /// <inheritdoc />
    public override LossInput Input => LossInput.Probabilities;
    /// <inheritdoc />
    public override Tensor Compute(Tensor inputs, Tensor targets, Reduction reduction) => Functional.focal_loss_from_probabilities(inputs, targets, Alpha, Gamma, reduction);
}

/// <summary>Module form of <see cref="Functional.softmax_focal_loss"/>; the class weights are a buffer that moves with the module.</summary>
public sealed class SoftmaxFocalLoss : LossModule
{
    private readonly Tensor? alpha;

    /// <summary>
    /// Creates the loss; see <see cref="Functional.softmax_focal_loss"/> for the parameters. A given
    /// <paramref name="alpha"/> is checked here (1-D, not empty, finite values >= 0); its length must
    /// equal the class count C of the logits the loss is called with.
    /// </summary>
    public SoftmaxFocalLoss(Tensor? alpha = null, double gamma = 2.0, long ignoreIndex = -100, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean) : base(nameof(Functional.softmax_focal_loss), reduction)
    {
        Guard.Gamma(gamma);
        Guard.LabelSmoothing(labelSmoothing);
        this.alpha = Guard.ClassWeights(alpha, nameof(alpha));
        (Gamma, IgnoreIndex, LabelSmoothing) = (gamma, ignoreIndex, labelSmoothing);
        RegisterComponents();
    }

    /// <summary>Per-class weights (a copy), or null for none.</summary>
    public Tensor? Alpha => alpha;
    /// <summary>Focusing parameter.</summary>
    public double Gamma { get; }
    /// <summary>Target value that is ignored.</summary>
    public long IgnoreIndex { get; }
    /// <summary>Label smoothing in [0, 1); 0 is off.</summary>
    public double LabelSmoothing { get; }
    /// <inheritdoc />
    public override LossInput Input => LossInput.Logits;
    /// <inheritdoc />
    public override LossTask Task => LossTask.MultiClass;
    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> HyperParameters => new Dictionary<string, string>
    {
        ["alpha"] = Text(alpha), ["gamma"] = Text(Gamma), ["ignoreIndex"] = Format.Number(IgnoreIndex), ["labelSmoothing"] = Text(LabelSmoothing),
    };
    /// <inheritdoc />
    public override Tensor Compute(Tensor inputs, Tensor targets, Reduction reduction) => Functional.softmax_focal_loss(inputs, targets, alpha, Gamma, IgnoreIndex, LabelSmoothing, reduction);
}

/// <summary>Module form of <see cref="Functional.binary_cross_entropy_with_logits"/>: the plain binary cross-entropy baseline.</summary>
public sealed class BinaryCrossEntropyWithLogitsLoss : LossModule
{
    /// <summary>Creates the loss; see <see cref="Functional.binary_cross_entropy_with_logits"/> for the parameters.</summary>
    public BinaryCrossEntropyWithLogitsLoss(double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean) : base(nameof(Functional.binary_cross_entropy_with_logits), reduction)
    {
        Guard.LabelSmoothing(labelSmoothing);
        LabelSmoothing = labelSmoothing;
    }

    /// <summary>Label smoothing in [0, 1); 0 is off.</summary>
    public double LabelSmoothing { get; }
    /// <inheritdoc />
    public override LossInput Input => LossInput.Logits;
    /// <inheritdoc />
    public override LossTask Task => LossTask.Binary;
    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> HyperParameters => new Dictionary<string, string> { ["labelSmoothing"] = Text(LabelSmoothing) };
    /// <inheritdoc />
    public override Tensor Compute(Tensor inputs, Tensor targets, Reduction reduction) => Functional.binary_cross_entropy_with_logits(inputs, targets, LabelSmoothing, reduction);
}

/// <summary>Module form of <see cref="Functional.balanced_binary_cross_entropy_with_logits"/>: alpha-balanced cross-entropy (focal loss with gamma = 0).</summary>
public sealed class BalancedBinaryCrossEntropyWithLogitsLoss : LossModule
{
    /// <summary>Creates the loss; <paramref name="alpha"/> in [0, 1] is required (plain cross-entropy is <see cref="BinaryCrossEntropyWithLogitsLoss"/>).</summary>
    public BalancedBinaryCrossEntropyWithLogitsLoss(double alpha = 0.25, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean) : base(nameof(Functional.balanced_binary_cross_entropy_with_logits), reduction)
    {
        Guard.Alpha(alpha);
        Guard.LabelSmoothing(labelSmoothing);
        (Alpha, LabelSmoothing) = (alpha, labelSmoothing);
    }

    /// <summary>Positive-class weight.</summary>
    public double Alpha { get; }
    /// <summary>Label smoothing in [0, 1); 0 is off.</summary>
    public double LabelSmoothing { get; }
    /// <inheritdoc />
    public override LossInput Input => LossInput.Logits;
    /// <inheritdoc />
    public override LossTask Task => LossTask.Binary;
    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> HyperParameters => new Dictionary<string, string> { ["alpha"] = Text(Alpha), ["labelSmoothing"] = Text(LabelSmoothing) };
    /// <inheritdoc />
    public override Tensor Compute(Tensor inputs, Tensor targets, Reduction reduction) => Functional.balanced_binary_cross_entropy_with_logits(inputs, targets, Alpha, LabelSmoothing, reduction);
}

/// <summary>Module form of <see cref="Functional.softmax_cross_entropy"/>: the multi-class cross-entropy baseline (PyTorch's <c>cross_entropy</c>).</summary>
public sealed class SoftmaxCrossEntropyLoss : LossModule
{
    private readonly Tensor? weight;

    /// <summary>Creates the loss; a given <paramref name="weight"/> is checked here (1-D, not empty, finite values >= 0).</summary>
    public SoftmaxCrossEntropyLoss(Tensor? weight = null, long ignoreIndex = -100, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean) : base(nameof(Functional.softmax_cross_entropy), reduction)
    {
        Guard.LabelSmoothing(labelSmoothing);
        this.weight = Guard.ClassWeights(weight, nameof(weight));
        (IgnoreIndex, LabelSmoothing) = (ignoreIndex, labelSmoothing);
        RegisterComponents();
    }

    /// <summary>Per-class weights (a copy), or null for none.</summary>
    public Tensor? Weight => weight;
    /// <summary>Target value that is ignored.</summary>
    public long IgnoreIndex { get; }
    /// <summary>Label smoothing in [0, 1); 0 is off.</summary>
    public double LabelSmoothing { get; }
    /// <inheritdoc />
    public override LossInput Input => LossInput.Logits;
    /// <inheritdoc />
    public override LossTask Task => LossTask.MultiClass;
    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> HyperParameters => new Dictionary<string, string>
    {
        ["weight"] = Text(weight), ["ignoreIndex"] = Format.Number(IgnoreIndex), ["labelSmoothing"] = Text(LabelSmoothing),
    };
    /// <inheritdoc />
    public override Tensor Compute(Tensor inputs, Tensor targets, Reduction reduction) => Functional.softmax_cross_entropy(inputs, targets, weight, IgnoreIndex, LabelSmoothing, reduction);
}

/// <summary>Module form of <see cref="Functional.asymmetric_loss"/>: the Asymmetric Loss for multi-label classification.</summary>
public sealed class AsymmetricLoss : LossModule
{
    /// <summary>Creates the loss; see <see cref="Functional.asymmetric_loss"/> for the parameters.</summary>
    public AsymmetricLoss(double gamma_neg = 4.0, double gamma_pos = 1.0, double clip = 0.05, bool detach_focusing_weight = false, Reduction reduction = Reduction.Mean) : base(nameof(Functional.asymmetric_loss), reduction)
    {
        Guard.Gamma(gamma_neg, nameof(gamma_neg));
        Guard.Gamma(gamma_pos, nameof(gamma_pos));
        Guard.Clip(clip);
        (GammaNeg, GammaPos, Clip, DetachFocusingWeight) = (gamma_neg, gamma_pos, clip, detach_focusing_weight);
    }

    /// <summary>Focusing parameter of the negatives.</summary>
    public double GammaNeg { get; }
    /// <summary>Focusing parameter of the positives.</summary>
    public double GammaPos { get; }
    /// <summary>Probability margin; 0 is off.</summary>
    public double Clip { get; }
    /// <summary>Whether the focusing weights are constants for autograd.</summary>
    public bool DetachFocusingWeight { get; }
    /// <inheritdoc />
    public override LossInput Input => LossInput.Logits;
    /// <inheritdoc />
    public override LossTask Task => LossTask.MultiLabel;
    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> HyperParameters => new Dictionary<string, string>
    {
        ["gamma_neg"] = Text(GammaNeg), ["gamma_pos"] = Text(GammaPos), ["clip"] = Text(Clip), ["detach_focusing_weight"] = Text(DetachFocusingWeight),
    };
    /// <inheritdoc />
    public override Tensor Compute(Tensor inputs, Tensor targets, Reduction reduction) =>
        Functional.asymmetric_loss(inputs, targets, GammaNeg, GammaPos, Clip, DetachFocusingWeight, reduction);
}

/// <summary>Module form of <see cref="Functional.poly1_cross_entropy"/>: binary Poly-1 cross-entropy.</summary>
public sealed class Poly1CrossEntropyLoss : LossModule
{
    /// <summary>Creates the loss; see <see cref="Functional.poly1_cross_entropy"/> for the parameters.</summary>
    public Poly1CrossEntropyLoss(double epsilon = 1.0, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean) : base(nameof(Functional.poly1_cross_entropy), reduction)
    {
        Guard.Epsilon(epsilon);
        Guard.LabelSmoothing(labelSmoothing);
        (Epsilon, LabelSmoothing) = (epsilon, labelSmoothing);
    }

    /// <summary>Coefficient of the polynomial term.</summary>
    public double Epsilon { get; }
    /// <summary>Label smoothing in [0, 1); 0 is off.</summary>
    public double LabelSmoothing { get; }
    /// <inheritdoc />
    public override LossInput Input => LossInput.Logits;
    /// <inheritdoc />
    public override LossTask Task => LossTask.Binary;
    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> HyperParameters => new Dictionary<string, string>
    {
        ["epsilon"] = Text(Epsilon), ["labelSmoothing"] = Text(LabelSmoothing),
    };
    /// <inheritdoc />
    public override Tensor Compute(Tensor inputs, Tensor targets, Reduction reduction) => Functional.poly1_cross_entropy(inputs, targets, Epsilon, LabelSmoothing, reduction);
}

/// <summary>Module form of <see cref="Functional.poly1_focal_loss"/>: binary Poly-1 focal loss.</summary>
public sealed class Poly1FocalLoss : BinaryFocalLossModule
{
    /// <summary>Creates the loss; see <see cref="Functional.poly1_focal_loss"/> for the parameters.</summary>
    public Poly1FocalLoss(double? alpha = 0.25, double gamma = 2.0, double epsilon = 1.0, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean) : base(nameof(Functional.poly1_focal_loss), alpha, gamma, reduction)
    {
        Guard.Epsilon(epsilon);
        Guard.LabelSmoothing(labelSmoothing);
        (Epsilon, LabelSmoothing) = (epsilon, labelSmoothing);
    }

    /// <summary>Coefficient of the polynomial term.</summary>
    public double Epsilon { get; }
    /// <summary>Label smoothing in [0, 1); 0 is off.</summary>
    public double LabelSmoothing { get; }
    /// <inheritdoc />
    public override LossInput Input => LossInput.Logits;
    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> HyperParameters => new Dictionary<string, string>
    {
        ["alpha"] = Text(Alpha), ["gamma"] = Text(Gamma), ["epsilon"] = Text(Epsilon), ["labelSmoothing"] = Text(LabelSmoothing),
    };
    /// <inheritdoc />
    public override Tensor Compute(Tensor inputs, Tensor targets, Reduction reduction) => Functional.poly1_focal_loss(inputs, targets, Alpha, Gamma, Epsilon, LabelSmoothing, reduction);
}

/// <summary>Module form of <see cref="Functional.softmax_poly1_cross_entropy"/>: multi-class Poly-1 cross-entropy.</summary>
public sealed class SoftmaxPoly1CrossEntropyLoss : LossModule
{
    /// <summary>Creates the loss; see <see cref="Functional.softmax_poly1_cross_entropy"/> for the parameters.</summary>
    public SoftmaxPoly1CrossEntropyLoss(double epsilon = 1.0, long ignoreIndex = -100, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean) : base(nameof(Functional.softmax_poly1_cross_entropy), reduction)
    {
        Guard.Epsilon(epsilon);
        Guard.LabelSmoothing(labelSmoothing);
        (Epsilon, IgnoreIndex, LabelSmoothing) = (epsilon, ignoreIndex, labelSmoothing);
    }

    /// <summary>Coefficient of the polynomial term.</summary>
    public double Epsilon { get; }
    /// <summary>Target value that is ignored.</summary>
    public long IgnoreIndex { get; }
    /// <summary>Label smoothing in [0, 1); 0 is off.</summary>
    public double LabelSmoothing { get; }
    /// <inheritdoc />
    public override LossInput Input => LossInput.Logits;
    /// <inheritdoc />
    public override LossTask Task => LossTask.MultiClass;
    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> HyperParameters => new Dictionary<string, string>
    {
        ["epsilon"] = Text(Epsilon), ["ignoreIndex"] = Format.Number(IgnoreIndex), ["labelSmoothing"] = Text(LabelSmoothing),
    };
    /// <inheritdoc />
    public override Tensor Compute(Tensor inputs, Tensor targets, Reduction reduction) =>
        Functional.softmax_poly1_cross_entropy(inputs, targets, Epsilon, IgnoreIndex, LabelSmoothing, reduction);
}

/// <summary>Module form of <see cref="Functional.softmax_poly1_focal_loss"/>; the class weights are a buffer that moves with the module.</summary>
public sealed class SoftmaxPoly1FocalLoss : LossModule
{
    private readonly Tensor? alpha;

    /// <summary>
    /// Creates the loss; see <see cref="Functional.softmax_poly1_focal_loss"/> for the parameters. A given
    /// <paramref name="alpha"/> is checked here (1-D, not empty, finite values >= 0).
    /// </summary>
    public SoftmaxPoly1FocalLoss(Tensor? alpha = null, double gamma = 2.0, double epsilon = 1.0, long ignoreIndex = -100, double labelSmoothing = 0.0, Reduction reduction = Reduction.Mean) : base(nameof(Functional.softmax_poly1_focal_loss), reduction)
    {
        Guard.Gamma(gamma);
        Guard.Epsilon(epsilon);
        Guard.LabelSmoothing(labelSmoothing);
        this.alpha = Guard.ClassWeights(alpha, nameof(alpha));
        (Gamma, Epsilon, IgnoreIndex, LabelSmoothing) = (gamma, epsilon, ignoreIndex, labelSmoothing);
        RegisterComponents();
    }

    /// <summary>Per-class weights of the focal term (a copy), or null for none.</summary>
    public Tensor? Alpha => alpha;
    /// <summary>Focusing parameter.</summary>
    public double Gamma { get; }
    /// <summary>Coefficient of the polynomial term.</summary>
    public double Epsilon { get; }
    /// <summary>Target value that is ignored.</summary>
    public long IgnoreIndex { get; }
    /// <summary>Label smoothing in [0, 1); 0 is off.</summary>
    public double LabelSmoothing { get; }
    /// <inheritdoc />
    public override LossInput Input => LossInput.Logits;
    /// <inheritdoc />
    public override LossTask Task => LossTask.MultiClass;
    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> HyperParameters => new Dictionary<string, string>
    {
        ["alpha"] = Text(alpha), ["gamma"] = Text(Gamma), ["epsilon"] = Text(Epsilon), ["ignoreIndex"] = Format.Number(IgnoreIndex), ["labelSmoothing"] = Text(LabelSmoothing),
    };
    /// <inheritdoc />
    public override Tensor Compute(Tensor inputs, Tensor targets, Reduction reduction) =>
        Functional.softmax_poly1_focal_loss(inputs, targets, alpha, Gamma, Epsilon, IgnoreIndex, LabelSmoothing, reduction);
}

/// <summary>Module form of <see cref="Functional.focal_loss_star"/>: FL* (Lin et al. 2017, appendix A).</summary>
public sealed class FocalLossStar : LossModule
{
    /// <summary>Creates the loss; see <see cref="Functional.focal_loss_star"/> for the parameters.</summary>
    public FocalLossStar(double gamma = 2.0, double beta = 1.0, Reduction reduction = Reduction.Mean) : base(nameof(Functional.focal_loss_star), reduction)
    {
        Guard.PositiveGamma(gamma);
        Guard.Finite(beta, nameof(beta));
        (Gamma, Beta) = (gamma, beta);
    }

    /// <summary>Scale of the logit.</summary>
    public double Gamma { get; }
    /// <summary>Shift of the scaled logit.</summary>
    public double Beta { get; }
    /// <inheritdoc />
    public override LossInput Input => LossInput.Logits;
    /// <inheritdoc />
    public override LossTask Task => LossTask.Binary;
    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> HyperParameters => new Dictionary<string, string> { ["gamma"] = Text(Gamma), ["beta"] = Text(Beta) };
    /// <inheritdoc />
    public override Tensor Compute(Tensor inputs, Tensor targets, Reduction reduction) => Functional.focal_loss_star(inputs, targets, Gamma, Beta, reduction);
}

/// <summary>Module form of <see cref="Functional.softmax_focal_loss_sample_dependent"/> (FLSD); the class weights are a buffer that moves with the module.</summary>
public sealed class SoftmaxFocalLossSampleDependent : LossModule
{
    private readonly Tensor? alpha;

    /// <summary>
    /// Creates the loss; see <see cref="Functional.softmax_focal_loss_sample_dependent"/> for the parameters
    /// (null <paramref name="schedule"/>: FLSD-53). A given <paramref name="alpha"/> is checked here.
    /// </summary>
    public SoftmaxFocalLossSampleDependent(GammaSchedule? schedule = null, Tensor? alpha = null, long ignoreIndex = -100, Reduction reduction = Reduction.Mean) : base(nameof(Functional.softmax_focal_loss_sample_dependent), reduction)
    {
        Schedule = schedule ?? GammaSchedule.Flsd53;
        this.alpha = Guard.ClassWeights(alpha, nameof(alpha));
        IgnoreIndex = ignoreIndex;
        RegisterComponents();
    }

    /// <summary>The gamma schedule.</summary>
    public GammaSchedule Schedule { get; }
    /// <summary>Per-class weights (a copy), or null for none.</summary>
    public Tensor? Alpha => alpha;
    /// <summary>Target value that is ignored.</summary>
    public long IgnoreIndex { get; }
    /// <inheritdoc />
    public override LossInput Input => LossInput.Logits;
    /// <inheritdoc />
    public override LossTask Task => LossTask.MultiClass;
    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> HyperParameters => new Dictionary<string, string>
    {
        ["schedule"] = Schedule.ToString(), ["alpha"] = Text(alpha), ["ignoreIndex"] = Format.Number(IgnoreIndex),
    };
    /// <inheritdoc />
    public override Tensor Compute(Tensor inputs, Tensor targets, Reduction reduction) =>
        Functional.softmax_focal_loss_sample_dependent(inputs, targets, Schedule, alpha, IgnoreIndex, reduction);
}

/// <summary>Module form of <see cref="Functional.sigmoid_focal_loss_sample_dependent"/> (binary FLSD).</summary>
public sealed class SigmoidFocalLossSampleDependent : LossModule
{
    /// <summary>Creates the loss; see <see cref="Functional.sigmoid_focal_loss_sample_dependent"/> for the parameters (null <paramref name="schedule"/>: FLSD-53).</summary>
    public SigmoidFocalLossSampleDependent(GammaSchedule? schedule = null, double? alpha = null, Reduction reduction = Reduction.Mean) : base(nameof(Functional.sigmoid_focal_loss_sample_dependent), reduction)
    {
        Guard.Alpha(alpha);
        (Schedule, Alpha) = (schedule ?? GammaSchedule.Flsd53, alpha);
    }

    /// <summary>The gamma schedule.</summary>
    public GammaSchedule Schedule { get; }
    /// <summary>Positive-class weight, or null for none.</summary>
    public double? Alpha { get; }
    /// <inheritdoc />
    public override LossInput Input => LossInput.Logits;
    /// <inheritdoc />
    public override LossTask Task => LossTask.Binary;
    /// <inheritdoc />
    public override IReadOnlyDictionary<string, string> HyperParameters => new Dictionary<string, string> { ["schedule"] = Schedule.ToString(), ["alpha"] = Text(Alpha) };
    /// <inheritdoc />
    public override Tensor Compute(Tensor inputs, Tensor targets, Reduction reduction) =>
        Functional.sigmoid_focal_loss_sample_dependent(inputs, targets, Schedule, Alpha, reduction);
}
