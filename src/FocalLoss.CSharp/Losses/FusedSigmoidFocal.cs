using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FocalLoss;

/// <summary>Which implementation <see cref="Functional.sigmoid_focal_loss"/> runs (see <see cref="Functional.Kernel"/>).</summary>
public enum FocalKernel
{
    /// <summary>The fused CPU kernel where it applies (<see cref="Functional.FusedIneligibility"/> is null), else the composite.</summary>
    Auto,
    /// <summary>Always the composite of libtorch operations (works on every device and dtype, and for double backward directly).</summary>
    Composite,
    /// <summary>Always the fused kernel; a call it cannot serve is refused with the reason (for tests and benchmarks).</summary>
    Fused,
}

public static partial class Functional
{
    private static readonly AsyncLocal<FocalKernel?> KernelOverride = new();

    /// <summary>
    /// The process-wide choice of implementation for <see cref="sigmoid_focal_loss"/>: <see cref="FocalKernel.Auto"/>
    /// (default, or the environment variable <c>FOCAL_KERNEL</c> = <c>auto</c>, <c>composite</c> or <c>fused</c>).
    /// <see cref="UseKernel"/> overrides it for one flow of execution. Both implementations compute the same
    /// function (same guards, same semantics); they differ in rounding only (the fused kernel works in the inputs'
    /// precision, sums in float64 and in a fixed order).
    /// </summary>
    public static FocalKernel Kernel { get; set; } = KernelFromEnvironment();

    /// <summary>The implementation in force for this flow of execution: the <see cref="UseKernel"/> override, else <see cref="Kernel"/>.</summary>
    public static FocalKernel CurrentKernel => KernelOverride.Value ?? Kernel;

    /// <summary>
    /// Overrides <see cref="Kernel"/> for this thread and the tasks it starts, until the returned scope is
    /// disposed (scopes nest; disposal restores the previous choice). For tests: run the same check on both paths.
    /// </summary>
    public static IDisposable UseKernel(FocalKernel kernel)
    {
        if (!Enum.IsDefined(kernel))
            throw new ArgumentException($"kernel must be Auto, Composite or Fused, got {(int)kernel}", nameof(kernel));
        var previous = KernelOverride.Value;
        KernelOverride.Value = kernel;
        return new KernelScope(previous);
    }

    private sealed class KernelScope(FocalKernel? previous) : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0) KernelOverride.Value = previous;
        }
    }

    private static FocalKernel KernelFromEnvironment()
    {
        var value = Environment.GetEnvironmentVariable("FOCAL_KERNEL");
        if (string.IsNullOrWhiteSpace(value)) return FocalKernel.Auto;
        return value.Trim().ToLowerInvariant() switch
        {
            "auto" => FocalKernel.Auto,
            "composite" => FocalKernel.Composite,
            "fused" => FocalKernel.Fused,
            _ => throw new ArgumentException($"FOCAL_KERNEL must be auto, composite or fused, got '{value}'", "FOCAL_KERNEL"),
        };
    }

    /// <summary>
    /// Why the fused kernel cannot compute <see cref="sigmoid_focal_loss"/> of these tensors (null: it can).
    /// It serves contiguous float32 and float64 tensors on the CPU whose targets do not require a gradient.
    /// Double backward is served too: a backward under <c>create_graph</c> is recomputed by the composite.
    /// </summary>
    public static string? FusedIneligibility(Tensor inputs, Tensor targets)
    {
        if (inputs.device_type != DeviceType.CPU) return $"inputs are on {inputs.device}, the fused kernel runs on the CPU";
        if (inputs.dtype is not (ScalarType.Float32 or ScalarType.Float64)) return $"inputs are {inputs.dtype}, the fused kernel takes Float32 or Float64";
        if (targets.dtype != inputs.dtype || targets.device_type != DeviceType.CPU) return "targets differ from inputs in dtype or device";
        if (!inputs.is_contiguous()) return "inputs are not contiguous";
        if (!targets.is_contiguous()) return "targets are not contiguous";
        if (targets.requires_grad) return "targets require a gradient";
        if (!FusedSigmoidFocal.Available) return "this CPU lacks AVX2 and FMA";
        return null;
    }

    /// <summary>The implementation <see cref="sigmoid_focal_loss"/> runs for these tensors under <see cref="CurrentKernel"/>
    /// (<see cref="FocalKernel.Fused"/> or <see cref="FocalKernel.Composite"/>); throws where Fused is forced and cannot serve them.</summary>
    public static FocalKernel SigmoidFocalPath(Tensor inputs, Tensor targets)
    {
        switch (CurrentKernel)
        {
            case FocalKernel.Composite:
                return FocalKernel.Composite;
            case FocalKernel.Fused:
                var why = FusedIneligibility(inputs, targets);
                if (why is not null)
                    throw new ArgumentException($"Functional.Kernel is Fused, but {why}; use FocalKernel.Auto to fall back to the composite",
                        why.StartsWith("targets", StringComparison.Ordinal) ? nameof(targets) : nameof(inputs));
                return FocalKernel.Fused;
            default:
                return FusedIneligibility(inputs, targets) is null ? FocalKernel.Fused : FocalKernel.Composite;
        }
    }
}

