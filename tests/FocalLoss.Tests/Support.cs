using System.Runtime.CompilerServices;
using FsCheck;
using FsCheck.Fluent;
using TorchSharp;
using static TorchSharp.torch;

namespace FocalLoss.Tests;

/// <summary>Every test goes through the native bootstrap before its first tensor, as a user's program does.</summary>
internal static class NativeBootstrap
{
    [ModuleInitializer]
    internal static void Init() => TorchRuntime.EnsureLoaded();
}

/// <summary>Named tolerances per dtype: no magic numbers at call sites.</summary>
internal static class Tol
{
    /// <summary>Golden float64: relative tolerance (issue: 1e-10).</summary>
    public const double GoldenRel64 = 1e-10;
    /// <summary>Golden float64: absolute tolerance near zero (issue: 1e-12).</summary>
    public const double GoldenAbs64 = 1e-12;
    /// <summary>Golden float32 (issue: 1e-5), relative with the same absolute floor scaled for float32.</summary>
    public const double GoldenRel32 = 1e-5;
    public const double GoldenAbs32 = 1e-7;
    /// <summary>Identities that hold exactly in real arithmetic, evaluated in float64 along two different paths.</summary>
    public const double IdentityRel64 = 1e-9;
    public const double IdentityAbs64 = 1e-12;
    /// <summary>Comparisons against the probability form, which loses relative precision as p_t nears 1.</summary>
    public const double ProbFormRel64 = 1e-7;
    public const double ProbFormAbs64 = 1e-9;
    /// <summary>How many roundings of p_t the probability form may accumulate (see its property).</summary>
    public const double ProbFormUlps = 8;
    public const double MachineEpsilon64 = 2.220446049250313e-16;
    /// <summary>Central finite differences in float64 with step <see cref="FiniteDiffStep"/>.</summary>
    public const double FiniteDiffStep = 1e-6;
    public const double FiniteDiffRel = 1e-5;
    public const double FiniteDiffAbs = 1e-8;

    /// <summary>
    /// Temperature fitted to labels drawn from sigmoid(z / T0) or softmax(z / T0), 40,000 samples: within 5 % of
    /// T0 (the sampling spread of the fit there is about 1 %, so this is several standard deviations).
    /// </summary>
    public const double TemperatureRecoveryRel = 0.05;
    /// <summary>Temperature against scipy.optimize.minimize_scalar (which locates ln T to about 1e-8 by function values).</summary>
    public const double ScipyTemperatureRel = 1e-6;
    /// <summary>
    /// Temperature against SciPy's brentq root of the NLL's slope in 1/T (machine precision): the fit's
    /// documented tolerance on ln T, Calibration.LogTemperatureTolerance = 1e-10.
    /// </summary>
    public const double SlopeRootTemperatureRel = 1e-10;
    /// <summary>Platt (A, B) fitted to labels drawn from sigmoid(A0 z + B0), 40,000 samples: within 5 % (sampling spread about 1 %).</summary>
    public const double PlattRecoveryRel = 0.05;
    /// <summary>Platt (A, B) against scikit-learn's newton-cg logistic regression, itself checked against SciPy to 1e-8 by the generator.</summary>
    public const double PlattReferenceRel = 1e-8;
    public const double PlattReferenceAbs = 1e-10;
    /// <summary>Relative change of T for the first-order optimality check: the NLL must not fall at T (1 +- this).</summary>
    public const double OptimalityStep = 1e-3;

    public static bool Close(double actual, double expected, double rel, double abs) =>
        actual == expected || Math.Abs(actual - expected) <= abs + rel * Math.Abs(expected);
}

/// <summary>Where a logit sits relative to its target: the buckets the properties are generated from.</summary>
public enum Bucket { ConfidentRight, ConfidentWrong, Uncertain, Saturated }

/// <summary>One generated binary case: logits with 0/1 targets, hyper-parameters and the buckets used.</summary>
public sealed record BinaryCase(double[] Logits, double[] Targets, double? Alpha, double Gamma, Bucket[] Buckets)
{
    public override string ToString() =>
        $"logits=[{string.Join(", ", Logits.Select(v => v.ToString("R")))}] targets=[{string.Join(", ", Targets)}] alpha={Alpha?.ToString("R") ?? "none"} gamma={Gamma:R}";

    public bool Has(Bucket bucket) => Buckets.Contains(bucket);

    public double AlphaT(int i) => Alpha is { } a ? (Targets[i] == 1 ? a : 1 - a) : 1.0;
}

/// <summary>FsCheck generators from meaningful buckets: confident-right, confident-wrong, uncertain, saturated (+-30..100).</summary>
public static class Generators
{
    private static Gen<double> Uniform(double lo, double hi) =>
        Gen.Choose(0, 1_000_000).Select(k => lo + (hi - lo) * k / 1_000_000.0);

    /// <summary>A logit for a given target from a given bucket.</summary>
    public static Gen<double> Logit(Bucket bucket, double target)
    {
        var sign = target == 1 ? 1.0 : -1.0;
        return bucket switch
        {
            Bucket.ConfidentRight => Uniform(2, 12).Select(m => sign * m),
            Bucket.ConfidentWrong => Uniform(2, 12).Select(m => -sign * m),
            Bucket.Uncertain => Uniform(-1, 1),
            _ => from m in Gen.Elements(30.0, 80.0, 100.0, 45.5) from s in Gen.Elements(1.0, -1.0) select s * m,
        };
    }

