using FocalLoss.Infrastructure;
using static TorchSharp.torch;

namespace FocalLoss;

/// <summary>
/// A sample-dependent focusing parameter (Mukhoti et al. 2020, "Calibrating Deep Neural Networks using Focal
/// Loss", arXiv:2002.09437): gamma is chosen per sample from its p_t by thresholds. With thresholds
/// <c>th_1 &lt; ... &lt; th_n</c> and gammas <c>g_1 ... g_n</c>, a sample gets <c>g_i</c> for the first i with
/// <c>p_t &lt; th_i</c>, and <see cref="FinalGamma"/> when <c>p_t</c> is at or above every threshold.
/// </summary>
/// <remarks>
/// The choice is made on detached p_t and carries no gradient (the authors read p_t with <c>.item()</c>).
/// <see cref="Flsd53"/> is the paper's FLSD-53: gamma 5 where <c>p_t &lt; 0.2</c>, else 3.
/// </remarks>
public sealed class GammaSchedule
{
    private readonly double[] thresholds;
    private readonly double[] gammas;

    /// <summary>Creates a schedule after checking it.</summary>
    /// <param name="thresholds">Strictly ascending values in (0, 1]; may be empty (a constant gamma).</param>
    /// <param name="gammas">The gamma below each threshold, one per threshold, finite and >= 0.</param>
    /// <param name="finalGamma">The gamma at or above the last threshold, finite and >= 0.</param>
    public GammaSchedule(IReadOnlyList<double> thresholds, IReadOnlyList<double> gammas, double finalGamma)
    {
        ArgumentNullException.ThrowIfNull(thresholds);
        ArgumentNullException.ThrowIfNull(gammas);
        if (gammas.Count != thresholds.Count)
            throw new ArgumentException($"gammas must hold one gamma per threshold ({thresholds.Count}), got {gammas.Count}", nameof(gammas));
        for (var i = 0; i < thresholds.Count; i++)
            if (!(thresholds[i] > 0 && thresholds[i] <= 1) || (i > 0 && !(thresholds[i] > thresholds[i - 1])))
                throw new ArgumentException($"thresholds must be strictly ascending values in (0, 1], got [{string.Join(", ", thresholds.Select(Format.Number))}]", nameof(thresholds));
        for (var i = 0; i < gammas.Count; i++)
            Guard.Gamma(gammas[i], $"gammas[{i}]");
        Guard.Gamma(finalGamma, nameof(finalGamma));
        this.thresholds = thresholds.ToArray();
        this.gammas = gammas.ToArray();
        FinalGamma = finalGamma;
    }

    /// <summary>FLSD-53 (Mukhoti et al. 2020): gamma 5 where <c>p_t &lt; 0.2</c>, else 3.</summary>
    public static GammaSchedule Flsd53 { get; } = new([0.2], [5.0], 3.0);

    /// <summary>The same gamma for every sample: the sample-dependent loss is then the ordinary focal loss.</summary>
    public static GammaSchedule Constant(double gamma) => new([], [], gamma);

    /// <summary>The thresholds on p_t, ascending.</summary>
    public IReadOnlyList<double> Thresholds => thresholds;
    /// <summary>The gamma below each threshold.</summary>
    public IReadOnlyList<double> Gammas => gammas;
    /// <summary>The gamma at or above the last threshold.</summary>
    public double FinalGamma { get; }

    /// <summary>The gamma for one sample of probability <paramref name="p_t"/>.</summary>
    public double GammaFor(double p_t)
    {
        for (var i = 0; i < thresholds.Length; i++)
            if (p_t < thresholds[i]) return gammas[i];
        return FinalGamma;
    }

    /// <summary>The gamma of every element of <paramref name="p_t"/>: a tensor of its shape, dtype and device, without gradient.</summary>
    public Tensor GammaFor(Tensor p_t)
    {
        using var scope = NewDisposeScope();
        var p = p_t.detach();
        var gamma = full_like(p, FinalGamma);
        // From the last threshold down, so that the smallest threshold a p_t lies under decides.
        for (var i = thresholds.Length - 1; i >= 0; i--)
            gamma = gamma.masked_fill(p.lt(thresholds[i]), gammas[i]);
        return gamma.MoveToOuterDisposeScope();
    }

    /// <summary>A readable form for logs and reports, e.g. <c>p_t &lt; 0.2: 5, else 3</c>.</summary>
    public override string ToString() =>
        string.Concat(thresholds.Select((t, i) => $"p_t < {Format.Number(t)}: {Format.Number(gammas[i])}, ")) + (thresholds.Length == 0 ? Format.Number(FinalGamma) : $"else {Format.Number(FinalGamma)}");
}