/// <summary>Hyper-parameters of one fused call (alpha: NaN when off).</summary>
internal readonly record struct FocalParameters(double Alpha, double Gamma, double LabelSmoothing, Reduction Reduction, bool OnProbabilities = false)
{
    public bool HasAlpha => !double.IsNaN(Alpha);
}

/// <summary>
/// The fused CPU kernel of <see cref="Functional.sigmoid_focal_loss"/>: one pass over logits and targets for
/// the forward (per-element loss and its reduction), one pass for the backward (the analytic gradient), no
/// N-sized intermediates kept between them beyond the inputs.
/// </summary>
/// <remarks>
/// <para>Per element, in the inputs' precision (float32 in 8 lanes, float64 in 4), with <c>e = exp(-|x|)</c>, <c>L = log1p(e)</c>,
/// <c>sp(x) = max(x, 0) + L = -log(1 - p)</c>, <c>sp(-x) = -log p</c>, <c>p = sigmoid(x)</c> and
/// <c>1 - p = sigmoid(-x)</c> from <c>1 / (1 + e)</c> and <c>e / (1 + e)</c>:
/// <c>CE = t sp(-x) + (1 - t) sp(x)</c> (a term whose weight is 0 is dropped, so +-inf logits give no 0 * inf),
/// <c>m = 1 - p_t = t (1 - p) + (1 - t) p</c> (a sum of two non-negative terms: full relative accuracy),
/// <c>FL = alpha_t m^gamma CE</c>, and
/// <c>dFL/dx = alpha_t m^gamma (gamma (1 - 2t) CE p (1 - p) / m + p - t)</c>, where
/// <c>p (1 - p) / m &lt;= 1</c>, so the gradient is finite at logits of +-100 for every gamma (also 0 &lt; gamma &lt; 1).
/// <c>m^gamma</c> is <see cref="Power"/>. The same loops also run the seed's probability form (<see cref="OnProbabilities"/>).</para>
/// <para>Work is split in fixed chunks of <see cref="ChunkElements"/> elements; each chunk sums its losses in
/// float64 lanes, and the chunk sums are added in chunk order, so the result is bit-identical whatever the
/// number of threads (<c>torch.get_num_threads()</c> of them work on it).</para>
/// </remarks>
internal static unsafe class FusedSigmoidFocal
{
    /// <summary>Elements a chunk (one unit of parallel work and one partial sum) holds; fixed, so sums do not depend on the thread count.</summary>
    public const int ChunkElements = 1 << 14;

    public static bool Available => Avx2.IsSupported && Fma.IsSupported;

    private static readonly delegate* unmanaged<IntPtr, IntPtr> DataFunction = LoadDataFunction();

