using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text.Json;
using System.Text.Json.Serialization;
using FsCheck;
using FsCheck.Fluent;
using TorchSharp;
using static TorchSharp.torch;

namespace FocalLoss.Tests;

/// <summary>Every test goes through the native bootstrap before its first tensor, as a user's program does.</summary>
internal static class NativeBootstrap
{
    [ModuleInitializer]
    internal static void Init()
    {
        // Run as a program (the child process of the first-load race), the assembly leaves the first load to it.
        if (Assembly.GetEntryAssembly() == typeof(NativeBootstrap).Assembly) return;
        TorchRuntime.EnsureLoaded();
    }
}

/// <summary>The golden files of data/golden/ (<c>{"meta": ..., "cases": [...]}</c>, NaN and Infinity as named literals).</summary>
internal static class Golden
{
    private sealed record GoldenFile<T>(JsonElement Meta, T[] Cases);

    /// <summary>The cases of one golden file, e.g. <c>asl.json</c>.</summary>
    public static T[] Load<T>(string fileName)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "data", "golden", fileName);
        var options = new JsonSerializerOptions
        {
            PropertyNameCaseInsensitive = true,
            NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        };
        return JsonSerializer.Deserialize<GoldenFile<T>>(File.ReadAllText(path), options)!.Cases;
    }

    /// <summary>PyTorch's reduction name as a <see cref="nn.Reduction"/>; anything else is a broken file, not a default.</summary>
    public static nn.Reduction ReductionOf(int id, string reduction) => reduction switch
    {
        "none" => nn.Reduction.None,
        "sum" => nn.Reduction.Sum,
        "mean" => nn.Reduction.Mean,
        _ => throw new InvalidDataException($"golden case {id}: unknown reduction '{reduction}'"),
    };
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
    /// <summary>How many roundings of f (each up to eps |f|) a central difference may divide by its step.</summary>
    public const double FiniteDiffRoundoffUlps = 4;

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

    /// <summary>The same case with only the elements at <paramref name="indices"/>, in that order.</summary>
    public BinaryCase Keep(int[] indices) =>
        this with { Logits = indices.Select(i => Logits[i]).ToArray(), Targets = indices.Select(i => Targets[i]).ToArray(), Buckets = indices.Select(i => Buckets[i]).ToArray() };
}

/// <summary>
/// One generated multi-class case: row-major logits <c>[Rows, Classes]</c>, one class index per row,
/// optional per-class alpha and gamma.
/// </summary>
public sealed record MultiClassCase(double[] Logits, long[] Targets, int Classes, double[]? Alpha, double Gamma)
{
    public int Rows => Targets.Length;

    public double Logit(int row, int k) => Logits[row * Classes + k];

    /// <summary>A row's standing, the bucket its shrinks keep: whether the target class is the strict argmax.</summary>
    public bool TargetLeads(int row) =>
        Enumerable.Range(0, Classes).All(k => k == Targets[row] || Logit(row, k) < Logit(row, (int)Targets[row]));

    public override string ToString()
    {
        var rows = Enumerable.Range(0, Rows).Select(r =>
            "[" + string.Join(", ", Enumerable.Range(0, Classes).Select(k => Logit(r, k).ToString("R"))) + "]");
        var alpha = Alpha is null ? "none" : "[" + string.Join(", ", Alpha.Select(a => a.ToString("R"))) + "]";
        return $"classes={Classes} logits=[{string.Join(", ", rows)}] targets=[{string.Join(", ", Targets)}] alpha={alpha} gamma={Gamma:R}";
    }
}

/// <summary>FsCheck generators from meaningful buckets: confident-right, confident-wrong, uncertain, saturated (+-30..100).</summary>
/// <remarks>
/// Every arbitrary comes with a shrinker (<see cref="Shrink"/>), so a failing property reports a small
/// counterexample whose elements are still in the buckets they were drawn from.
/// </remarks>
public static class Generators
{
    /// <summary>Magnitudes of confident logits (right or wrong side).</summary>
    public const double ConfidentMin = 2, ConfidentMax = 12;
    /// <summary>Uncertain logits lie in [-UncertainMax, UncertainMax].</summary>
    public const double UncertainMax = 1;
    /// <summary>The magnitudes of saturated logits.</summary>
    public static readonly double[] SaturatedMagnitudes = [30.0, 80.0, 100.0, 45.5];

