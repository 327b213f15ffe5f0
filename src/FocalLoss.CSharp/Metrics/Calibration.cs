using FocalLoss.Infrastructure;

namespace FocalLoss.Metrics;

/// <summary>Where the NLL-minimising temperature lies, as <see cref="Calibration"/>'s temperature fits found it.</summary>
public enum TemperatureFitStatus
{
    /// <summary>The NLL has a finite minimiser inside [<see cref="Calibration.MinTemperature"/>, <see cref="Calibration.MaxTemperature"/>], located to <see cref="Calibration.LogTemperatureTolerance"/>.</summary>
    Converged,

    /// <summary>
    /// Perfectly separated logits: every sample's label already has the largest logit (ties allowed, some row
    /// not constant), so the NLL keeps falling as T -&gt; 0 and has no minimiser. The temperature returned is
    /// <see cref="Calibration.MinTemperature"/>, a bound, not an optimum.
    /// </summary>
    Separable,

    /// <summary>
    /// The logits are on average no better than uniform (the NLL's slope in 1/T at 1/T = 0 is &gt;= 0), so the
    /// NLL keeps falling as T -&gt; infinity and its infimum is the uniform prediction. The temperature returned
    /// is <see cref="Calibration.MaxTemperature"/>, a bound, not an optimum.
    /// </summary>
    Uninformative,

    /// <summary>A finite minimiser exists but lies below <see cref="Calibration.MinTemperature"/>, which is returned.</summary>
    BelowRange,

    /// <summary>A finite minimiser exists but lies above <see cref="Calibration.MaxTemperature"/>, which is returned.</summary>
    AboveRange,

    /// <summary>Every sample's logits are all equal (binary: every logit is 0), so the NLL does not depend on T; 1 is returned.</summary>
    ConstantLogits,
}

/// <summary>
/// A fitted temperature with how it was found.
/// </summary>
/// <param name="Temperature">T &gt; 0 to divide the logits by; a bound of the search range unless <paramref name="Status"/> is <see cref="TemperatureFitStatus.Converged"/>.</param>
/// <param name="Status">Whether T is an interior minimiser, and if not, why.</param>
/// <param name="SingleClass">
/// All labels are one class. The fit is still the NLL minimiser (binary logits of both signs give a finite
/// one), but a temperature fitted without the other classes says nothing about them: do not trust it.
/// </param>
/// <param name="Nll">Mean negative log-likelihood (nats) at <paramref name="Temperature"/>.</param>
/// <param name="NllAtOne">Mean negative log-likelihood at T = 1, the uncalibrated logits.</param>
/// <param name="Iterations">Newton or bisection steps taken (0 for the degenerate cases, decided without a search).</param>
public sealed record TemperatureFit(double Temperature, TemperatureFitStatus Status, bool SingleClass, double Nll, double NllAtOne, int Iterations);

/// <summary>Whether Platt scaling found a finite maximum-likelihood fit, and if not, why.</summary>
public enum PlattFitStatus
{
    /// <summary>The NLL's unique minimiser (A, B), located by Newton's method to <see cref="Calibration.PlattTolerance"/>.</summary>
    Converged,

    /// <summary>All labels are one class: the NLL falls without end as B -&gt; +-infinity; A and B are NaN.</summary>
    SingleClass,

    /// <summary>
    /// A threshold on z separates the classes (ties at the threshold allowed): the NLL falls without end as
    /// |A| -&gt; infinity, no finite fit exists; A and B are NaN. Temperature scaling, which has no intercept, has
    /// this problem only when the threshold is 0 (<see cref="TemperatureFitStatus.Separable"/>).
    /// </summary>
    Separable,

    /// <summary>
    /// Every logit is equal, so only A z + B is determined: A = 0 and B = ln(N1 / N0), the label frequency, is
    /// returned (one minimiser of many).
    /// </summary>
    ConstantLogits,
}

