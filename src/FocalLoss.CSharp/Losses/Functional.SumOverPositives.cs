using static TorchSharp.torch;

namespace FocalLoss;

public static partial class Functional
{
    /// <summary>
    /// The detection convention for reducing a dense loss (RetinaNet, Lin et al. 2017, arXiv:1708.02002,
    /// section 4): the sum of the per-element losses divided by <c>max(1, number of positive targets)</c>. A batch
    /// without positives is divided by 1, i.e. it gives the plain sum.
    /// </summary>
    /// <remarks>
    /// For binary and multi-label targets. A positive is a target above 1/2: exactly the 1s of 0/1 targets, and
    /// the targets that lean positive among soft ones (a label-smoothed 1 still counts, a smoothed 0 does not;
    /// a target of exactly 1/2 does not). Multi-class class-index targets are refused: they have no positives to
    /// count. The count carries no gradient and stays on the device (no host synchronisation).
    /// </remarks>
    /// <param name="perElementLoss">Unreduced loss, floating point, the shape of <paramref name="targets"/>.</param>
    /// <param name="targets">Binary or multi-label targets in [0, 1], floating point, on the loss's device.</param>
    public static Tensor sum_over_positives(Tensor perElementLoss, Tensor targets)
    {
        TorchRuntime.EnsureLoaded();
        Guard.FloatingPoint(perElementLoss, nameof(perElementLoss));
        if (!targets.is_floating_point())
            throw new ArgumentException($"targets must be floating-point binary or multi-label targets in [0, 1], got {targets.dtype}: class-index targets have no positives to count", nameof(targets));
        Guard.SameShape(targets, nameof(targets), perElementLoss, nameof(perElementLoss));
        Guard.SameDevice(targets, nameof(targets), perElementLoss, nameof(perElementLoss));
        Guard.InUnitInterval(targets, nameof(targets));
        using var scope = NewDisposeScope();
        return (perElementLoss.sum() / PositivesDivisor(targets, perElementLoss.dtype)).MoveToOuterDisposeScope();
    }

    /// <summary><c>max(1, number of targets above 1/2)</c> as a 0-dim tensor of <paramref name="dtype"/>, on the targets' device, without a gradient.</summary>
    internal static Tensor PositivesDivisor(Tensor targets, ScalarType dtype)
    {
        using var scope = NewDisposeScope();
        return targets.detach().gt(0.5).sum().clamp_min(1).to(dtype).MoveToOuterDisposeScope();
    }
}
