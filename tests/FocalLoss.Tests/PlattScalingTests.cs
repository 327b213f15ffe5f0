using FocalLoss.Metrics;
using Xunit;

namespace FocalLoss.Tests;

/// <summary>
/// Platt scaling, p = sigmoid(A z + B): scikit-learn's logistic regression on the same data
/// (data/calibration/), recovery of known parameters, first-order optimality, degenerate data and guards.
/// </summary>
public class PlattScalingTests
{
    public static TheoryData<string> Cases() => new(CalibrationTests.Reference.GetProperty("binary").EnumerateArray()
        .Where(c => c.GetProperty("platt_a").ValueKind != System.Text.Json.JsonValueKind.Null)
        .Select(c => c.GetProperty("name").GetString()!));

    /// <summary>NLL of sigmoid(a z + b) written here, independent of the library.</summary>
    private static double Nll(double[] z, int[] y, double a, double b) =>
        z.Select((v, i) => Eval.Softplus(y[i] == 1 ? -(a * v + b) : a * v + b)).Average();

    /// <summary>The NLL (computed here) at the fit is no higher than at the identity map or at small moves of A or B.</summary>
    private static void AssertMinimum(double[] z, int[] y, PlattFit fit)
    {
        var at = Nll(z, y, fit.A, fit.B);
        Assert.True(Tol.Close(fit.Nll, at, Tol.IdentityRel64, Tol.IdentityAbs64), $"reported NLL {fit.Nll:R}, recomputed {at:R}");
        Assert.True(at <= Nll(z, y, 1, 0), $"NLL at the fit {at:R} is above NLL at A = 1, B = 0 {Nll(z, y, 1, 0):R}");
        foreach (var (a, b) in new[]
                 {
                     (fit.A * (1 - Tol.OptimalityStep), fit.B), (fit.A * (1 + Tol.OptimalityStep), fit.B),
                     (fit.A, fit.B - Tol.OptimalityStep), (fit.A, fit.B + Tol.OptimalityStep),
                 })
            Assert.True(at <= Nll(z, y, a, b), $"NLL at the fit ({fit.A:R}, {fit.B:R}) is {at:R}, above {Nll(z, y, a, b):R} at ({a:R}, {b:R})");
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void platt_fit_matches_scikit_learn_logistic_regression(string name)
    {
        var c = CalibrationTests.Case("binary", name);
        var z = c.GetProperty("logits").EnumerateArray().Select(v => v.GetDouble()).ToArray();
        var y = CalibrationTests.Labels(c);
        var fit = Calibration.FitPlatt(z, y);
        Assert.Equal(PlattFitStatus.Converged, fit.Status);
        var (a, b) = (c.GetProperty("platt_a").GetDouble(), c.GetProperty("platt_b").GetDouble());
        Assert.True(Tol.Close(fit.A, a, Tol.PlattReferenceRel, Tol.PlattReferenceAbs), $"A: scikit-learn {a:R}, workbench {fit.A:R}");
        Assert.True(Tol.Close(fit.B, b, Tol.PlattReferenceRel, Tol.PlattReferenceAbs), $"B: scikit-learn {b:R}, workbench {fit.B:R}");
        AssertMinimum(z, y, fit);
    }

    [Theory]
    [InlineData(0.6, -1.0)]
    [InlineData(2.0, 0.5)]
    public void platt_fit_recovers_the_parameters_the_labels_were_drawn_from(double a0, double b0)
    {
        var rng = new Random(31);
        var z = new double[CalibrationTests.DrawnSamples];
        var y = new int[z.Length];
        for (var i = 0; i < z.Length; i++)
        {
            z[i] = 3 * CalibrationTests.Normal(rng);
            y[i] = rng.NextDouble() < Eval.Sigmoid(a0 * z[i] + b0) ? 1 : 0;
        }
        var fit = Calibration.FitPlatt(z, y);
        Assert.Equal(PlattFitStatus.Converged, fit.Status);
        Assert.True(Tol.Close(fit.A, a0, Tol.PlattRecoveryRel, 0), $"A {fit.A:R}, drawn from {a0:R}");
        Assert.True(Tol.Close(fit.B, b0, Tol.PlattRecoveryRel, 0), $"B {fit.B:R}, drawn from {b0:R}");
        AssertMinimum(z, y, fit);
    }

    [Fact]
    public void platt_probabilities_are_sigmoid_of_the_affine_logits()
    {
        double[] z = [-3.0, 0.0, 0.7, 40.0];
        var p = Calibration.PlattSigmoid(z, 0.5, -1.0);
        for (var i = 0; i < z.Length; i++)
            Assert.True(Tol.Close(p[i], 1 / (1 + Math.Exp(-(0.5 * z[i] - 1.0))), Tol.IdentityRel64, Tol.IdentityAbs64), $"sigmoid(0.5 x {z[i]} - 1) = {p[i]:R}");
        Assert.Equal(Nll(z, [0, 1, 1, 0], 0.5, -1.0), Calibration.PlattNll(z, [0, 1, 1, 0], 0.5, -1.0), Tol.IdentityRel64);
    }

    [Fact]
    public void data_without_a_finite_platt_fit_are_flagged_with_nan_parameters()
    {
        var single = Calibration.FitPlatt([1.0, -2.0, 0.5], [1, 1, 1]);
        Assert.Equal(PlattFitStatus.SingleClass, single.Status);
        Assert.True(double.IsNaN(single.A) && double.IsNaN(single.B) && double.IsNaN(single.Nll));

        foreach (var (z, y) in new (double[], int[])[]
                 {
                     ([-1.0, 0.5, 0.7, 3.0], [0, 0, 1, 1]),   // threshold between 0.5 and 0.7
                     ([-1.0, 0.5, 0.5, 3.0], [0, 0, 1, 1]),   // tie at the threshold: still no finite maximum
                     ([-1.0, 0.5, 0.7, 3.0], [1, 1, 0, 0]),   // reversed: A -> -infinity
                 })
        {
            var fit = Calibration.FitPlatt(z, y);
            Assert.Equal(PlattFitStatus.Separable, fit.Status);
            Assert.True(double.IsNaN(fit.A) && double.IsNaN(fit.B), $"separable data gave A {fit.A:R}, B {fit.B:R}");
        }

        var constant = Calibration.FitPlatt([2.0, 2.0, 2.0, 2.0], [1, 0, 0, 0]);
        Assert.Equal((0.0, Math.Log(1.0 / 3), PlattFitStatus.ConstantLogits), (constant.A, constant.B, constant.Status));

        var overlap = Calibration.FitPlatt([-1.0, 0.5, 0.7, 3.0], [0, 1, 0, 1]); // one swap: a finite fit exists
        Assert.Equal(PlattFitStatus.Converged, overlap.Status);
    }

    private static string Error(Action action) => Assert.Throws<ArgumentException>(action).Message;

    [Fact]
    public void bad_platt_input_is_a_clear_error()
    {
        Assert.Contains("labels length must equal logits length 2, got 3", Error(() => Calibration.FitPlatt([0.1, 0.2], [1, 0, 1])));
        Assert.Contains("logits must not be empty, got 0 samples", Error(() => Calibration.FitPlatt([], [])));
        Assert.Contains("labels must be 0 or 1, got 5", Error(() => Calibration.FitPlatt([0.1], [5])));
        Assert.Contains("logits must be finite, got NaN at index 2", Error(() => Calibration.FitPlatt([0.1, 0.2, double.NaN], [1, 0, 1])));
        Assert.Contains("a must be finite, got NaN", Error(() => Calibration.PlattSigmoid([0.1], double.NaN, 0)));
        Assert.Contains("b must be finite, got -Infinity", Error(() => Calibration.PlattNll([0.1], [1], 1, double.NegativeInfinity)));
        Assert.Contains("logits must be finite, got Infinity at index 0", Error(() => Calibration.PlattSigmoid([double.PositiveInfinity], 1, 0)));
    }
}