/// <summary>A Platt scaling fit: calibrated p = sigmoid(A z + B).</summary>
/// <param name="A">Slope on the logit; NaN when <paramref name="Status"/> says no finite fit exists.</param>
/// <param name="B">Intercept; NaN when <paramref name="Status"/> says no finite fit exists.</param>
/// <param name="Status">Whether (A, B) is the maximum-likelihood fit, and if not, why.</param>
/// <param name="Nll">Mean negative log-likelihood (nats) at (A, B); NaN when they are.</param>
/// <param name="NllAtIdentity">Mean negative log-likelihood at A = 1, B = 0, the uncalibrated logits.</param>
/// <param name="Iterations">Newton steps computed, the last (below tolerance) included (0 for the degenerate cases).</param>
public sealed record PlattFit(double A, double B, PlattFitStatus Status, double Nll, double NllAtIdentity, int Iterations);

/// <summary>
/// Post-hoc recalibration by temperature scaling (Guo et al. 2017, "On Calibration of Modern Neural
/// Networks", arXiv:1706.04599): one scalar T &gt; 0 divides the logits, fitted on held-out data by minimising
/// the mean negative log-likelihood; T &gt; 1 softens over-confident predictions, T &lt; 1 sharpens them, and
/// the arg-max never changes. Binary logits z give p = sigmoid(z / T); multi-class logits (row-major
/// [N, C]) give softmax(z / T). Host arrays in float64, deterministic.
/// </summary>
/// <remarks>
/// The fit works in beta = 1/T, where the NLL, mean(logsumexp(beta z_i) - beta z_(i,y_i)) (binary:
/// mean(softplus(-beta s_i z_i)) with s_i = +-1 for labels 1/0), is convex with slope
/// mean(E_p[z_i] - z_(i,y_i)) and curvature mean(Var_p[z_i]); so the slope rises monotonically and has at most
/// one root. The degenerate cases are decided first, exactly, without a search: constant logits, perfectly
/// separated logits (slope &lt; 0 for every beta: no minimiser, T -&gt; 0) and uninformative logits (slope
/// &gt;= 0 at beta = 0: T -&gt; infinity). Otherwise the root of the slope in log T over
/// [<see cref="MinLogTemperature"/>, <see cref="MaxLogTemperature"/>] is found by Newton's method on log T,
/// safeguarded by bisection of a sign-change bracket (a Newton step that leaves the bracket or fails to halve
/// the previous step is replaced by bisection), until the bracket or the step is below
/// <see cref="LogTemperatureTolerance"/>. A root outside the range returns the nearer bound with
/// <see cref="TemperatureFitStatus.BelowRange"/> or <see cref="TemperatureFitStatus.AboveRange"/>: nothing is
/// clamped silently.
/// <para>
/// Platt scaling (Platt 1999, "Probabilistic outputs for support vector machines"; for binary logits only)
/// fits two parameters, p = sigmoid(A z + B), by maximum likelihood on the 0/1 labels (no target smoothing):
/// logistic regression on the single feature z, fitted by Newton's method with a backtracking line search
/// (Lin, Lin and Weng 2007). Note the sign: scikit-learn's CalibratedClassifierCV writes sigmoid(-(A z + B)).
/// </para>
/// </remarks>
public static class Calibration
{
    /// <summary>Lower end of the search range of ln T (T = e^-5, about 0.0067).</summary>
    public const double MinLogTemperature = -5;

    /// <summary>Upper end of the search range of ln T (T = e^5, about 148.4).</summary>
    public const double MaxLogTemperature = 5;

    /// <summary>Smallest temperature a fit returns: e^<see cref="MinLogTemperature"/>.</summary>
    public static readonly double MinTemperature = Math.Exp(MinLogTemperature);

    /// <summary>Largest temperature a fit returns: e^<see cref="MaxLogTemperature"/>.</summary>
    public static readonly double MaxTemperature = Math.Exp(MaxLogTemperature);

    /// <summary>
    /// The search stops once the bracket on ln T, or the last Newton step, is narrower than this: a converged T
    /// is within about 1e-10 relative of the root of the NLL's slope as computed in float64.
    /// </summary>
    public const double LogTemperatureTolerance = 1e-10;

    /// <summary>
    /// Most steps of either fit; the temperature's bisection alone needs about 37 to shrink the range below its
    /// tolerance, Newton's method a handful. Exceeding it (not expected to happen) throws
    /// <see cref="InvalidOperationException"/> rather than return an unconverged fit.
    /// </summary>
    public const int MaxIterations = 200;