    /// <summary>Element counts of the short cases (bucket variety) and of the long ones (gradient and reduction checks).</summary>
    public const int ShortMin = 1, ShortMax = 24, LongMin = 8, LongMax = 64;
    /// <summary>Multi-class cases: classes per row, and rows of the short and the long cases.</summary>
    public const int ClassesMin = 2, ClassesMax = 6, MultiRowsMax = 12, MultiLongRowsMin = 8, MultiLongRowsMax = 16;
    /// <summary>Multi-class logits are multiples of 1/400 in [-MultiLogitMax, MultiLogitMax].</summary>
    public const double MultiLogitMax = 10;

    private static Gen<double> Uniform(double lo, double hi) =>
        Gen.Choose(0, 1_000_000).Select(k => lo + (hi - lo) * k / 1_000_000.0);

    /// <summary>A logit for a given target from a given bucket.</summary>
    public static Gen<double> Logit(Bucket bucket, double target)
    {
        var sign = target == 1 ? 1.0 : -1.0;
        return bucket switch
        {
            Bucket.ConfidentRight => Uniform(ConfidentMin, ConfidentMax).Select(m => sign * m),
            Bucket.ConfidentWrong => Uniform(ConfidentMin, ConfidentMax).Select(m => -sign * m),
            Bucket.Uncertain => Uniform(-UncertainMax, UncertainMax),
            _ => from m in Gen.Elements(SaturatedMagnitudes) from s in Gen.Elements(1.0, -1.0) select s * m,
        };
    }

