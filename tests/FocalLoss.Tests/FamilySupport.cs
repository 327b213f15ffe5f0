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

    /// <summary>Poly-1's epsilon over its whole range [-1, 5], with the paper's landmarks.</summary>
    public static readonly Gen<double> Epsilon = Gen.Frequency(
        (2, Gen.Elements(-1.0, 0.5, 1.0, 2.0)),
        (3, Uniform(-1, 5)));

    /// <summary>Label smoothing in (0, 0.5], the usual 0.1 and 0.2 often.</summary>
    public static readonly Gen<double> LabelSmoothing = Gen.Frequency(
        (2, Gen.Elements(0.1, 0.2)),
        (3, Uniform(0.001, 0.5)));

    /// <summary>ASL's probability margin: off, the authors' 0.05, or anywhere in (0, 0.4].</summary>
    public static readonly Gen<double> Clip = Gen.Frequency(
        (1, Gen.Constant(0.0)),
        (1, Gen.Elements(0.05, 0.2)),
        (2, Uniform(0.001, 0.4)));

    /// <summary>FL*'s gamma, > 0: landmarks and a spread over (0.05, 5].</summary>
    public static readonly Gen<double> StarGamma = Gen.Frequency(
        (2, Gen.Elements(1.0, 2.0, 4.0, 0.5)),
        (3, Uniform(0.05, 5)));

    /// <summary>FL*'s beta: landmarks and a spread over [-4, 4].</summary>
    public static readonly Gen<double> Beta = Gen.Frequency(
        (2, Gen.Elements(0.0, 1.0, -1.0)),
        (3, Uniform(-4, 4)));

    /// <summary>A gamma schedule of 0 to 3 thresholds in [0.05, 0.95], each gamma from <see cref="Generators.Gamma"/>.</summary>
    public static readonly Gen<GammaSchedule> Schedule =
        from n in Gen.Choose(0, 3)
        from raw in Gen.ArrayOf(Gen.Choose(5, 95), n)
        let thresholds = raw.Distinct().Order().Select(k => k / 100.0).ToArray()
        from gammas in Gen.ArrayOf(Generators.Gamma, thresholds.Length)
        from final in Generators.Gamma
        select new GammaSchedule(thresholds, gammas, final);

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

/// <summary>Evaluates multi-class losses on a <see cref="MultiClassCase"/> through TorchSharp, returning plain arrays.</summary>
internal static class MultiEval
{
    public delegate Tensor MultiLoss(Tensor inputs, Tensor targets, Tensor? alpha);

    /// <summary>The case's logits times <paramref name="scale"/>, clamped to +-100.</summary>
    public static double[] Scaled(MultiClassCase m, double scale) => m.Logits.Select(v => Math.Clamp(v * scale, -100, 100)).ToArray();

    /// <summary>Loss values (flattened) and the gradient of their sum with respect to the logits (row-major).</summary>
    public static (double[] Loss, double[] Grad) WithGrad(MultiLoss loss, MultiClassCase m, double[]? logits = null, ScalarType dtype = ScalarType.Float64)
    {
        using var scope = NewDisposeScope();
        var x = tensor(logits ?? m.Logits, ScalarType.Float64).reshape(m.Rows, m.Classes).to_type(dtype).requires_grad_(true);
        var alpha = m.Alpha is null ? null : tensor(m.Alpha, ScalarType.Float64).to_type(dtype);
        var output = loss(x, tensor(m.Targets), alpha);
        output.sum().backward();
        return (Eval.ToArray(output), Eval.ToArray(x.grad!));
    }

    public static double[] Values(MultiLoss loss, MultiClassCase m, double[]? logits = null)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = tensor(logits ?? m.Logits, ScalarType.Float64).reshape(m.Rows, m.Classes);
        var alpha = m.Alpha is null ? null : tensor(m.Alpha, ScalarType.Float64);
        return Eval.ToArray(loss(x, tensor(m.Targets), alpha));
    }

    /// <summary>Log-probabilities of one row in double (log-sum-exp with the max taken out).</summary>
    public static double[] LogSoftmax(MultiClassCase m, int row)
    {
        var z = Enumerable.Range(0, m.Classes).Select(k => m.Logit(row, k)).ToArray();
        var max = z.Max();
        var lse = max + Math.Log(z.Sum(v => Math.Exp(v - max)));
        return z.Select(v => v - lse).ToArray();
    }

    /// <summary>1 - p_k of one row in double: the sum of the other classes' probabilities (no cancellation).</summary>
    public static double[] OneMinusP(MultiClassCase m, int row)
    {
        var log_p = LogSoftmax(m, row);
        return Enumerable.Range(0, m.Classes).Select(k => Enumerable.Range(0, m.Classes).Where(j => j != k).Sum(j => Math.Exp(log_p[j]))).ToArray();
    }

    public static double AlphaOf(MultiClassCase m, int k) => m.Alpha is null ? 1.0 : m.Alpha[k];
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
