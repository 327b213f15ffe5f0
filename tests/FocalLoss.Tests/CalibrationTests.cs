using System.Text.Json;
using FocalLoss.Metrics;
using Xunit;

namespace FocalLoss.Tests;

/// <summary>
/// Temperature scaling: recovery of a known temperature, first-order optimality against an NLL written here,
/// SciPy's minimize_scalar on the same data (data/calibration/, regenerate with its script), the degenerate
/// cases and the guards.
/// </summary>
public class CalibrationTests
{
    internal static readonly JsonElement Reference = JsonDocument.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "data", "calibration", "calibration_reference.json"))).RootElement;

    public static TheoryData<string> BinaryCases() => new(Reference.GetProperty("binary").EnumerateArray().Select(c => c.GetProperty("name").GetString()!));
    public static TheoryData<string> MultiClassCases() => new(Reference.GetProperty("multiclass").EnumerateArray().Select(c => c.GetProperty("name").GetString()!));

    internal static JsonElement Case(string group, string name) => Reference.GetProperty(group).EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

    internal static int[] Labels(JsonElement c) => c.GetProperty("labels").EnumerateArray().Select(v => v.GetInt32()).ToArray();

    // ---- NLL written here, independent of the library -------------------------------------------------

    private static double BinaryNll(double[] z, int[] y, double t) =>
        z.Select((v, i) => Eval.Softplus(y[i] == 1 ? -v / t : v / t)).Average();

    private static double SoftmaxNll(double[] z, int[] y, int classes, double t) =>
        y.Select((label, i) =>
        {
            var row = z.Skip(i * classes).Take(classes).Select(v => v / t).ToArray();
            var max = row.Max();
            return max + Math.Log(row.Sum(v => Math.Exp(v - max))) - row[label];
        }).Average();

    // ---- data drawn from a known temperature (System.Random with a fixed seed: deterministic) ----------

    internal static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    /// <summary>z ~ N(0, 3^2), y ~ Bernoulli(sigmoid(z / t0)).</summary>
    private static (double[] Z, int[] Y) DrawBinary(double t0, int n, int seed)
    {
        var rng = new Random(seed);
        var z = new double[n];
        var y = new int[n];
        for (var i = 0; i < n; i++)
        {
            z[i] = 3 * Normal(rng);
            y[i] = rng.NextDouble() < Eval.Sigmoid(z[i] / t0) ? 1 : 0;
        }
        return (z, y);
    }

    /// <summary>z ~ N(0, 3^2 I) in C classes, y ~ Categorical(softmax(z / t0)).</summary>
    private static (double[] Z, int[] Y) DrawMultiClass(double t0, int n, int classes, int seed)
    {
        var rng = new Random(seed);
        var z = new double[n * classes];
        var y = new int[n];
        for (var i = 0; i < n; i++)
        {
            for (var k = 0; k < classes; k++) z[i * classes + k] = 3 * Normal(rng);
            var row = z.Skip(i * classes).Take(classes).Select(v => v / t0).ToArray();
            var max = row.Max();
            var w = row.Select(v => Math.Exp(v - max)).ToArray();
            var u = rng.NextDouble() * w.Sum();
            var label = 0;
            for (var cumulative = w[0]; cumulative < u && label < classes - 1; cumulative += w[++label]) { }
            y[i] = label;
        }
        return (z, y);
    }

    /// <summary>Newton's method converges quadratically from T = 1 on these data (5 to 7 steps); bisection alone would take about 37.</summary>
    private const int NewtonSteps = 10;

    internal const int DrawnSamples = 40_000;
    private const int DrawnClasses = 5;

    public static TheoryData<double> TrueTemperatures() => new(0.5, 2.5);

    [Theory]
    [MemberData(nameof(TrueTemperatures))]
    public void binary_fit_recovers_the_temperature_the_labels_were_drawn_from(double t0)
    {
        var (z, y) = DrawBinary(t0, DrawnSamples, seed: 17);
        var fit = Calibration.FitTemperature(z, y);
        Assert.Equal(TemperatureFitStatus.Converged, fit.Status);
        Assert.InRange(fit.Iterations, 1, NewtonSteps);
        Assert.True(Tol.Close(fit.Temperature, t0, Tol.TemperatureRecoveryRel, 0), $"fitted T {fit.Temperature:R}, drawn from T0 = {t0:R}");
    }

    [Theory]
    [MemberData(nameof(TrueTemperatures))]
    public void multi_class_fit_recovers_the_temperature_the_labels_were_drawn_from(double t0)
    {
        var (z, y) = DrawMultiClass(t0, DrawnSamples, DrawnClasses, seed: 23);
        var fit = Calibration.FitTemperature(z, y, DrawnClasses);
        Assert.Equal(TemperatureFitStatus.Converged, fit.Status);
        Assert.InRange(fit.Iterations, 1, NewtonSteps);
        Assert.True(Tol.Close(fit.Temperature, t0, Tol.TemperatureRecoveryRel, 0), $"fitted T {fit.Temperature:R}, drawn from T0 = {t0:R}");
    }

    /// <summary>NLL (computed here) at the fit is no higher than at T = 1 or at T (1 +- step), and the fit reports it.</summary>
    private static void AssertMinimum(Func<double, double> nll, TemperatureFit fit)
    {
        var t = fit.Temperature;
        var at = nll(t);
        Assert.True(Tol.Close(fit.Nll, at, Tol.IdentityRel64, Tol.IdentityAbs64), $"reported NLL {fit.Nll:R}, recomputed {at:R}");
        Assert.True(Tol.Close(fit.NllAtOne, nll(1), Tol.IdentityRel64, Tol.IdentityAbs64), $"reported NLL at T = 1 {fit.NllAtOne:R}, recomputed {nll(1):R}");
        Assert.True(at <= nll(1), $"NLL at fitted T {t:R} is {at:R}, above NLL at T = 1 {nll(1):R}");
        foreach (var factor in new[] { 1 - Tol.OptimalityStep, 1 + Tol.OptimalityStep })
            Assert.True(at <= nll(t * factor), $"NLL at fitted T {t:R} is {at:R}, above NLL {nll(t * factor):R} at T x {factor:R}");
    }

    [Theory]
    [MemberData(nameof(TrueTemperatures))]
    public void binary_fit_is_a_minimum_of_the_nll(double t0)
    {
        var (z, y) = DrawBinary(t0, DrawnSamples, seed: 17);
        AssertMinimum(t => BinaryNll(z, y, t), Calibration.FitTemperature(z, y));
    }

    [Theory]
    [MemberData(nameof(TrueTemperatures))]
    public void multi_class_fit_is_a_minimum_of_the_nll(double t0)
    {
        var (z, y) = DrawMultiClass(t0, DrawnSamples, DrawnClasses, seed: 23);
        AssertMinimum(t => SoftmaxNll(z, y, DrawnClasses, t), Calibration.FitTemperature(z, y, DrawnClasses));
    }

    // ---- SciPy ----------------------------------------------------------------------------------------

    private static void AssertMatchesScipy(JsonElement c, TemperatureFit fit, Func<double, double> nll)
    {
        Assert.InRange(fit.Iterations, 1, NewtonSteps);
        var expected = c.GetProperty("temperature").GetDouble();
        Assert.Equal(TemperatureFitStatus.Converged, fit.Status);
        Assert.True(Tol.Close(fit.Temperature, expected, Tol.ScipyTemperatureRel, 0), $"T: scipy minimize_scalar {expected:R}, workbench {fit.Temperature:R}");
        var root = c.GetProperty("temperature_root").GetDouble();
        Assert.True(Tol.Close(fit.Temperature, root, Tol.SlopeRootTemperatureRel, 0), $"T: scipy brentq on the NLL's slope {root:R}, workbench {fit.Temperature:R}");
        Assert.True(Tol.Close(fit.Nll, c.GetProperty("nll").GetDouble(), Tol.IdentityRel64, Tol.IdentityAbs64), $"NLL at T: scipy {c.GetProperty("nll").GetDouble():R}, workbench {fit.Nll:R}");
        Assert.True(Tol.Close(fit.NllAtOne, c.GetProperty("nll_at_one").GetDouble(), Tol.IdentityRel64, Tol.IdentityAbs64), $"NLL at T = 1: scipy {c.GetProperty("nll_at_one").GetDouble():R}, workbench {fit.NllAtOne:R}");
        AssertMinimum(nll, fit);
    }

    [Theory]
    [MemberData(nameof(BinaryCases))]
    public void binary_fit_matches_scipy_minimize_scalar(string name)
    {
        var c = Case("binary", name);
        var z = c.GetProperty("logits").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        var y = Labels(c);
        var fit = Calibration.FitTemperature(z, y);
        AssertMatchesScipy(c, fit, t => BinaryNll(z, y, t));
        Assert.Equal(y.Distinct().Count() == 1, fit.SingleClass);
    }

    [Theory]
    [MemberData(nameof(MultiClassCases))]
    public void multi_class_fit_matches_scipy_minimize_scalar(string name)
    {
        var c = Case("multiclass", name);
        var rows = c.GetProperty("logits").EnumerateArray().Select(r => r.EnumerateArray().Select(v => v.GetDouble()).ToArray()).ToArray();
        var z = rows.SelectMany(r => r).ToArray();
        var y = Labels(c);
        var fit = Calibration.FitTemperature(z, y, rows[0].Length);
        AssertMatchesScipy(c, fit, t => SoftmaxNll(z, y, rows[0].Length, t));
        Assert.False(fit.SingleClass);
    }

    // ---- degenerate cases: a bound with a status, never a pretend optimum ------------------------------

    [Fact]
    public void perfectly_separated_logits_return_the_lower_bound_flagged_separable()
    {
        var binary = Calibration.FitTemperature([2.0, -0.5, 0.0, 7.0], [1, 0, 1, 1]);
        Assert.Equal(TemperatureFitStatus.Separable, binary.Status);
        Assert.Equal(Calibration.MinTemperature, binary.Temperature);
        Assert.True(binary.Nll < binary.NllAtOne, $"NLL at the bound {binary.Nll:R} should be below NLL at T = 1 {binary.NllAtOne:R}");

        // every label has the row's largest logit (row 1 ties, which still counts as separated)
        var multi = Calibration.FitTemperature([3.0, 1.0, 0.0, /**/ 2.0, 2.0, -1.0, /**/ 0.0, 0.0, 0.5], [0, 1, 2], 3);
        Assert.Equal(TemperatureFitStatus.Separable, multi.Status);
        Assert.Equal(Calibration.MinTemperature, multi.Temperature);
    }

    [Fact]
    public void logits_no_better_than_uniform_return_the_upper_bound_flagged_uninformative()
    {
        var binary = Calibration.FitTemperature([2.0, -0.5, 1.0], [0, 1, 1]); // margins -2, -0.5, +1: mean < 0
        Assert.Equal(TemperatureFitStatus.Uninformative, binary.Status);
        Assert.Equal(Calibration.MaxTemperature, binary.Temperature);

        var multi = Calibration.FitTemperature([3.0, 1.0, 0.0, /**/ 0.0, 2.0, 1.0], [2, 0], 3); // the label always has the lowest logit
        Assert.Equal(TemperatureFitStatus.Uninformative, multi.Status);
        Assert.Equal(Calibration.MaxTemperature, multi.Temperature);
        Assert.True(multi.Nll < multi.NllAtOne);
    }

    [Fact]
    public void constant_logits_return_one_flagged_constant()
    {
        var binary = Calibration.FitTemperature([0.0, 0.0], [0, 1]);
        Assert.Equal((1.0, TemperatureFitStatus.ConstantLogits), (binary.Temperature, binary.Status));
        Assert.Equal(Math.Log(2), binary.Nll, Tol.IdentityRel64);
        var multi = Calibration.FitTemperature([4.0, 4.0, 4.0, /**/ -1.0, -1.0, -1.0], [0, 2], 3);
        Assert.Equal((1.0, TemperatureFitStatus.ConstantLogits), (multi.Temperature, multi.Status));
    }

    [Fact]
    public void a_minimum_outside_the_search_range_returns_the_nearer_bound_flagged()
    {
        // margins 0.02, 0.02 and -0.001: one mistake so slight that the minimiser is T = 0.00469 (scipy brentq) < e^-5
        var below = Calibration.FitTemperature([0.02, -0.02, -0.001], [1, 0, 1]);
        Assert.Equal(TemperatureFitStatus.BelowRange, below.Status);
        Assert.Equal(Calibration.MinTemperature, below.Temperature);
        Assert.True(BinaryNll([0.02, -0.02, -0.001], [1, 0, 1], below.Temperature * (1 - Tol.OptimalityStep)) < below.Nll, "the NLL should still fall below the bound");

        // margins 1.001 and -1: barely informative, minimiser T = 1001.0 (scipy brentq) > e^5
        var above = Calibration.FitTemperature([1.001, 1.0], [1, 0]);
        Assert.Equal(TemperatureFitStatus.AboveRange, above.Status);
        Assert.Equal(Calibration.MaxTemperature, above.Temperature);
        Assert.True(BinaryNll([1.001, 1.0], [1, 0], above.Temperature * (1 + Tol.OptimalityStep)) < above.Nll, "the NLL should still fall above the bound");
    }

    [Fact]
    public void labels_of_one_class_are_flagged()
    {
        var fit = Calibration.FitTemperature([1.0, -0.5, 2.0, 0.3], [1, 1, 1, 1]); // logits of both signs: finite minimum
        Assert.True(fit.SingleClass);
        Assert.Equal(TemperatureFitStatus.Converged, fit.Status);
        var multi = Calibration.FitTemperature([1.0, 0.0, 3.0, 1.0], [1, 1], 2);
        Assert.True(multi.SingleClass);
    }

    // ---- applying a temperature --------------------------------------------------------------------------

    [Fact]
    public void calibrated_probabilities_are_sigmoid_and_softmax_of_the_scaled_logits()
    {
        double[] z = [-3.0, 0.0, 0.7, 40.0];
        var p = Calibration.Sigmoid(z, 2.0);
        for (var i = 0; i < z.Length; i++)
            Assert.True(Tol.Close(p[i], 1 / (1 + Math.Exp(-z[i] / 2.0)), Tol.IdentityRel64, Tol.IdentityAbs64), $"sigmoid({z[i]} / 2) = {p[i]:R}");

        double[] rows = [1.0, 2.0, 3.0, /**/ -50.0, 0.0, 50.0];
        var q = Calibration.Softmax(rows, 3, 0.5);
        for (var i = 0; i < 2; i++)
        {
            var denominator = Enumerable.Range(0, 3).Sum(k => Math.Exp(rows[i * 3 + k] / 0.5 - rows[i * 3 + 2] / 0.5));
            for (var k = 0; k < 3; k++)
                Assert.True(Tol.Close(q[i * 3 + k], Math.Exp(rows[i * 3 + k] / 0.5 - rows[i * 3 + 2] / 0.5) / denominator, Tol.IdentityRel64, Tol.IdentityAbs64), $"softmax row {i} class {k}");
        }
        Assert.Equal(Calibration.SoftmaxNll(rows, [0, 2], 3, 0.5), -(Math.Log(q[0]) + Math.Log(q[5])) / 2, Tol.IdentityRel64);
    }

    [Fact]
    public void temperature_scaling_lowers_the_top_label_ece_of_overconfident_logits()
    {
        var (z, y) = DrawMultiClass(2.5, 10_000, DrawnClasses, seed: 29); // labels softer than the logits: over-confident
        var fit = Calibration.FitTemperature(z, y, DrawnClasses);
        var before = MultiClassMetrics.TopLabelEce(Calibration.Softmax(z, DrawnClasses, 1), y, DrawnClasses);
        var after = MultiClassMetrics.TopLabelEce(Calibration.Softmax(z, DrawnClasses, fit.Temperature), y, DrawnClasses);
        Assert.True(after < before / 3, $"top-label ECE {before:R} at T = 1, {after:R} at fitted T {fit.Temperature:R}");
    }

    // ---- guards ----------------------------------------------------------------------------------------

    private static string Error(Action action) => Assert.Throws<ArgumentException>(action).Message;

    [Fact]
    public void bad_binary_input_is_a_clear_error()
    {
        Assert.Contains("labels length must equal logits length 2, got 1", Error(() => Calibration.FitTemperature([0.1, 0.2], [1])));
        Assert.Contains("logits must not be empty, got 0 samples", Error(() => Calibration.FitTemperature([], [])));
        Assert.Contains("labels must be 0 or 1, got 2", Error(() => Calibration.FitTemperature([0.1, 0.2], [1, 2])));
        Assert.Contains("labels must be 0 or 1, got -1", Error(() => Calibration.SigmoidNll([0.1], [-1], 1)));
        Assert.Contains("logits must be finite, got NaN at index 1", Error(() => Calibration.FitTemperature([0.1, double.NaN], [1, 0])));
        Assert.Contains("logits must be finite, got Infinity at index 0", Error(() => Calibration.Sigmoid([double.PositiveInfinity], 1)));
        Assert.Contains("temperature must be finite and > 0, got 0", Error(() => Calibration.Sigmoid([0.1], 0)));
        Assert.Contains("temperature must be finite and > 0, got -1", Error(() => Calibration.SigmoidNll([0.1], [1], -1)));
        Assert.Contains("temperature must be finite and > 0, got NaN", Error(() => Calibration.Sigmoid([0.1], double.NaN)));
        Assert.Equal("labels", Assert.Throws<ArgumentException>(() => Calibration.FitTemperature([0.1], [3])).ParamName);
    }

    [Fact]
    public void bad_multi_class_input_is_a_clear_error()
    {
        Assert.Contains("classes must be >= 2, got 1", Error(() => Calibration.FitTemperature([0.1], [0], 1)));
        Assert.Contains("labels must not be empty, got 0 samples", Error(() => Calibration.FitTemperature([], [], 3)));
        Assert.Contains("N x C = 2 x 3 = 6 values, got 5", Error(() => Calibration.FitTemperature([1, 2, 3, 4, 5], [0, 1], 3)));
        Assert.Contains("labels must be class ids in [0, 2], got 3", Error(() => Calibration.FitTemperature([1, 2, 3], [3], 3)));
        Assert.Contains("labels must be class ids in [0, 2], got -1", Error(() => Calibration.SoftmaxNll([1, 2, 3], [-1], 3, 1)));
        Assert.Contains("logits must be finite, got -Infinity at row 1, class 2", Error(() => Calibration.FitTemperature([1, 2, 3, 4, 5, double.NegativeInfinity], [0, 1], 3)));
        Assert.Contains("logits must be finite, got NaN at row 0, class 1", Error(() => Calibration.Softmax([1, double.NaN], 2, 1)));
        Assert.Contains("logits must hold N x C values with C = 3, got 4, not a multiple of 3", Error(() => Calibration.Softmax([1, 2, 3, 4], 3, 1)));
        Assert.Contains("temperature must be finite and > 0, got Infinity", Error(() => Calibration.Softmax([1, 2], 2, double.PositiveInfinity)));
        Assert.Contains("temperature must be finite and > 0, got 0", Error(() => Calibration.SoftmaxNll([1, 2], [0], 2, 0)));
    }
}