    private static delegate* unmanaged<IntPtr, IntPtr> LoadDataFunction()
    {
        TorchRuntime.EnsureLoaded();
        // TorchSharp's own export of at::Tensor::data_ptr(), resolved the way TorchSharp resolves it (through the
        // bootstrap's import resolver where it patched the library).
        if (!NativeLibrary.TryLoad("LibTorchSharp", typeof(torch).Assembly, null, out var handle))
            throw new TorchRuntimeException("LibTorchSharp could not be loaded to read tensor memory");
        return (delegate* unmanaged<IntPtr, IntPtr>)NativeLibrary.GetExport(handle, "THSTensor_data");
    }

    private static void* Data(Tensor t) => (void*)DataFunction(t.Handle);

    /// <summary>
    /// The loss through the fused kernel: as an autograd node when a gradient will be asked for, else the forward
    /// alone (no node to build). Value checks follow <see cref="Guard.CheckTensorValues"/>.
    /// </summary>
    public static Tensor Apply(Tensor inputs, Tensor targets, FocalParameters p) =>
        inputs.requires_grad && is_grad_enabled()
            ? FusedSigmoidFocalFunction.apply(inputs, targets, p)
            : Forward(inputs, targets, p, Guard.CheckTensorValues);

    /// <summary>Forward: the reduced loss (0-dim) or the per-element loss (the inputs' shape).</summary>
    public static Tensor Forward(Tensor inputs, Tensor targets, FocalParameters p, bool checkTargets) =>
        (inputs.dtype == ScalarType.Float32, p.OnProbabilities) switch
        {
            (true, false) => Forward<float, OnLogits>(inputs, targets, p, checkTargets),
            (false, false) => Forward<double, OnLogits>(inputs, targets, p, checkTargets),
            (true, true) => Forward<float, OnProbabilities>(inputs, targets, p, checkTargets),
            (false, true) => Forward<double, OnProbabilities>(inputs, targets, p, checkTargets),
        };

    /// <summary>Backward: dL/dinputs times the incoming gradient (a scalar for Mean and Sum, per element for None).</summary>
    public static Tensor Backward(Tensor inputs, Tensor targets, Tensor gradOutput, FocalParameters p) =>
        (inputs.dtype == ScalarType.Float32, p.OnProbabilities) switch
        {
            (true, false) => Backward<float, OnLogits>(inputs, targets, gradOutput, p),
            (false, false) => Backward<double, OnLogits>(inputs, targets, gradOutput, p),
            (true, true) => Backward<float, OnProbabilities>(inputs, targets, gradOutput, p),
            (false, true) => Backward<double, OnProbabilities>(inputs, targets, gradOutput, p),
        };

    private static Tensor Forward<T, TOp>(Tensor inputs, Tensor targets, FocalParameters p, bool checkTargets) where T : unmanaged where TOp : IFocalElement
    {
        long n = inputs.numel();
        var x = (T*)Data(inputs);
        var t = (T*)Data(targets);
        if (p.Reduction == Reduction.None)
        {
            var output = empty_like(inputs);
            var o = (T*)Data(output);
            if (Run(n, chunk => ForwardChunk<T, TOp>(x, t, o, chunk, n, p, checkTargets, out _))) FailTargets(inputs, targets, p, output);
            return output;
        }
        var sums = new double[ChunkCount(n)];
        var anyBad = Run(n, chunk =>
        {
            var bad = ForwardChunk<T, TOp>(x, t, null, chunk, n, p, checkTargets, out var sum);
            sums[chunk] = sum;
            return bad;
        });
        if (anyBad) FailTargets(inputs, targets, p, null);
        double total = 0;
        foreach (var s in sums) total += s;
        if (p.Reduction == Reduction.Mean) total /= n; // n = 0: 0 / 0 = NaN, as torch's mean of nothing
        return tensor(total, dtype: inputs.dtype);
    }