    /// <summary>Whether <paramref name="logit"/> belongs to <paramref name="bucket"/> for a 0/1 <paramref name="target"/>.</summary>
    public static bool InBucket(Bucket bucket, double target, double logit)
    {
        var towardsTarget = target == 1 ? logit : -logit;
        return bucket switch
        {
            Bucket.ConfidentRight => towardsTarget is >= ConfidentMin and <= ConfidentMax,
            Bucket.ConfidentWrong => -towardsTarget is >= ConfidentMin and <= ConfidentMax,
            Bucket.Uncertain => Math.Abs(logit) <= UncertainMax,
            _ => SaturatedMagnitudes.Contains(Math.Abs(logit)),
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

    private static Gen<BinaryCase> BinaryOfLength(int min, int max) =>
        from n in Gen.Choose(min, max)
        from elements in Gen.ArrayOf(Element, n)
        from alpha in Alpha
        from gamma in Gamma
        select new BinaryCase(elements.Select(e => e.Item3).ToArray(), elements.Select(e => e.Item2).ToArray(), alpha, gamma, elements.Select(e => e.Item1).ToArray());

    /// <summary>Binary cases of 1 to 24 elements with mixed buckets.</summary>
    public static readonly Gen<BinaryCase> Binary = BinaryOfLength(ShortMin, ShortMax);

    /// <summary>Binary cases without saturated logits (where both forms and finite differences are well conditioned).</summary>
    public static readonly Gen<BinaryCase> BinaryModerate = Binary.Where(c => !c.Has(Bucket.Saturated));

    /// <summary>Binary cases of 8 to 64 elements: gradient, permutation and reduction checks see more than a few elements.</summary>
    public static readonly Gen<BinaryCase> BinaryLong = BinaryOfLength(LongMin, LongMax);

    /// <summary>Long binary cases without saturated logits. Drawn without them rather than filtered: a filter would
    /// reject nearly every case of 8 or more elements.</summary>
    public static readonly Gen<BinaryCase> BinaryModerateLong =
        from n in Gen.Choose(LongMin, LongMax)
        from elements in Gen.ArrayOf(Element.Where(e => e.Item1 != Bucket.Saturated), n)
        from alpha in Alpha
        from gamma in Gamma
        select new BinaryCase(elements.Select(e => e.Item3).ToArray(), elements.Select(e => e.Item2).ToArray(), alpha, gamma, elements.Select(e => e.Item1).ToArray());

    public static Arbitrary<BinaryCase> BinaryArb => Arb.From(Binary, Shrink.Binary);
    public static Arbitrary<BinaryCase> BinaryModerateArb => Arb.From(BinaryModerate, Shrink.Binary);
    public static Arbitrary<BinaryCase> BinaryLongArb => Arb.From(BinaryLong, Shrink.Binary);
    public static Arbitrary<BinaryCase> BinaryModerateLongArb => Arb.From(BinaryModerateLong, Shrink.Binary);

    /// <summary>Per-class alpha: none, or each class weight a multiple of 1/1000 in [0.1, 1].</summary>
    public static Gen<double[]?> ClassAlpha(int classes) => Gen.Frequency(
        (1, Gen.Constant<double[]?>(null)),
        (3, Gen.ArrayOf(Gen.Choose(100, 1000).Select(k => k / 1000.0), classes).Select(a => (double[]?)a)));

    private static Gen<MultiClassCase> MultiClassOfRows(int minRows, int maxRows) =>
        from classes in Gen.Choose(ClassesMin, ClassesMax)
        from n in Gen.Choose(minRows, maxRows)
        from logits in Gen.ArrayOf(Gen.Choose(-4000, 4000).Select(k => k * MultiLogitMax / 4000), n * classes)
        from targets in Gen.ArrayOf(Gen.Choose(0, classes - 1).Select(k => (long)k), n)
        from alpha in ClassAlpha(classes)
        from gamma in Gamma
        select new MultiClassCase(logits, targets, classes, alpha, gamma);

    /// <summary>Multi-class cases of 1 to 12 rows of 2 to 6 classes.</summary>
    public static readonly Gen<MultiClassCase> MultiClass = MultiClassOfRows(1, MultiRowsMax);

    /// <summary>Multi-class cases of 8 to 16 rows (16 to 96 logits), for gradient and reduction checks.</summary>
    public static readonly Gen<MultiClassCase> MultiClassLong = MultiClassOfRows(MultiLongRowsMin, MultiLongRowsMax);

    public static Arbitrary<MultiClassCase> MultiClassArb => Arb.From(MultiClass, Shrink.MultiClass);
    public static Arbitrary<MultiClassCase> MultiClassLongArb => Arb.From(MultiClassLong, Shrink.MultiClass);

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

    /// <summary>
    /// The tolerance for element <paramref name="numeric"/> of a central difference of a function whose value
    /// is <paramref name="value"/>: relative, plus an absolute floor, plus the rounding of f itself,
    /// <c>FiniteDiffRoundoffUlps * eps * |f| / step</c>, which grows with |f| (a sum over 64 elements).
    /// </summary>
    public static double Tolerance(double numeric, double value) =>
        Tol.FiniteDiffAbs + Tol.FiniteDiffRel * Math.Abs(numeric)
        + Tol.FiniteDiffRoundoffUlps * Tol.MachineEpsilon64 * Math.Abs(value) / Tol.FiniteDiffStep;

    /// <summary>
    /// Compares the analytic gradient of <paramref name="f"/> at <paramref name="x"/> with central finite
    /// differences: null when every element agrees, else the worst element for the property's label.
    /// </summary>
    public static string? Mismatch(Func<double[], double> f, double[] x, double[] analytic)
    {
        var numeric = Gradient(f, x);
        var value = f(x);
        if (analytic.Length != numeric.Length) return $"gradient has {analytic.Length} elements, expected {numeric.Length}";
        var worst = Enumerable.Range(0, x.Length).MaxBy(i => Math.Abs(analytic[i] - numeric[i]) / Tolerance(numeric[i], value));
        var error = Math.Abs(analytic[worst] - numeric[worst]);
        var tolerance = Tolerance(numeric[worst], value);
        return error <= tolerance ? null
            : $"[{worst}] analytic {analytic[worst]:R} numeric {numeric[worst]:R}: error {error:E2} > tolerance {tolerance:E2} (f = {value:R})";
    }
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