    /// <summary>float64 machine epsilon, 2^-52.</summary>
    private const double MachineEpsilon = 2.220446049250313e-16;

    /// <summary>
    /// Fits the temperature of binary logits: T minimising mean NLL of p = sigmoid(z / T) against 0/1 labels.
    /// </summary>
    /// <param name="logits">Finite logits of class 1, one per sample.</param>
    /// <param name="labels">0 or 1, as many as logits.</param>
    public static TemperatureFit FitTemperature(ReadOnlySpan<double> logits, ReadOnlySpan<int> labels)
    {
        CheckBinary(logits, labels);
        var margin = new double[logits.Length]; // s z: positive when the logit points at the label
        for (var i = 0; i < margin.Length; i++) margin[i] = labels[i] == 1 ? logits[i] : -logits[i];
        var constant = margin.All(m => m == 0);
        var separable = margin.All(m => m >= 0);
        var slopeAtZero = -margin.Average() / 2; // d/dbeta mean softplus(-beta m) at beta = 0
        return Fit(beta => BinaryAt(margin, beta), constant, separable, slopeAtZero, SingleClass(labels));
    }

    /// <summary>
    /// Fits the temperature of multi-class logits: T minimising mean NLL of softmax(z / T) against class ids.
    /// </summary>
    /// <param name="logits">Finite logits, row-major [N, C].</param>
    /// <param name="labels">Class ids in [0, C - 1], N of them.</param>
    /// <param name="classes">C &gt;= 2.</param>
    public static TemperatureFit FitTemperature(ReadOnlySpan<double> logits, ReadOnlySpan<int> labels, int classes)
    {
        CheckMultiClass(logits, labels, classes);
        var z = logits.ToArray();
        var y = labels.ToArray();
        bool constant = true, separable = true;
        double slopeAtZero = 0;
        for (var i = 0; i < y.Length; i++)
        {
            var row = z.AsSpan(i * classes, classes);
            double max = double.NegativeInfinity, min = double.PositiveInfinity, sum = 0;
            foreach (var v in row) { max = Math.Max(max, v); min = Math.Min(min, v); sum += v; }
            constant &= max == min;
            separable &= row[y[i]] == max;
            slopeAtZero += sum / classes - row[y[i]]; // E_uniform[z] - z_y
        }
        return Fit(beta => SoftmaxAt(z, y, classes, beta), constant, separable, slopeAtZero / y.Length, SingleClass(labels));
    }

    /// <summary>Calibrated probabilities of class 1: sigmoid(z / T) for each logit.</summary>
    /// <param name="logits">Finite logits of class 1.</param>
    /// <param name="temperature">T &gt; 0, finite (e.g. <see cref="TemperatureFit.Temperature"/>).</param>
    public static double[] Sigmoid(ReadOnlySpan<double> logits, double temperature)
    {
        CheckTemperature(temperature);
        CheckFinite(logits);
        var p = new double[logits.Length];
        for (var i = 0; i < p.Length; i++) p[i] = StableSigmoid(logits[i] / temperature);
        return p;
    }

    /// <summary>Calibrated class probabilities: softmax(z / T) of each row, row-major [N, C] like the logits.</summary>
    /// <param name="logits">Finite logits, row-major [N, C]; N may be 0.</param>
    /// <param name="classes">C &gt;= 2.</param>
    /// <param name="temperature">T &gt; 0, finite (e.g. <see cref="TemperatureFit.Temperature"/>).</param>
    public static double[] Softmax(ReadOnlySpan<double> logits, int classes, double temperature)
    {
        CheckClasses(classes);
        CheckTemperature(temperature);
        if (logits.Length % classes != 0)
            throw new ArgumentException($"logits must hold N x C values with C = {classes}, got {logits.Length}, not a multiple of {classes}", nameof(logits));
        CheckFinite(logits, classes);
        var p = new double[logits.Length];
        for (var start = 0; start < p.Length; start += classes)
        {
            var row = logits.Slice(start, classes);
            var max = double.NegativeInfinity;
            foreach (var v in row) max = Math.Max(max, v);
            double sum = 0;
            for (var k = 0; k < classes; k++) sum += p[start + k] = Math.Exp((row[k] - max) / temperature);
            for (var k = 0; k < classes; k++) p[start + k] /= sum;
        }
        return p;
    }

