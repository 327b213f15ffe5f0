using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;

namespace FocalLoss;

/// <summary>
/// Input checks shared by every loss. Each failure is an <see cref="ArgumentException"/> whose message
/// names the parameter, what was expected and what arrived, e.g.
/// <c>targets shape [16, 1] must equal inputs shape [16]</c>.
/// </summary>
public static class Guard
{
    /// <summary>
    /// When true (the default), checks that look at tensor values (targets in [0, 1], class indices in
    /// range, probabilities in [0, 1]) run on every call. Each costs one reduction and, on CUDA, one
    /// device-to-host synchronisation; a hot training loop may turn them off after validating its data
    /// once. Shape, dtype, device and hyper-parameter checks always run.
    /// </summary>
    public static bool CheckTensorValues { get; set; } = true;

    /// <summary>Formats a shape the way messages show it: <c>[16, 1]</c>.</summary>
    public static string Shape(long[] shape) => "[" + string.Join(", ", shape) + "]";

    internal static string Num(double value) => value.ToString("R", CultureInfo.InvariantCulture);

    internal static void FloatingPoint(Tensor tensor, string name)
    {
        if (!tensor.is_floating_point())
            throw new ArgumentException($"{name} must have a floating-point dtype (float16, bfloat16, float32 or float64), got {tensor.dtype}", name);
    }

    internal static void SameShape(Tensor tensor, string name, Tensor reference, string referenceName)
    {
        if (!tensor.shape.AsSpan().SequenceEqual(reference.shape))
            throw new ArgumentException($"{name} shape {Shape(tensor.shape)} must equal {referenceName} shape {Shape(reference.shape)}", name);
    }

    internal static void SameDtype(Tensor tensor, string name, Tensor reference, string referenceName)
    {
        if (tensor.dtype != reference.dtype)
            throw new ArgumentException($"{name} dtype must equal {referenceName} dtype {reference.dtype}, got {tensor.dtype}", name);
    }

    internal static void SameDevice(Tensor tensor, string name, Tensor reference, string referenceName)
    {
        if (tensor.device.ToString() != reference.device.ToString())
            throw new ArgumentException($"{name} must be on {referenceName}'s device {reference.device}, got {tensor.device}", name);
    }

    internal static void Gamma(double gamma)
    {
        if (!double.IsFinite(gamma) || gamma < 0)
            throw new ArgumentException($"gamma must be finite and >= 0, got {Num(gamma)}", nameof(gamma));
    }

    internal static void Alpha(double? alpha)
    {
        if (alpha is { } a && !(a >= 0 && a <= 1))
            throw new ArgumentException($"alpha must be in [0, 1] or null (no class weighting), got {Num(a)}", nameof(alpha));
    }

    internal static void Reduction(nn.Reduction reduction)
    {
        if (reduction is not (nn.Reduction.None or nn.Reduction.Mean or nn.Reduction.Sum))
            throw new ArgumentException($"reduction must be None, Mean or Sum, got {(int)reduction}", nameof(reduction));
    }

    /// <summary>Every element in [0, 1] (NaN fails). Skipped when <see cref="CheckTensorValues"/> is off.</summary>
    internal static void InUnitInterval(Tensor tensor, string name)
    {
        if (!CheckTensorValues || tensor.numel() == 0) return;
        using var scope = NewDisposeScope();
        var (min, max) = torch.aminmax(tensor.detach());
        var lo = min.to_type(ScalarType.Float64).item<double>();
        var hi = max.to_type(ScalarType.Float64).item<double>();
        if (!(lo >= 0 && hi <= 1))
            throw new ArgumentException($"{name} must lie in [0, 1], got values in [{Num(lo)}, {Num(hi)}]", name);
    }

    /// <summary>
    /// Checks binary targets lie in [0, 1] (when <see cref="CheckTensorValues"/> is on) and tells whether
    /// all of them are hard 0/1 labels, in one pass: <c>t (1 - t)</c> is 0 for hard labels, in (0, 1/4]
    /// for soft ones, negative outside [0, 1] and NaN for NaN. Hardness is looked up only where it is
    /// free or already paid for (CPU tensors, or when value checks run); otherwise this returns false and
    /// the caller takes its general soft-target path, which is exact for hard labels too.
    /// </summary>
    internal static bool TargetsAreHard(Tensor targets, string name)
    {
        if (targets.numel() == 0) return true;
        if (!CheckTensorValues && targets.device_type != DeviceType.CPU) return false;
        using var scope = NewDisposeScope();
        var t = targets.detach();
        var (min, max) = torch.aminmax(t * (1 - t));
        var lo = min.to_type(ScalarType.Float64).item<double>();
        var hi = max.to_type(ScalarType.Float64).item<double>();
        if (CheckTensorValues && !(lo >= 0 && hi <= 0.25))
            InUnitInterval(targets, name); // throws, naming the actual range
        return hi == 0;
    }

    /// <summary>Class-index targets: int64, every value in [0, classes) or equal to ignoreIndex.</summary>
    internal static void ClassIndices(Tensor targets, string name, long classes, long ignoreIndex)
    {
        if (targets.dtype != ScalarType.Int64)
            throw new ArgumentException($"{name} must hold class indices with dtype Int64, got {targets.dtype}", name);
        if (!CheckTensorValues || targets.numel() == 0) return;
        using var scope = NewDisposeScope();
        var bad = targets.lt(0).logical_or(targets.ge(classes)).logical_and(targets.ne(ignoreIndex));
        if (bad.any().item<bool>())
        {
            var example = targets.masked_select(bad)[0].item<long>();
            throw new ArgumentException(
                $"{name} must be class indices in [0, {classes - 1}] or ignoreIndex {ignoreIndex}, got {example} ({bad.sum().item<long>()} such values)", name);
        }
    }
}
