using System.Globalization;
using TorchSharp;
using static TorchSharp.torch;
using FocalLoss.Infrastructure;

namespace FocalLoss;

/// <summary>
/// Input checks shared by every loss. Each failure is an <see cref="ArgumentException"/> whose message
/// names the parameter, what was expected and what arrived, e.g.
/// <c>targets shape [16, 1] must equal inputs shape [16]</c>.
/// </summary>
public static class Guard
{
    private static readonly AsyncLocal<int> OpenScopes = new();

    /// <summary>
    /// True (the default) unless the caller is inside a <see cref="WithoutValueChecks"/> scope: then checks
    /// that look at tensor values (targets in [0, 1], class indices in range, probabilities in [0, 1],
    /// per-class weights) are skipped. Each such check costs one reduction and, on CUDA, one
    /// device-to-host synchronisation. Shape, dtype, device and hyper-parameter checks always run.
    /// </summary>
    public static bool CheckTensorValues => OpenScopes.Value == 0;

    /// <summary>
    /// Turns the value checks off for the current flow of execution until the returned scope is disposed:
    /// this thread, and threads and tasks it starts while the scope is open (the setting flows to them as
    /// .NET's AsyncLocal does); threads already running keep their checks. Scopes nest and may be disposed
    /// in any order: the checks come back when every open scope is disposed; disposing one twice counts
    /// once. For a hot loop over data that was validated once: <c>using (Guard.WithoutValueChecks()) { ... }</c>.
    /// </summary>
    public static IDisposable WithoutValueChecks()
    {
        OpenScopes.Value++;
        return new Scope();
    }

    private sealed class Scope : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0 && OpenScopes.Value > 0)
                OpenScopes.Value--;
        }
    }

    internal static void FloatingPoint(Tensor tensor, string name)
    {
        if (!tensor.is_floating_point())
            throw new ArgumentException($"{name} must have a floating-point dtype (float16, bfloat16, float32 or float64), got {tensor.dtype}", name);
    }

    internal static void SameShape(Tensor tensor, string name, Tensor reference, string referenceName)
    {
        if (!tensor.shape.AsSpan().SequenceEqual(reference.shape))
            throw new ArgumentException($"{name} shape {Format.Shape(tensor.shape)} must equal {referenceName} shape {Format.Shape(reference.shape)}", name);
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

    internal static void Gamma(double gamma, string name = "gamma")
    {
        if (!double.IsFinite(gamma) || gamma < 0)
            throw new ArgumentException($"{name} must be finite and >= 0, got {Format.Number(gamma)}", name);
    }

    /// <summary>A focusing parameter that divides the loss (FL*): finite and strictly positive.</summary>
    internal static void PositiveGamma(double gamma)
    {
        if (!double.IsFinite(gamma) || !(gamma > 0))
            throw new ArgumentException($"gamma must be finite and > 0, got {Format.Number(gamma)}", nameof(gamma));
    }

    internal static void Finite(double value, string name)
    {
        if (!double.IsFinite(value))
            throw new ArgumentException($"{name} must be finite, got {Format.Number(value)}", name);
    }

    /// <summary>Poly-1's coefficient: finite and >= -1 (the paper's range; -1 cancels the leading polynomial term of CE).</summary>
    internal static void Epsilon(double epsilon)
    {
        if (!double.IsFinite(epsilon) || epsilon < -1)
            throw new ArgumentException($"epsilon must be finite and >= -1, got {Format.Number(epsilon)}", nameof(epsilon));
    }

    /// <summary>Label smoothing in [0, 1): 0 is off; 1 would erase the labels.</summary>
    internal static void LabelSmoothing(double labelSmoothing)
    {
        if (!(labelSmoothing >= 0 && labelSmoothing < 1))
            throw new ArgumentException($"labelSmoothing must be in [0, 1), got {Format.Number(labelSmoothing)}", nameof(labelSmoothing));
    }

    /// <summary>ASL's probability margin in [0, 1): 0 turns it off.</summary>
    internal static void Clip(double clip)
    {
        if (!(clip >= 0 && clip < 1))
            throw new ArgumentException($"clip must be in [0, 1) (0: no probability margin), got {Format.Number(clip)}", nameof(clip));
    }

    internal static void Alpha(double? alpha)
    {
        if (alpha is { } a && !(a >= 0 && a <= 1))
            throw new ArgumentException($"alpha must be in [0, 1] or null (no class weighting), got {Format.Number(a)}", nameof(alpha));
    }

    internal static nn.Reduction Reduction(nn.Reduction reduction)
    {
        if (reduction is not (nn.Reduction.None or nn.Reduction.Mean or nn.Reduction.Sum))
            throw new ArgumentException($"reduction must be None, Mean or Sum, got {(int)reduction}", nameof(reduction));
        return reduction;
    }

    /// <summary>
    /// Per-class weights given to a loss's constructor: null (none), or a 1-D, non-empty, floating-point
    /// tensor of finite values >= 0, checked always (construction is not a hot path). Returns a detached copy.
    /// </summary>
    internal static Tensor? ClassWeights(Tensor? weights, string name)
    {
        if (weights is null) return null;
        if (weights.dim() != 1 || weights.shape[0] == 0)
            throw new ArgumentException($"{name} must be a non-empty 1-D tensor of per-class weights, got shape {Format.Shape(weights.shape)}", name);
        FloatingPoint(weights, name);
        NonNegativeFinite(weights, name);
        return weights.detach().clone();
    }

    /// <summary>Every value finite and >= 0, naming all values when one is not.</summary>
    internal static void NonNegativeFinite(Tensor weights, string name)
    {
        using var scope = NewDisposeScope();
        var bad = weights.isfinite().logical_not().logical_or(weights.lt(0));
        if (bad.any().item<bool>() || !weights.gt(0).any().item<bool>())
            throw new ArgumentException($"{name} values must be finite and >= 0 with at least one > 0, got [{string.Join(", ", weights.to_type(ScalarType.Float64).cpu().data<double>().ToArray().Select(Format.Number))}]", name);
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
            throw new ArgumentException($"{name} must lie in [0, 1], got values in [{Format.Number(lo)}, {Format.Number(hi)}]", name);
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

    /// <summary>
    /// Hard 0/1 targets only, for losses defined on labels (FL*): every element 0 or 1 (NaN fails), naming one
    /// offending value. Skipped when <see cref="CheckTensorValues"/> is off.
    /// </summary>
    internal static void HardTargets(Tensor targets, string name, string why)
    {
        if (!CheckTensorValues || targets.numel() == 0) return;
        using var scope = NewDisposeScope();
        var t = targets.detach();
        var bad = t.ne(0).logical_and(t.ne(1));
        if (bad.any().item<bool>())
        {
            var example = t.masked_select(bad)[0].to_type(ScalarType.Float64).item<double>();
            throw new ArgumentException($"{name} must be hard 0/1 labels ({why}), got {Format.Number(example)} ({bad.sum().item<long>()} such values)", name);
        }
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