    /// <summary>Mean negative log-likelihood (nats) of sigmoid(z / T) against 0/1 labels, computed from the logits (no clipping).</summary>
    /// <param name="logits">Finite logits of class 1.</param>
    /// <param name="labels">0 or 1, as many as logits.</param>
    /// <param name="temperature">T &gt; 0, finite.</param>
    public static double SigmoidNll(ReadOnlySpan<double> logits, ReadOnlySpan<int> labels, double temperature)
    {
        CheckBinary(logits, labels);
        CheckTemperature(temperature);
        double sum = 0;
        for (var i = 0; i < logits.Length; i++) sum += Softplus(-(labels[i] == 1 ? logits[i] : -logits[i]) / temperature);
        return sum / logits.Length;
    }

    /// <summary>Mean negative log-likelihood (nats) of softmax(z / T) against class ids, computed from the logits (no clipping).</summary>
    /// <param name="logits">Finite logits, row-major [N, C].</param>
    /// <param name="labels">Class ids in [0, C - 1], N of them.</param>
    /// <param name="classes">C &gt;= 2.</param>
    /// <param name="temperature">T &gt; 0, finite.</param>
    public static double SoftmaxNll(ReadOnlySpan<double> logits, ReadOnlySpan<int> labels, int classes, double temperature)
    {
        CheckMultiClass(logits, labels, classes);
        CheckTemperature(temperature);
        return SoftmaxAt(logits.ToArray(), labels.ToArray(), classes, 1 / temperature).Nll;
    }

    /// <summary>
    /// Newton's method for Platt scaling stops when its full step would change neither A nor B by more than this,
    /// relative to max(1, |value|), and takes that step; it converges quadratically, so the fit is then accurate
    /// to about machine precision.
    /// </summary>
    public const double PlattTolerance = 1e-12;