    public static readonly Gen<double> Gamma = Gen.Frequency(
        (3, Gen.Elements(0.0, 0.5, 1.0, 2.0, 5.0)),
        (2, Uniform(0, 5)),
        (1, Uniform(0.01, 0.99)));

    public static readonly Gen<double?> Alpha = Gen.Frequency(
        (3, Uniform(0, 1).Select(a => (double?)a)),
        (1, Gen.Elements<double?>(0.25, 0.5, 0.75)),
        (1, Gen.Constant<double?>(null)));

    private static readonly Gen<(Bucket, double, double)> Element =
        from bucket in Gen.Elements(Bucket.ConfidentRight, Bucket.ConfidentWrong, Bucket.Uncertain, Bucket.Saturated)
        from target in Gen.Elements(0.0, 1.0)
        from logit in Logit(bucket, target)
        select (bucket, target, logit);

    /// <summary>Binary cases of 1 to 24 elements with mixed buckets.</summary>
    public static readonly Gen<BinaryCase> Binary =
        from n in Gen.Choose(1, 24)
        from elements in Gen.ArrayOf(Element, n)
        from alpha in Alpha
        from gamma in Gamma
        select new BinaryCase(elements.Select(e => e.Item3).ToArray(), elements.Select(e => e.Item2).ToArray(), alpha, gamma, elements.Select(e => e.Item1).ToArray());

    /// <summary>Binary cases without saturated logits (where both forms and finite differences are well conditioned).</summary>
    public static readonly Gen<BinaryCase> BinaryModerate = Binary.Where(c => !c.Has(Bucket.Saturated));

    public static Arbitrary<BinaryCase> BinaryArb => Binary.ToArbitrary();
    public static Arbitrary<BinaryCase> BinaryModerateArb => BinaryModerate.ToArbitrary();

    /// <summary>Shows the bucket spread in FsCheck's report.</summary>
    public static Property Classified(this Property property, BinaryCase c) => property
        .Classify(c.Has(Bucket.ConfidentRight), "confident-right")
        .Classify(c.Has(Bucket.ConfidentWrong), "confident-wrong")
        .Classify(c.Has(Bucket.Uncertain), "uncertain")
        .Classify(c.Has(Bucket.Saturated), "saturated")
        .Classify(c.Gamma > 0 && c.Gamma < 1, "0<gamma<1");
}

/// <summary>Central finite differences in float64.</summary>
internal static class FiniteDifferences
{
    /// <summary>d f / d x_i for every i, with step <see cref="Tol.FiniteDiffStep"/>.</summary>
    public static double[] Gradient(Func<double[], double> f, double[] x) =>
        Enumerable.Range(0, x.Length).Select(i =>
        {
            var plus = (double[])x.Clone();
            var minus = (double[])x.Clone();
            plus[i] += Tol.FiniteDiffStep;
            minus[i] -= Tol.FiniteDiffStep;
            return (f(plus) - f(minus)) / (2 * Tol.FiniteDiffStep);
        }).ToArray();

    /// <summary>Whether an analytic gradient matches the finite differences within the named tolerances.</summary>
    public static bool Matches(double[] analytic, double[] numeric) =>
        analytic.Length == numeric.Length && analytic.Zip(numeric).All(p => Tol.Close(p.First, p.Second, Tol.FiniteDiffRel, Tol.FiniteDiffAbs));
}

/// <summary>Evaluates losses through TorchSharp and returns plain arrays.</summary>
internal static class Eval
{
    public delegate Tensor BinaryLoss(Tensor inputs, Tensor targets);

    /// <summary>Loss values (flattened) and the gradient of their sum with respect to the logits.</summary>
    public static (double[] Loss, double[] Grad) WithGrad(BinaryLoss loss, double[] logits, double[] targets, ScalarType dtype = ScalarType.Float64)
    {
        using var scope = NewDisposeScope();
        var x = tensor(logits, ScalarType.Float64).to_type(dtype).requires_grad_(true);
        var t = tensor(targets, ScalarType.Float64).to_type(dtype);
        var output = loss(x, t);
        output.sum().backward();
        return (ToArray(output), ToArray(x.grad!));
    }

    public static double[] Values(BinaryLoss loss, double[] logits, double[] targets, ScalarType dtype = ScalarType.Float64)
    {
        using var scope = NewDisposeScope();
        var x = tensor(logits, ScalarType.Float64).to_type(dtype);
        var t = tensor(targets, ScalarType.Float64).to_type(dtype);
        using var _ = no_grad();
        return ToArray(loss(x, t));
    }

    public static double[] ToArray(Tensor t) => t.detach().to_type(ScalarType.Float64).cpu().reshape(-1).data<double>().ToArray();

    public static double Sigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));

    /// <summary>Stable softplus in double: log(1 + e^x).</summary>
    public static double Softplus(double x) => Math.Max(x, 0) + Log1p(Math.Exp(-Math.Abs(x)));

    /// <summary>Accurate log(1 + x) for small x (Goldberg's trick; .NET's LogP1 is log(1 + x) as written).</summary>
    public static double Log1p(double x)
    {
        var u = 1 + x;
        return u == 1 ? x : Math.Log(u) * x / (u - 1);
    }
}

internal static class TensorAssert
{
    /// <summary>Same shape and every element equal (bit-for-bit up to -0 == 0).</summary>
    public static bool Same(Tensor a, Tensor b)
    {
        using var scope = NewDisposeScope();
        return a.shape.AsSpan().SequenceEqual(b.shape) && a.eq(b).all().item<bool>();
    }
}