    private static Tensor Backward<T, TOp>(Tensor inputs, Tensor targets, Tensor gradOutput, FocalParameters p) where T : unmanaged where TOp : IFocalElement
    {
        long n = inputs.numel();
        var grad = empty_like(inputs);
        var x = (T*)Data(inputs);
        var t = (T*)Data(targets);
        var g = (T*)Data(grad);
        Tensor? perElement = null;
        double scale = 1;
        if (p.Reduction == Reduction.None && gradOutput.stride().Any(s => s != 0))
            perElement = gradOutput.dtype == inputs.dtype && gradOutput.is_contiguous() ? gradOutput : gradOutput.to_type(inputs.dtype).contiguous();
        else
        {
            // Mean or Sum, or None with an expanded scalar (the backward of .sum()): one factor for every element.
            scale = gradOutput.numel() == 0 ? 0 : gradOutput.reshape(-1)[0].to_type(ScalarType.Float64).item<double>();
            if (p.Reduction == Reduction.Mean) scale /= n;
        }
        var go = perElement is null ? null : (T*)Data(perElement);
        Run(n, chunk => { BackwardChunk<T, TOp>(x, t, go, g, chunk, n, p, scale); return false; });
        if (perElement is not null && !ReferenceEquals(perElement, gradOutput)) perElement.Dispose();
        return grad;
    }

    private static int ChunkCount(long n) => (int)((n + ChunkElements - 1) / ChunkElements);