    /// <summary>
    /// Fits Platt scaling to binary logits: (A, B) minimising the mean NLL of p = sigmoid(A z + B) against
    /// 0/1 labels. Degenerate data (one class, classes separated by a threshold, all logits equal) are
    /// decided first and reported in <see cref="PlattFit.Status"/>; see <see cref="PlattFitStatus"/>.
    /// </summary>
    /// <param name="logits">Finite logits (or any finite scores) of class 1, one per sample.</param>
    /// <param name="labels">0 or 1, as many as logits.</param>
    public static PlattFit FitPlatt(ReadOnlySpan<double> logits, ReadOnlySpan<int> labels)
    {
        CheckBinary(logits, labels);
        var z = logits.ToArray();
        var y = labels.ToArray();
        var nllAtIdentity = PlattAt(z, y, 1, 0).Nll;
        int positives = y.Sum(), negatives = y.Length - positives;
        if (positives == 0 || negatives == 0)
            return new PlattFit(double.NaN, double.NaN, PlattFitStatus.SingleClass, double.NaN, nllAtIdentity, 0);
        if (z.All(v => v == z[0]))
        {
            var b = Math.Log((double)positives / negatives);
            return new PlattFit(0, b, PlattFitStatus.ConstantLogits, PlattAt(z, y, 0, b).Nll, nllAtIdentity, 0);
        }
        double maxNegative = double.NegativeInfinity, minPositive = double.PositiveInfinity, maxPositive = double.NegativeInfinity, minNegative = double.PositiveInfinity;
        for (var i = 0; i < z.Length; i++)
        {
            if (y[i] == 1) { minPositive = Math.Min(minPositive, z[i]); maxPositive = Math.Max(maxPositive, z[i]); }
            else { minNegative = Math.Min(minNegative, z[i]); maxNegative = Math.Max(maxNegative, z[i]); }
        }
        if (maxNegative <= minPositive || maxPositive <= minNegative)
            return new PlattFit(double.NaN, double.NaN, PlattFitStatus.Separable, double.NaN, nllAtIdentity, 0);

        // Both classes overlap on z, so the NLL is strictly convex with a finite minimiser. Start from the
        // label frequency (A = 0), take Newton steps, halving each until the NLL falls by at least 1e-4 of the
        // predicted decrease (Armijo) up to its own rounding (16 ulps), which near the minimum is all it can do.
        double a = 0, intercept = Math.Log((double)positives / negatives);
        var current = PlattAt(z, y, a, intercept);
        for (var iterations = 1; iterations <= MaxIterations; iterations++)
        {
            var (_, ga, gb, haa, hab, hbb) = current;
            var det = haa * hbb - hab * hab; // > 0: the classes overlap, so z is not constant where p(1 - p) > 0
            var da = -(hbb * ga - hab * gb) / det;
            var db = -(haa * gb - hab * ga) / det;
            if (Math.Abs(da) <= PlattTolerance * Math.Max(1, Math.Abs(a)) && Math.Abs(db) <= PlattTolerance * Math.Max(1, Math.Abs(intercept)))
            {
                // judged on the full Newton step, not the line search's share of it, which can be small far from the minimum
                a += da;
                intercept += db;
                return new PlattFit(a, intercept, PlattFitStatus.Converged, PlattAt(z, y, a, intercept).Nll, nllAtIdentity, iterations);
            }
            var slope = ga * da + gb * db; // -g' H^-1 g < 0
            var rounding = 16 * MachineEpsilon * current.Nll;
            var t = 1.0;
            var next = PlattAt(z, y, a + da, intercept + db);
            while (!(next.Nll <= current.Nll + 1e-4 * t * slope + rounding))
            {
                t /= 2;
                if (t < 1e-10)
                    throw new InvalidOperationException($"Platt scaling's line search failed at A {Format.Number(a)}, B {Format.Number(intercept)}");
                next = PlattAt(z, y, a + t * da, intercept + t * db);
            }
            a += t * da;
            intercept += t * db;
            current = next;
        }
        throw new InvalidOperationException($"Platt scaling did not converge in {MaxIterations} Newton steps (A {Format.Number(a)}, B {Format.Number(intercept)})");
    }

    /// <summary>Platt-calibrated probabilities of class 1: sigmoid(A z + B) for each logit.</summary>
    /// <param name="logits">Finite logits of class 1.</param>
    /// <param name="a">Finite slope (e.g. <see cref="PlattFit.A"/>).</param>
    /// <param name="b">Finite intercept (e.g. <see cref="PlattFit.B"/>).</param>
    public static double[] PlattSigmoid(ReadOnlySpan<double> logits, double a, double b)
    {
        CheckPlatt(a, b);
        CheckFinite(logits);
        var p = new double[logits.Length];
        for (var i = 0; i < p.Length; i++) p[i] = StableSigmoid(a * logits[i] + b);
        return p;
    }

    /// <summary>Mean negative log-likelihood (nats) of sigmoid(A z + B) against 0/1 labels, computed from the logits.</summary>
    /// <param name="logits">Finite logits of class 1.</param>
    /// <param name="labels">0 or 1, as many as logits.</param>
    /// <param name="a">Finite slope.</param>
    /// <param name="b">Finite intercept.</param>
    public static double PlattNll(ReadOnlySpan<double> logits, ReadOnlySpan<int> labels, double a, double b)
    {
        CheckBinary(logits, labels);
        CheckPlatt(a, b);
        return PlattAt(logits.ToArray(), labels.ToArray(), a, b).Nll;
    }

    /// <summary>Mean NLL of sigmoid(a z + b), its gradient and Hessian in (a, b).</summary>
    private static (double Nll, double Ga, double Gb, double Haa, double Hab, double Hbb) PlattAt(double[] z, int[] y, double a, double b)
    {
        double nll = 0, ga = 0, gb = 0, haa = 0, hab = 0, hbb = 0;
        for (var i = 0; i < z.Length; i++)
        {
            var x = a * z[i] + b;
            var p = StableSigmoid(x);
            nll += Softplus(y[i] == 1 ? -x : x);
            var residual = p - y[i];
            var w = p * (1 - p);
            ga += residual * z[i];
            gb += residual;
            haa += w * z[i] * z[i];
            hab += w * z[i];
            hbb += w;
        }
        var n = z.Length;
        return (nll / n, ga / n, gb / n, haa / n, hab / n, hbb / n);
    }

