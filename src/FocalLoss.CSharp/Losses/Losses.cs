using System.Globalization;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FocalLoss;

/// <summary>
/// Factories for the loss modules (TorchSharp's third entry point, beside the functional form and the
/// sealed module), and a by-name registry so experiments can swap losses from configuration.
/// </summary>
public static class Losses
{
    /// <summary>Registry name of <see cref="FocalLoss.SigmoidFocalLoss"/>.</summary>
    public const string SigmoidFocalName = "sigmoid_focal";
    /// <summary>Registry name of <see cref="FocalLoss.FocalLossFromProbabilities"/>.</summary>
    public const string ProbabilityFocalName = "focal_from_probabilities";
    /// <summary>Registry name of <see cref="FocalLoss.SoftmaxFocalLoss"/>.</summary>
    public const string SoftmaxFocalName = "softmax_focal";
    /// <summary>Registry name of <see cref="BinaryCrossEntropyLoss"/>.</summary>
    public const string BceName = "bce";
    /// <summary>Registry name of <see cref="BalancedBinaryCrossEntropyLoss"/>.</summary>
    public const string BalancedBceName = "balanced_bce";
    /// <summary>Registry name of <see cref="SoftmaxCrossEntropyLoss"/>.</summary>
    public const string CrossEntropyName = "cross_entropy";

    private static readonly Dictionary<string, string[]> Accepted = new(StringComparer.Ordinal)
    {
        [SigmoidFocalName] = ["alpha", "gamma"],
        [ProbabilityFocalName] = ["alpha", "gamma"],
        [SoftmaxFocalName] = ["alpha", "gamma", "ignore_index"],
        [BceName] = [],
        [BalancedBceName] = ["alpha"],
        [CrossEntropyName] = ["weight", "ignore_index"],
    };

    /// <summary>Every name <see cref="Create"/> accepts.</summary>
    public static IReadOnlyList<string> Names { get; } = Accepted.Keys.ToList();

    /// <summary>Creates a <see cref="FocalLoss.SigmoidFocalLoss"/>.</summary>
    public static SigmoidFocalLoss SigmoidFocalLoss(double? alpha = 0.25, double gamma = 2.0, Reduction reduction = Reduction.Mean) => new(alpha, gamma, reduction);

    /// <summary>Creates a <see cref="FocalLoss.FocalLossFromProbabilities"/> (the seed's form).</summary>
    public static FocalLossFromProbabilities FocalLossFromProbabilities(double? alpha = 0.25, double gamma = 2.0, Reduction reduction = Reduction.Mean) => new(alpha, gamma, reduction);

    /// <summary>Creates a <see cref="FocalLoss.SoftmaxFocalLoss"/>.</summary>
    public static SoftmaxFocalLoss SoftmaxFocalLoss(Tensor? alpha = null, double gamma = 2.0, long ignoreIndex = -100, Reduction reduction = Reduction.Mean) => new(alpha, gamma, ignoreIndex, reduction);

    /// <summary>Creates a plain binary cross-entropy baseline.</summary>
    public static BinaryCrossEntropyLoss BCEWithLogitsLoss(Reduction reduction = Reduction.Mean) => new(reduction);

    /// <summary>Creates an alpha-balanced binary cross-entropy baseline.</summary>
    public static BalancedBinaryCrossEntropyLoss BalancedBCEWithLogitsLoss(double alpha = 0.25, Reduction reduction = Reduction.Mean) => new(alpha, reduction);

    /// <summary>Creates a softmax cross-entropy baseline.</summary>
    public static SoftmaxCrossEntropyLoss CrossEntropyLoss(Tensor? weight = null, long ignoreIndex = -100, Reduction reduction = Reduction.Mean) => new(weight, ignoreIndex, reduction);

    /// <summary>
    /// Creates a loss by registry name with hyper-parameters given as strings (as a config file holds
    /// them): <c>alpha</c>/<c>gamma</c> as numbers, <c>alpha</c> "none" for no weighting, vectors as
    /// comma-separated numbers, <c>ignore_index</c> as an integer. Unknown names and keys are errors
    /// that list the valid ones; omitted keys take the factory defaults.
    /// </summary>
    public static LossModule Create(string name, IReadOnlyDictionary<string, string>? hyperParameters = null, Reduction reduction = Reduction.Mean)
    {
        TorchRuntime.EnsureLoaded();
        if (!Accepted.TryGetValue(name, out var keys))
            throw new ArgumentException($"name must be one of {string.Join(", ", Names)}, got '{name}'", nameof(name));
        var hp = hyperParameters ?? new Dictionary<string, string>();
        foreach (var key in hp.Keys.Where(k => !keys.Contains(k)))
            throw new ArgumentException($"hyperParameters for {name} accept {(keys.Length == 0 ? "no keys" : string.Join(", ", keys))}, got '{key}'", nameof(hyperParameters));
        return name switch
        {
            SigmoidFocalName => SigmoidFocalLoss(OptionalNumber(hp, "alpha", 0.25), Number(hp, "gamma", 2.0), reduction),
            ProbabilityFocalName => FocalLossFromProbabilities(OptionalNumber(hp, "alpha", 0.25), Number(hp, "gamma", 2.0), reduction),
            SoftmaxFocalName => SoftmaxFocalLoss(Vector(hp, "alpha"), Number(hp, "gamma", 2.0), Integer(hp, "ignore_index", -100), reduction),
            BceName => BCEWithLogitsLoss(reduction),
            BalancedBceName => BalancedBCEWithLogitsLoss(Number(hp, "alpha", 0.25), reduction),
            _ => CrossEntropyLoss(Vector(hp, "weight"), Integer(hp, "ignore_index", -100), reduction),
        };
    }

    internal static string FormatVector(Tensor? vector) => vector is null
        ? "none"
        : string.Join(",", vector.to_type(ScalarType.Float64).cpu().data<double>().ToArray().Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

    private static double Number(IReadOnlyDictionary<string, string> hp, string key, double fallback) =>
        hp.TryGetValue(key, out var text) ? ParseNumber(key, text) : fallback;

    private static double? OptionalNumber(IReadOnlyDictionary<string, string> hp, string key, double fallback) =>
        !hp.TryGetValue(key, out var text) ? fallback : text == "none" ? null : ParseNumber(key, text);

    private static long Integer(IReadOnlyDictionary<string, string> hp, string key, long fallback)
    {
        if (!hp.TryGetValue(key, out var text)) return fallback;
        return long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new ArgumentException($"{key} must be an integer, got '{text}'", key);
    }

    private static Tensor? Vector(IReadOnlyDictionary<string, string> hp, string key) =>
        !hp.TryGetValue(key, out var text) || text == "none"
            ? null
            : tensor(text.Split(',').Select(part => ParseNumber(key, part.Trim())).ToArray(), ScalarType.Float32);

    private static double ParseNumber(string key, string text) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new ArgumentException($"{key} must be a number, got '{text}'", key);
}