    /// <summary>Runs every chunk (in parallel over torch's thread count when there are several); true if any returned true.</summary>
    private static bool Run(long n, Func<int, bool> chunk)
    {
        int chunks = ChunkCount(n);
        int threads = Math.Min(chunks, Math.Max(1, torch.get_num_threads()));
        if (threads <= 1)
        {
            bool bad = false;
            for (int i = 0; i < chunks; i++) bad |= chunk(i);
            return bad;
        }
        int any = 0;
        Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, i =>
        {
            if (chunk(i)) Volatile.Write(ref any, 1);
        });
        return any != 0;
    }

    private static void FailTargets(Tensor inputs, Tensor targets, FocalParameters p, Tensor? output)
    {
        output?.Dispose();
        Guard.InUnitInterval(targets, "targets");
        if (p.OnProbabilities) Guard.InUnitInterval(inputs, "probabilities");
        throw new ArgumentException("targets must be in [0, 1]", "targets"); // not reached: the guard names the values
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> C<T>(double value) where T : unmanaged =>
        typeof(T) == typeof(float) ? Vector256.Create((float)value).As<float, T>() : Vector256.Create(value).As<double, T>();

    /// <summary>Loads the last, partial group of a chunk through a zero-padded buffer.</summary>
    private static Vector256<T> LoadTail<T>(T* basePtr, long i, int count) where T : unmanaged
    {
        T* buffer = stackalloc T[Vector256<T>.Count];
        for (int k = 0; k < Vector256<T>.Count; k++) buffer[k] = k < count ? basePtr[i + k] : default;
        return Vector256.Load(buffer);
    }

    private static void StoreTail<T>(T* basePtr, long i, int count, Vector256<T> v) where T : unmanaged
    {
        T* buffer = stackalloc T[Vector256<T>.Count];
        v.Store(buffer);
        for (int k = 0; k < count; k++) basePtr[i + k] = buffer[k];
    }

    /// <summary>
    /// <c>exp(-|x|)</c> and <c>log1p(exp(-|x|))</c>. Float64: libm-grade <see cref="Vector256.Exp(Vector256{double})"/>
    /// and <c>log1p(e) = log(u) e / (u - 1)</c>, <c>u = 1 + e</c> (exact where u rounds to 1). Float32: Cephes' expf
    /// polynomial (results below 2^-126, at |x| > 87.3, flush to 0) and <c>log1p(e) = 2 atanh(e / (2 + e))</c> by its
    /// series to s^13 (s &lt;= 1/3: truncation below 2^-25 relative).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<T> E, Vector256<T> L) ExpAndLog1p<T>(Vector256<T> ax) where T : unmanaged
    {
        if (typeof(T) == typeof(double))
        {
            var a = ax.As<T, double>();
            var e = Vector256.Exp(-a);
            var u = Vector256<double>.One + e;
            var d = u - Vector256<double>.One;
            var l = Vector256.ConditionalSelect(Vector256.Equals(d, Vector256<double>.Zero), e, Vector256.Log(u) * e / d);
            return (e.As<double, T>(), l.As<double, T>());
        }
        else
        {
            var a = ax.As<T, float>();
            var ef = ExpNegFloat(a);
            var s = ef / (Vector256.Create(2f) + ef);
            var s2 = s * s;
            var poly = Vector256.Create(1f / 13);
            poly = Vector256.FusedMultiplyAdd(poly, s2, Vector256.Create(1f / 11));
            poly = Vector256.FusedMultiplyAdd(poly, s2, Vector256.Create(1f / 9));
            poly = Vector256.FusedMultiplyAdd(poly, s2, Vector256.Create(1f / 7));
            poly = Vector256.FusedMultiplyAdd(poly, s2, Vector256.Create(1f / 5));
            poly = Vector256.FusedMultiplyAdd(poly, s2, Vector256.Create(1f / 3));
            poly = Vector256.FusedMultiplyAdd(poly, s2, Vector256<float>.One);
            var l = Vector256.Create(2f) * s * poly;
            return (ef.As<float, T>(), l.As<float, T>());
        }
    }

    /// <summary>Cephes' expf for arguments <c>-a &lt;= 0</c>: 2^n times a degree-6 polynomial of the reduced argument.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ExpNegFloat(Vector256<float> a)
    {
        var x = -Vector256.MinNative(a, Vector256.Create(87.3f));
        var n = Vector256.Round(x * Vector256.Create(1.44269504088896341f));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-0.693359375f), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(2.12194440e-4f), r);
        var poly = Vector256.Create(1.9875691500E-4f);
        poly = Vector256.FusedMultiplyAdd(poly, r, Vector256.Create(1.3981999507E-3f));
        poly = Vector256.FusedMultiplyAdd(poly, r, Vector256.Create(8.3334519073E-3f));
        poly = Vector256.FusedMultiplyAdd(poly, r, Vector256.Create(4.1665795894E-2f));
        poly = Vector256.FusedMultiplyAdd(poly, r, Vector256.Create(1.6666665459E-1f));
        poly = Vector256.FusedMultiplyAdd(poly, r, Vector256.Create(5.0000001201E-1f));
        var y = Vector256.FusedMultiplyAdd(poly, r * r, r) + Vector256<float>.One;
        var scale = (Vector256.ConvertToInt32Native(n) + Vector256.Create(127)) << 23;
        var result = y * scale.As<int, float>();
        return Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(a, Vector256.Create(87.3f)), Vector256<float>.Zero, result);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Exp<T>(Vector256<T> v) where T : unmanaged =>
        typeof(T) == typeof(float) ? Vector256.Exp(v.As<T, float>()).As<float, T>() : Vector256.Exp(v.As<T, double>()).As<double, T>();

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Log<T>(Vector256<T> v) where T : unmanaged =>
        typeof(T) == typeof(float) ? Vector256.Log(v.As<T, float>()).As<float, T>() : Vector256.Log(v.As<T, double>()).As<double, T>();

    /// <summary>The quantities of one group of elements that forward and backward share.</summary>
    private struct Terms<TV> where TV : unmanaged
    {
        public Vector256<TV> T, OneMinusT, Ce, P, OneMinusP, M, Mod;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Terms<T> Compute<T>(Vector256<T> x, Vector256<T> t, in FocalParameters p) where T : unmanaged
    {
        var one = Vector256<T>.One;
        var zero = Vector256<T>.Zero;
        if (p.LabelSmoothing != 0)
            t = t * C<T>(1 - p.LabelSmoothing) + C<T>(p.LabelSmoothing / 2);
        var (e, l) = ExpAndLog1p(Vector256.Abs(x));
        var inv = one / (one + e);
        var small = e * inv;
        var positive = Vector256.GreaterThanOrEqual(x, zero);
        var sigmoid = Vector256.ConditionalSelect(positive, inv, small);
        var sigmoidNeg = Vector256.ConditionalSelect(positive, small, inv);
        var softplus = Vector256.MaxNative(x, zero) + l;      // -log(1 - p)
        var softplusNeg = Vector256.MaxNative(-x, zero) + l;  // -log p
        var omt = one - t;
        var ce = Vector256.ConditionalSelect(Vector256.Equals(t, one), zero, omt * softplus)
               + Vector256.ConditionalSelect(Vector256.Equals(t, zero), zero, t * softplusNeg);
        var m = t * sigmoidNeg + omt * sigmoid;
        return new Terms<T> { T = t, OneMinusT = omt, Ce = ce, P = sigmoid, OneMinusP = sigmoidNeg, M = m, Mod = Power(m, p.Gamma) };
    }

    /// <summary><c>alpha_t = alpha t + (1 - alpha)(1 - t)</c>, for the (smoothed) targets <paramref name="t"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> AlphaT<T>(Vector256<T> t, in FocalParameters p) where T : unmanaged =>
        C<T>(p.Alpha) * t + C<T>(1 - p.Alpha) * (Vector256<T>.One - t);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<T> LogitsLoss<T>(Vector256<T> x, Vector256<T> t, in FocalParameters p, ref Vector256<T> bad) where T : unmanaged
    {
        bad |= OutsideUnit(t);
        var s = Compute(x, t, p);
        var loss = s.Mod * s.Ce;
        return KeepNaN(x, p.HasAlpha ? AlphaT(s.T, p) * loss : loss);
    }

    /// <summary>NaN where the logit is NaN: the float32 polynomials clamp their argument with min/max, which would turn NaN into a number.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> KeepNaN<T>(Vector256<T> x, Vector256<T> value) where T : unmanaged =>
        Vector256.ConditionalSelect(Vector256.Equals(x, x), value, x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<T> LogitsGradient<T>(Vector256<T> x, Vector256<T> t, in FocalParameters p) where T : unmanaged
    {
        var s = Compute(x, t, p);
        var pMinusT = s.OneMinusT * s.P - s.T * s.OneMinusP;
        Vector256<T> grad;
        if (p.Gamma == 0) grad = pMinusT;
        else
        {
            var zero = Vector256<T>.Zero;
            var ratio = Vector256.ConditionalSelect(Vector256.GreaterThan(s.M, zero), s.P * s.OneMinusP / s.M, zero);
            var sign = Vector256<T>.One - s.T - s.T; // 1 - 2t
            grad = s.Mod * (C<T>(p.Gamma) * sign * s.Ce * ratio + pMinusT);
        }
        return KeepNaN(x, p.HasAlpha ? AlphaT(s.T, p) * grad : grad);
    }

    /// <summary>Flags lanes of <paramref name="v"/> outside [0, 1] (NaN included): !(v >= 0 &amp;&amp; v &lt;= 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> OutsideUnit<T>(Vector256<T> v) where T : unmanaged =>
        ~(Vector256.GreaterThanOrEqual(v, Vector256<T>.Zero) & Vector256.LessThanOrEqual(v, Vector256<T>.One));

    /// <summary>
    /// The seed's probability form, as <see cref="Functional.focal_loss_from_probabilities"/> writes it:
    /// <c>-alpha_t (1 - p_t)^gamma log p_t</c>, <c>p_t = p t + (1 - p)(1 - t)</c>, nothing clamped (p_t = 0 gives +inf).
    /// </summary>
    internal static Vector256<T> ProbabilitiesLoss<T>(Vector256<T> p, Vector256<T> t, in FocalParameters h, ref Vector256<T> bad) where T : unmanaged
    {
        bad |= OutsideUnit(t) | OutsideUnit(p);
        var one = Vector256<T>.One;
        var pt = p * t + (one - p) * (one - t);
        var loss = -Power(one - pt, h.Gamma) * Log(pt);
        return h.HasAlpha ? AlphaT(t, h) * loss : loss;
    }

    /// <summary>
    /// d/dp of <see cref="ProbabilitiesLoss"/>: <c>alpha_t (t - (1 - t)) (gamma q^(gamma - 1) log p_t - q^gamma / p_t)</c> with
    /// <c>q = 1 - p_t</c>; like torch's <c>pow</c> backward, the first term is 0 for gamma = 0 and NaN where q = 0 and gamma &lt; 1.
    /// </summary>
    internal static Vector256<T> ProbabilitiesGradient<T>(Vector256<T> p, Vector256<T> t, in FocalParameters h) where T : unmanaged
    {
        var one = Vector256<T>.One;
        var pt = p * t + (one - p) * (one - t);
        var q = one - pt;
        var d = -Power(q, h.Gamma) / pt;
        if (h.Gamma != 0) d += C<T>(h.Gamma) * Power(q, h.Gamma - 1) * Log(pt);
        if (h.HasAlpha) d *= AlphaT(t, h);
        // Through p_t = p t + (1 - p)(1 - t) term by term, as autograd does: an infinite d at p_t = 0 meets the
        // zero weight of the other term and gives NaN there, as the composite's gradient is.
        return d * t - d * (one - t);
    }

    /// <summary><c>q^gamma</c>: 1 for gamma 0 (also at q = 0, as torch's <c>pow</c>), products for gamma 1, 2 and 3, else
    /// <c>exp(gamma log q)</c> (0 at q = 0 for gamma &gt; 0).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<T> Power<T>(Vector256<T> q, double gamma) where T : unmanaged =>
        gamma == 0 ? Vector256<T>.One : gamma == 1 ? q : gamma == 2 ? q * q : gamma == 3 ? q * q * q : Exp(C<T>(gamma) * Log(q));

    /// <summary>Adds a loss vector to float64 accumulators.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Accumulate<T>(ref Vector256<double> acc0, ref Vector256<double> acc1, Vector256<T> loss) where T : unmanaged
    {
        if (typeof(T) == typeof(float))
        {
            var f = loss.As<T, float>();
            acc0 += Vector256.WidenLower(f);
            acc1 += Vector256.WidenUpper(f);
        }
        else acc0 += loss.As<T, double>();
    }

    // Optimised at first call: a kernel must not spend its first calls in tier-0 code.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static bool ForwardChunk<T, TOp>(T* x, T* t, T* output, int chunk, long n, FocalParameters p, bool checkTargets, out double sum) where T : unmanaged where TOp : IFocalElement
    {
        long start = (long)chunk * ChunkElements;
        long end = Math.Min(n, start + ChunkElements);
        int width = Vector256<T>.Count;
        Vector256<double> acc0 = default, acc1 = default;
        var bad = Vector256<T>.Zero;
        long i = start;
        for (; i + width <= end; i += width)
        {
            var loss = TOp.Loss(Vector256.Load(x + i), Vector256.Load(t + i), p, ref bad);
            if (output != null) loss.Store(output + i);
            else Accumulate(ref acc0, ref acc1, loss);
        }
        if (i < end)
        {
            int count = (int)(end - i);
            var loss = TOp.Loss(LoadTail(x, i, count), LoadTail(t, i, count), p, ref bad);
            if (output != null) StoreTail(output, i, count, loss);
            else
            {
                // Only the real elements enter the sum (the padding's loss is finite but not zero).
                var keep = Vector256.LessThan(Vector256<T>.Indices, C<T>(count));
                Accumulate(ref acc0, ref acc1, Vector256.ConditionalSelect(keep, loss, Vector256<T>.Zero));
            }
        }
        var total = acc0 + acc1;
        sum = total.GetElement(0) + total.GetElement(1) + total.GetElement(2) + total.GetElement(3);
        return checkTargets && bad != Vector256<T>.Zero;
    }

    // Optimised at first call: a kernel must not spend its first calls in tier-0 code.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void BackwardChunk<T, TOp>(T* x, T* t, T* gradOutput, T* grad, int chunk, long n, FocalParameters p, double scale) where T : unmanaged where TOp : IFocalElement
    {
        long start = (long)chunk * ChunkElements;
        long end = Math.Min(n, start + ChunkElements);
        int width = Vector256<T>.Count;
        var factor = C<T>(scale);
        long i = start;
        for (; i + width <= end; i += width)
        {
            var g = TOp.Gradient(Vector256.Load(x + i), Vector256.Load(t + i), p);
            g = gradOutput != null ? g * Vector256.Load(gradOutput + i) : g * factor;
            g.Store(grad + i);
        }
        if (i < end)
        {
            int count = (int)(end - i);
            var g = TOp.Gradient(LoadTail(x, i, count), LoadTail(t, i, count), p);
            g = gradOutput != null ? g * LoadTail(gradOutput, i, count) : g * factor;
            StoreTail(grad, i, count, g);
        }
    }
}

/// <summary>One element-wise form of the binary focal family for the fused kernel's loops (specialised per struct).</summary>
internal interface IFocalElement
{
    static abstract Vector256<T> Loss<T>(Vector256<T> x, Vector256<T> t, in FocalParameters p, ref Vector256<T> bad) where T : unmanaged;
    static abstract Vector256<T> Gradient<T>(Vector256<T> x, Vector256<T> t, in FocalParameters p) where T : unmanaged;
}

/// <summary><see cref="Functional.sigmoid_focal_loss"/>: logits in, targets flagged outside [0, 1].</summary>
internal readonly struct OnLogits : IFocalElement
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Loss<T>(Vector256<T> x, Vector256<T> t, in FocalParameters p, ref Vector256<T> bad) where T : unmanaged => FusedSigmoidFocal.LogitsLoss(x, t, p, ref bad);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Gradient<T>(Vector256<T> x, Vector256<T> t, in FocalParameters p) where T : unmanaged => FusedSigmoidFocal.LogitsGradient(x, t, p);
}

