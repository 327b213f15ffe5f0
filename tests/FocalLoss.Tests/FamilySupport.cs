using FsCheck;
using FsCheck.Fluent;
using TorchSharp;
using static TorchSharp.torch;

namespace FocalLoss.Tests;

/// <summary>Generators for the hyper-parameters of the later members of the family (ASL, Poly-1, FL*, FLSD, label smoothing).</summary>
public static class FamilyGenerators
{
    private static Gen<double> Uniform(double lo, double hi) =>
        Gen.Choose(0, 1_000_000).Select(k => lo + (hi - lo) * k / 1_000_000.0);

    /// <summary>ASL's probability margin: off, the authors' 0.05, or anywhere in (0, 0.4].</summary>
    public static readonly Gen<double> Clip = Gen.Frequency(
        (1, Gen.Constant(0.0)),
        (1, Gen.Elements(0.05, 0.2)),
        (2, Uniform(0.001, 0.4)));

    /// <summary>ASL's hyper-parameters.</summary>
    public sealed record AslParameters(double GammaNeg, double GammaPos, double Clip, bool Detach)
    {
        public override string ToString() => $"gamma_neg={GammaNeg:R} gamma_pos={GammaPos:R} clip={Clip:R} detach={Detach}";
    }

    public static readonly Gen<AslParameters> Asl =
        from gn in Generators.Gamma
        from gp in Generators.Gamma
        from clip in Clip
        from detach in Gen.Elements(false, true)
        select new AslParameters(gn, gp, clip, detach);

    public static Arbitrary<T> Arb<T>(Gen<T> gen) => FsCheck.Fluent.Arb.From(gen);
}

internal static class Compare
{
    /// <summary>Null when every pair agrees to <see cref="Tol.IdentityRel64"/> / <see cref="Tol.IdentityAbs64"/>, else the worst pair.</summary>
    public static string? Identity(double[] actual, double[] expected, string what) => Within(actual, expected, Tol.IdentityRel64, Tol.IdentityAbs64, what);

    public static string? Within(double[] actual, double[] expected, double rel, double abs, string what)
    {
        if (actual.Length != expected.Length) return $"{what}: {actual.Length} values, expected {expected.Length}";
        for (var i = 0; i < actual.Length; i++)
            if (!Tol.Close(actual[i], expected[i], rel, abs))
                return $"{what}[{i}]: {actual[i]:R}, expected {expected[i]:R}";
        return null;
    }

    /// <summary>The first non-null message, or null.</summary>
    public static string? First(params string?[] messages) => messages.FirstOrDefault(m => m is not null);
}