    private static void CheckPlatt(double a, double b)
    {
        if (!double.IsFinite(a)) throw new ArgumentException($"a must be finite, got {Format.Number(a)}", nameof(a));
        if (!double.IsFinite(b)) throw new ArgumentException($"b must be finite, got {Format.Number(b)}", nameof(b));
    }

    /// <summary>The search shared by both forms; <paramref name="at"/> gives NLL, slope and curvature in beta = 1/T.</summary>
    private static TemperatureFit Fit(Func<double, (double Nll, double Slope, double Curvature)> at, bool constant, bool separable, double slopeAtZero, bool singleClass)
    {
        var nllAtOne = at(1).Nll;
        TemperatureFit Bound(double temperature, TemperatureFitStatus status, int iterations) =>
            new(temperature, status, singleClass, at(1 / temperature).Nll, nllAtOne, iterations);

        if (constant) return Bound(1, TemperatureFitStatus.ConstantLogits, 0);
        if (separable) return Bound(MinTemperature, TemperatureFitStatus.Separable, 0);
        if (slopeAtZero >= 0) return Bound(MaxTemperature, TemperatureFitStatus.Uninformative, 0);

        // u = ln T, beta = e^-u; the slope in beta, s(u), falls as u rises (beta falls), and d s / d u = -beta * curvature.
        // The minimiser is the root of s: s > 0 means beta is past the optimum, i.e. T is too small.
        if (at(1 / MinTemperature).Slope <= 0) return Bound(MinTemperature, TemperatureFitStatus.BelowRange, 0);
        if (at(1 / MaxTemperature).Slope >= 0) return Bound(MaxTemperature, TemperatureFitStatus.AboveRange, 0);

        double lo = MinLogTemperature, hi = MaxLogTemperature; // s(lo) > 0 > s(hi)
        double u = 0, previousStep = hi - lo, step = previousStep;
        var iterations = 0;
        while (true)
        {
            // Unreachable in exact terms (a bisection every other step at worst halves the step); never pretend.
            if (++iterations > MaxIterations)
                throw new InvalidOperationException($"temperature search did not converge in {MaxIterations} steps (ln T bracket [{Format.Number(lo)}, {Format.Number(hi)}])");
            var beta = Math.Exp(-u);
            var (_, slope, curvature) = at(beta);
            if (slope == 0) break;
            if (slope > 0) lo = u; else hi = u;
            if (hi - lo <= LogTemperatureTolerance) { u = (lo + hi) / 2; break; }
            var derivative = -beta * curvature; // d slope / d u
            var newton = derivative < 0 ? u - slope / derivative : double.NaN;
            var twoStepsAgo = previousStep;
            previousStep = step;
            if (newton >= lo && newton <= hi && Math.Abs(newton - u) <= twoStepsAgo / 2) // >=, <=: a step that rounds to 0 at a bracket end
                step = Math.Abs(newton - u);
            else
            {
                newton = (lo + hi) / 2;
                step = (hi - lo) / 2;
            }
            u = newton;
            if (step <= LogTemperatureTolerance) break;
        }
        var temperature = Math.Exp(u);
        return new TemperatureFit(temperature, TemperatureFitStatus.Converged, singleClass, at(1 / temperature).Nll, nllAtOne, iterations);
    }

    /// <summary>Mean softplus(-beta m) over margins m = s z, its slope and curvature in beta.</summary>
    private static (double Nll, double Slope, double Curvature) BinaryAt(double[] margin, double beta)
    {
        double nll = 0, slope = 0, curvature = 0;
        foreach (var m in margin)
        {
            var wrong = StableSigmoid(-beta * m); // probability given to the other class
            nll += Softplus(-beta * m);
            slope -= m * wrong;
            curvature += m * m * wrong * (1 - wrong);
        }
        return (nll / margin.Length, slope / margin.Length, curvature / margin.Length);
    }