/// <summary><see cref="Functional.focal_loss_from_probabilities"/>: probabilities in, both inputs flagged outside [0, 1].</summary>
internal readonly struct OnProbabilities : IFocalElement
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Loss<T>(Vector256<T> x, Vector256<T> t, in FocalParameters p, ref Vector256<T> bad) where T : unmanaged => FusedSigmoidFocal.ProbabilitiesLoss(x, t, p, ref bad);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Gradient<T>(Vector256<T> x, Vector256<T> t, in FocalParameters p) where T : unmanaged => FusedSigmoidFocal.ProbabilitiesGradient(x, t, p);
}

/// <summary>The autograd node of the fused kernel: saves the inputs (no intermediates) and recomputes in backward.</summary>
internal sealed class FusedSigmoidFocalFunction : autograd.SingleTensorFunction<FusedSigmoidFocalFunction>
{
    public override string Name => "FusedSigmoidFocalLoss";

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var inputs = (Tensor)vars[0];
        var targets = (Tensor)vars[1];
        var p = (FocalParameters)vars[2];
        ctx.save_for_backward([inputs, targets]);
        ctx.save_data("p", p);
        return FusedSigmoidFocal.Forward(inputs, targets, p, Guard.CheckTensorValues);
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        // This runs inside libtorch's engine, called back from native code: an exception leaving it would abort the
        // process. A failure (e.g. an input modified in place after the forward) is reported on stderr and handed to
        // the engine as an empty gradient, which it refuses with an error the caller of backward() can catch.
        try
        {
            return Backward(ctx, grad_output);
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"{Name} backward failed: {e.Message}");
            return [empty(0, dtype: grad_output.dtype), null!, null!];
        }
    }

    private List<Tensor> Backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        var saved = ctx.get_saved_variables();
        var inputs = saved[0];
        var targets = saved[1];
        var p = (FocalParameters)ctx.get_data("p");
        if (torch.is_grad_enabled())
        {
            // create_graph: the gradient must itself be differentiable (in the inputs and in grad_output), so it
            // is taken from the composite's graph, built on the saved inputs, which keep their history.
            using var scope = NewDisposeScope();
            Tensor loss;
            using (Functional.UseKernel(FocalKernel.Composite))
                loss = p.OnProbabilities
                    ? Functional.focal_loss_from_probabilities(inputs, targets, p.HasAlpha ? p.Alpha : null, p.Gamma, p.Reduction)
                    : Functional.sigmoid_focal_loss(inputs, targets, p.HasAlpha ? p.Alpha : null, p.Gamma, p.LabelSmoothing, p.Reduction);
            var result = autograd.grad([loss], [inputs], [grad_output], retain_graph: true, create_graph: true)[0].MoveToOuterDisposeScope();
            return [result, null!, null!];
        }
        return [FusedSigmoidFocal.Backward(inputs, targets, grad_output, p), null!, null!];
    }
}