    /// <summary>Mean of logsumexp(beta z_i) - beta z_(i,y_i), its slope mean(E_p[z] - z_y) and curvature mean(Var_p[z]) in beta.</summary>
    private static (double Nll, double Slope, double Curvature) SoftmaxAt(double[] z, int[] y, int classes, double beta)
    {
        double nll = 0, slope = 0, curvature = 0;
        var weight = new double[classes];
        for (var i = 0; i < y.Length; i++)
        {
            var row = z.AsSpan(i * classes, classes);
            var max = double.NegativeInfinity;
            foreach (var v in row) max = Math.Max(max, v);
            double sum = 0, mean = 0;
            for (var k = 0; k < classes; k++)
            {
                weight[k] = Math.Exp(beta * (row[k] - max));
                sum += weight[k];
                mean += weight[k] * row[k];
            }
            mean /= sum;
            double variance = 0;
            for (var k = 0; k < classes; k++) variance += weight[k] * (row[k] - mean) * (row[k] - mean);
            nll += Math.Log(sum) - beta * (row[y[i]] - max);
            slope += mean - row[y[i]];
            curvature += variance / sum;
        }
        return (nll / y.Length, slope / y.Length, curvature / y.Length);
    }

    private static double StableSigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));

    /// <summary>log(1 + e^x) without overflow or loss of small values.</summary>
    private static double Softplus(double x) => Math.Max(x, 0) + Log1p(Math.Exp(-Math.Abs(x)));

    /// <summary>Accurate log(1 + x) for small x (Goldberg's trick).</summary>
    private static double Log1p(double x)
    {
        var u = 1 + x;
        return u == 1 ? x : Math.Log(u) * x / (u - 1);
    }

    private static bool SingleClass(ReadOnlySpan<int> labels)
    {
        foreach (var y in labels)
            if (y != labels[0]) return false;
        return true;
    }

    private static void CheckBinary(ReadOnlySpan<double> logits, ReadOnlySpan<int> labels)
    {
        if (logits.Length != labels.Length)
            throw new ArgumentException($"labels length must equal logits length {logits.Length}, got {labels.Length}", nameof(labels));
        if (logits.Length == 0)
            throw new ArgumentException("logits must not be empty, got 0 samples", nameof(logits));
        foreach (var y in labels)
            if (y is not (0 or 1)) throw new ArgumentException($"labels must be 0 or 1, got {y}", nameof(labels));
        CheckFinite(logits);
    }

    private static void CheckMultiClass(ReadOnlySpan<double> logits, ReadOnlySpan<int> labels, int classes)
    {
        CheckClasses(classes);
        if (labels.Length == 0) throw new ArgumentException("labels must not be empty, got 0 samples", nameof(labels));
        if (logits.Length != (long)labels.Length * classes)
            throw new ArgumentException($"logits must hold N x C = {labels.Length} x {classes} = {(long)labels.Length * classes} values, got {logits.Length}", nameof(logits));
        foreach (var y in labels)
            if (y < 0 || y >= classes) throw new ArgumentException($"labels must be class ids in [0, {classes - 1}], got {y}", nameof(labels));
        CheckFinite(logits, classes);
    }

    private static void CheckClasses(int classes)
    {
        if (classes < 2) throw new ArgumentException($"classes must be >= 2, got {classes}", nameof(classes));
    }

    private static void CheckFinite(ReadOnlySpan<double> logits)
    {
        for (var i = 0; i < logits.Length; i++)
            if (!double.IsFinite(logits[i])) throw new ArgumentException($"logits must be finite, got {Format.Number(logits[i])} at index {i}", nameof(logits));
    }

    private static void CheckFinite(ReadOnlySpan<double> logits, int classes)
    {
        for (var i = 0; i < logits.Length; i++)
            if (!double.IsFinite(logits[i])) throw new ArgumentException($"logits must be finite, got {Format.Number(logits[i])} at row {i / classes}, class {i % classes}", nameof(logits));
    }

    private static void CheckTemperature(double temperature)
    {
        if (!(double.IsFinite(temperature) && temperature > 0))
            throw new ArgumentException($"temperature must be finite and > 0, got {Format.Number(temperature)}", nameof(temperature));
    }
}
