using System.Runtime.CompilerServices;
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
    private static readonly ScopedOverride<FocalKernel> KernelOverride = new();
    private static FocalKernel? kernel;

    /// <summary>
    /// The process-wide choice of implementation for <see cref="sigmoid_focal_loss"/>: <see cref="FocalKernel.Auto"/>
    /// (default, or the environment variable <c>FOCAL_KERNEL</c> = <c>auto</c>, <c>composite</c> or <c>fused</c>, read
    /// at first use; another value makes every call through <see cref="sigmoid_focal_loss"/> or
    /// <see cref="focal_loss_from_probabilities"/> (the balanced cross-entropy is sigmoid focal loss at gamma 0) fail with
    /// an <see cref="ArgumentException"/> naming it, and leaves the rest of <see cref="Functional"/> working). <see cref="UseKernel"/> overrides it for one flow
    /// of execution. Both implementations compute the same function (same guards, same semantics); they differ in
    /// rounding only (the fused kernel works in the inputs' precision, sums in float64 and in a fixed order).
    /// </summary>
    public static FocalKernel Kernel
    {
        get => kernel ??= KernelFromEnvironment();
        set
        {
            if (!Enum.IsDefined(value))
                throw new ArgumentException($"Kernel must be Auto, Composite or Fused, got {(int)value}", nameof(Kernel));
            kernel = value;
        }
    }

    /// <summary>The implementation in force for this flow of execution: the innermost open <see cref="UseKernel"/> override, else <see cref="Kernel"/>.</summary>
    public static FocalKernel CurrentKernel => KernelOverride.Value ?? Kernel;

    /// <summary>
    /// Overrides <see cref="Kernel"/> for this thread and the tasks it starts, until the returned scope is disposed.
    /// Scopes nest and may be disposed in any order: the innermost scope still open is in force. Dispose a scope in
    /// the flow of execution that opened it (the override is per flow: disposing it inside a task it started ends it
    /// for that task only). For tests: run the same check on both paths.
    /// </summary>
    public static IDisposable UseKernel(FocalKernel kernel)
    {
        if (!Enum.IsDefined(kernel))
            throw new ArgumentException($"kernel must be Auto, Composite or Fused, got {(int)kernel}", nameof(kernel));
        return KernelOverride.Push(kernel);
    }

    private static readonly ScopedOverride<int> VectorBitsOverride = new();

    /// <summary>
    /// The register width, in bits, the fused kernel computes with in this flow of execution: 512 (AVX-512: 16 float32
    /// or 8 float64 lanes) where .NET accelerates <see cref="System.Runtime.Intrinsics.Vector512"/> on this CPU, else 256
    /// (AVX2: 8 or 4 lanes); <see cref="UseFusedVectorBits"/> overrides it. Both widths compute every element with the
    /// same operations, so per-element losses and gradients are bit-identical (tested), with one exception at the last
    /// bits: .NET's vector <c>Exp</c> (float64 lanes, and gamma outside 0..3) rounds every lane of a register differently
    /// when one lane's argument is outside its fast range or NaN (an exponent below about -708: exp(-inf) where a
    /// probability is exactly 0 or 1, float64 logits beyond about 708, or gamma log m that low, e.g. gamma 4.2 from
    /// logits of about 170), and registers of the two widths group different neighbours. A reduced loss also differs
    /// between the widths by the order of its float64 sum. At one width, results do not depend on the thread count.
    /// </summary>
    public static int FusedVectorBits => VectorBitsOverride.Value ?? (Vector512.IsHardwareAccelerated ? 512 : 256);

    /// <summary>Overrides <see cref="FusedVectorBits"/> (256, or 512 where this CPU accelerates it) for this thread and the
    /// tasks it starts, until the returned scope is disposed (any order, as <see cref="UseKernel"/>): for tests and
    /// benchmarks of both widths.</summary>
    public static IDisposable UseFusedVectorBits(int bits)
    {
        if (bits is not (256 or 512))
            throw new ArgumentOutOfRangeException(nameof(bits), bits, $"bits must be 256 or 512, got {bits}");
        if (bits == 512 && !Vector512.IsHardwareAccelerated)
            throw new ArgumentOutOfRangeException(nameof(bits), bits, "bits is 512, but .NET does not accelerate Vector512 on this CPU; use 256");
        return VectorBitsOverride.Push(bits);
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
    public static string? FusedIneligibility(Tensor inputs, Tensor targets, string inputName = "inputs")
    {
        if (inputs.device_type != DeviceType.CPU) return $"{inputName} are on {inputs.device}, the fused kernel runs on the CPU";
        if (inputs.dtype is not (ScalarType.Float32 or ScalarType.Float64)) return $"{inputName} are {inputs.dtype}, the fused kernel takes Float32 or Float64";
        if (targets.dtype != inputs.dtype || targets.device_type != DeviceType.CPU) return $"targets differ from {inputName} in dtype or device";
        if (!inputs.is_contiguous()) return $"{inputName} are not contiguous";
        if (!targets.is_contiguous()) return "targets are not contiguous";
        if (targets.requires_grad) return "targets require a gradient";
        if (!FusedSigmoidFocal.Available) return "this CPU lacks AVX2 and FMA";
        return null;
    }

    /// <summary>The implementation <see cref="sigmoid_focal_loss"/> runs for these tensors under <see cref="CurrentKernel"/>
    /// (<see cref="FocalKernel.Fused"/> or <see cref="FocalKernel.Composite"/>); throws where Fused is forced and cannot serve them.</summary>
    public static FocalKernel SigmoidFocalPath(Tensor inputs, Tensor targets, string inputName = "inputs")
    {
        switch (CurrentKernel)
        {
            case FocalKernel.Composite:
                return FocalKernel.Composite;
            case FocalKernel.Fused:
                var why = FusedIneligibility(inputs, targets, inputName);
                if (why is not null)
                    throw new ArgumentException($"Functional.Kernel is Fused, but {why}; use FocalKernel.Auto to fall back to the composite",
                        why.StartsWith("targets", StringComparison.Ordinal) ? nameof(targets) : inputName);
                return FocalKernel.Fused;
            default:
                return FusedIneligibility(inputs, targets, inputName) is null ? FocalKernel.Fused : FocalKernel.Composite;
        }
    }
}

/// <summary>
/// A per-flow override (an <see cref="AsyncLocal{T}"/> stack of open scopes): <see cref="Push"/> opens a scope, disposing
/// it removes that scope wherever it is in the stack, so scopes disposed out of order never leave a stale value.
/// </summary>
internal sealed class ScopedOverride<T> where T : struct
{
    private sealed record Entry(T Value, Entry? Next, object Id);

    private readonly AsyncLocal<Entry?> top = new();

    /// <summary>The innermost open scope's value in this flow, or null.</summary>
    public T? Value => top.Value?.Value;

    public IDisposable Push(T value)
    {
        var id = new object();
        top.Value = new Entry(value, top.Value, id);
        return new Scope(this, id);
    }

    private static Entry? Without(Entry? entry, object id) =>
        entry is null ? null : ReferenceEquals(entry.Id, id) ? entry.Next : entry with { Next = Without(entry.Next, id) };

    private sealed class Scope(ScopedOverride<T> owner, object id) : IDisposable
    {
        private int disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref disposed, 1) == 0) owner.top.Value = Without(owner.top.Value, id);
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
/// <para>Per element, in the inputs' precision (float32 or float64 lanes of a 256- or 512-bit register, <see cref="Functional.FusedVectorBits"/>), with <c>e = exp(-|x|)</c>, <c>L = log1p(e)</c>,
/// <c>sp(x) = max(x, 0) + L = -log(1 - p)</c>, <c>sp(-x) = -log p</c>, <c>p = sigmoid(x)</c> and
/// <c>1 - p = sigmoid(-x)</c> from <c>1 / (1 + e)</c> and <c>e / (1 + e)</c>:
/// <c>CE = t sp(-x) + (1 - t) sp(x)</c> (a term whose weight is 0 is dropped, so +-inf logits give no 0 * inf),
/// <c>m = 1 - p_t = t (1 - p) + (1 - t) p</c> (a sum of two non-negative terms: full relative accuracy),
/// <c>FL = alpha_t m^gamma CE</c>, and
/// <c>dFL/dx = alpha_t m^gamma (gamma (1 - 2t) CE p (1 - p) / m + p - t)</c>, where
/// <c>p (1 - p) / m &lt;= 1</c>, so the gradient is finite at logits of +-100 for every gamma (also 0 &lt; gamma &lt; 1).
/// <c>m^gamma</c> is <see cref="IGammaPower"/>, a type argument of the loops. The same loops also run the seed's probability form (<see cref="OnProbabilities"/>).</para>
/// <para>Work is split in fixed chunks of <see cref="ChunkElements"/> elements; each chunk sums its losses in
/// float64 lanes, and the chunk sums are added in chunk order, so the result is bit-identical whatever the
/// number of threads (<c>torch.get_num_threads()</c> of them work on it).</para>
/// </remarks>
internal static unsafe class FusedSigmoidFocal
{
    /// <summary>Elements a chunk (one unit of parallel work and one partial sum) holds; fixed, so sums do not depend on the thread count.</summary>
    public const int ChunkElements = 1 << 14;

    public static bool Available => Avx2.IsSupported && Fma.IsSupported;

    private static void* Data(Tensor t) => TensorMemory.Data(t);

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
        Dispatch(inputs.dtype, p, new ForwardCall(inputs, targets, p, checkTargets));

    /// <summary>Backward: dL/dinputs times the incoming gradient (a scalar for Mean and Sum, per element for None).</summary>
    public static Tensor Backward(Tensor inputs, Tensor targets, Tensor gradOutput, FocalParameters p) =>
        Dispatch(inputs.dtype, p, new BackwardCall(inputs, targets, gradOutput, p));

    /// <summary>One kernel entry point, instantiated per register type, form and gamma case (see <see cref="Dispatch"/>).</summary>
    private interface IKernelCall
    {
        Tensor Invoke<TV, TOp, TG>() where TV : unmanaged, ILanes<TV> where TOp : IFocalElement where TG : IGammaPower;
    }

    private readonly record struct ForwardCall(Tensor Inputs, Tensor Targets, FocalParameters P, bool CheckTargets) : IKernelCall
    {
        public Tensor Invoke<TV, TOp, TG>() where TV : unmanaged, ILanes<TV> where TOp : IFocalElement where TG : IGammaPower =>
            Forward<TV, TOp, TG>(Inputs, Targets, P, CheckTargets);
    }

    private readonly record struct BackwardCall(Tensor Inputs, Tensor Targets, Tensor GradOutput, FocalParameters P) : IKernelCall
    {
        public Tensor Invoke<TV, TOp, TG>() where TV : unmanaged, ILanes<TV> where TOp : IFocalElement where TG : IGammaPower =>
            Backward<TV, TOp, TG>(Inputs, Targets, GradOutput, P);
    }

    /// <summary>
    /// Runs <paramref name="call"/> with the loops specialised for the register (<see cref="Functional.FusedVectorBits"/>
    /// wide, float32 or float64 lanes), the form (logits or probabilities) and the gamma case (0, 1, 2, 3 or any other):
    /// the JIT compiles each combination on its first use, so the per-element code carries no branch on gamma and no
    /// call into the general power.
    /// </summary>
    private static Tensor Dispatch<TCall>(ScalarType dtype, in FocalParameters p, TCall call) where TCall : IKernelCall =>
        (Functional.FusedVectorBits == 512, dtype == ScalarType.Float32) switch
        {
            (true, true) => DispatchForm<Lanes512<float>, TCall>(p, call),
            (true, false) => DispatchForm<Lanes512<double>, TCall>(p, call),
            (false, true) => DispatchForm<Lanes256<float>, TCall>(p, call),
            (false, false) => DispatchForm<Lanes256<double>, TCall>(p, call),
        };

    private static Tensor DispatchForm<TV, TCall>(in FocalParameters p, TCall call) where TV : unmanaged, ILanes<TV> where TCall : IKernelCall =>
        p.OnProbabilities ? DispatchGamma<TV, OnProbabilities, TCall>(p.Gamma, call) : DispatchGamma<TV, OnLogits, TCall>(p.Gamma, call);

    private static Tensor DispatchGamma<TV, TOp, TCall>(double gamma, TCall call) where TV : unmanaged, ILanes<TV> where TOp : IFocalElement where TCall : IKernelCall =>
        gamma switch
        {
            0 => call.Invoke<TV, TOp, GammaZero>(),
            1 => call.Invoke<TV, TOp, GammaOne>(),
            2 => call.Invoke<TV, TOp, GammaTwo>(),
            3 => call.Invoke<TV, TOp, GammaThree>(),
            _ => call.Invoke<TV, TOp, GammaReal>(),
        };

    private static Tensor Forward<TV, TOp, TG>(Tensor inputs, Tensor targets, FocalParameters p, bool checkTargets) where TV : unmanaged, ILanes<TV> where TOp : IFocalElement where TG : IGammaPower
    {
        long n = inputs.numel();
        var x = Data(inputs);
        var t = Data(targets);
        if (p.Reduction == Reduction.None)
        {
            var output = empty_like(inputs);
            var o = Data(output);
            if (Run(n, chunk => ForwardChunk<TV, TOp, TG>(x, t, o, chunk, n, p, checkTargets, out _))) FailTargets(inputs, targets, p, output);
            return output;
        }
        var sums = new double[ChunkCount(n)];
        var anyBad = Run(n, chunk =>
        {
            var bad = ForwardChunk<TV, TOp, TG>(x, t, null, chunk, n, p, checkTargets, out var sum);
            sums[chunk] = sum;
            return bad;
        });
        if (anyBad) FailTargets(inputs, targets, p, null);
        double total = 0;
        foreach (var s in sums) total += s;
        if (p.Reduction == Reduction.Mean) total /= n; // n = 0: 0 / 0 = NaN, as torch's mean of nothing
        return tensor(total, dtype: inputs.dtype);
    }

    private static Tensor Backward<TV, TOp, TG>(Tensor inputs, Tensor targets, Tensor gradOutput, FocalParameters p) where TV : unmanaged, ILanes<TV> where TOp : IFocalElement where TG : IGammaPower
    {
        long n = inputs.numel();
        var grad = empty_like(inputs);
        var x = Data(inputs);
        var t = Data(targets);
        var g = Data(grad);
        Tensor? perElement = null;
        double scale = 1;
        if (p.Reduction == Reduction.None && gradOutput.stride().Any(s => s != 0))
            perElement = gradOutput.dtype == inputs.dtype && gradOutput.is_contiguous() ? gradOutput : gradOutput.to_type(inputs.dtype).contiguous();
        else
        {
            // Mean or Sum, or None with an expanded scalar (the backward of .sum()): one factor for every element.
            var count = gradOutput.numel();
            scale = count == 0 ? 0 : count == 1 ? gradOutput.ToDouble() : gradOutput.reshape(-1)[0].ToDouble();
            if (p.Reduction == Reduction.Mean) scale /= n;
        }
        var go = perElement is null ? null : Data(perElement);
        Run(n, chunk => { BackwardChunk<TV, TOp, TG>(x, t, go, g, chunk, n, p, scale); return false; });
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

    /// <summary>
    /// Loads the elements <c>[i, i + count)</c> of <paramref name="data"/>, padded to a register with 0.5: a value
    /// inside every form's domain whose exp and log stay in .NET's fast range. (.NET's vector <c>Exp</c> rounds
    /// every lane of a register differently when one lane is outside that range, so a padding of 0, whose
    /// probability-form log is -inf, changed the last bits of the real elements beside it.)
    /// </summary>
    private static TV LoadTail<TV>(void* data, long i, int count) where TV : unmanaged, ILanes<TV> =>
        TV.IsSingle ? Lanes.LoadPartial<TV, float>((float*)data, i, count, 0.5f) : Lanes.LoadPartial<TV, double>((double*)data, i, count, 0.5);

    private static void StoreTail<TV>(TV v, void* data, long i, int count) where TV : unmanaged, ILanes<TV>
    {
        if (TV.IsSingle) Lanes.StorePartial(v, (float*)data, i, count);
        else Lanes.StorePartial(v, (double*)data, i, count);
    }

    /// <summary>
    /// <c>exp(-|x|)</c> and <c>log1p(exp(-|x|))</c>. Float64: libm-grade <see cref="ILanes{TV}.Exp"/>
    /// and <c>log1p(e) = log(u) e / (u - 1)</c>, <c>u = 1 + e</c> (exact where u rounds to 1). Float32: Cephes' expf
    /// polynomial (results below 2^-126, at |x| > 87.3, flush to 0) and <c>log1p(e) = e P(e)</c>, P a degree-9
    /// polynomial (no division), both by Estrin's scheme.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (TV E, TV L) ExpAndLog1p<TV>(TV a) where TV : unmanaged, ILanes<TV>
    {
        if (!TV.IsSingle)
        {
            var e = TV.Exp(-a);
            var u = TV.One + e;
            var d = u - TV.One;
            return (e, TV.Select(TV.Equal(d, TV.Zero), e, TV.Log(u) * e / d));
        }
        var ef = ExpNegSingle(a);
        // log1p(e) = e P(e), P of degree 9 fitted on [0, 1] (Chebyshev least squares; measured relative error of
        // e P(e) in float32 below 1.8e-7), evaluated by Estrin's scheme: its dependency chain is 5 operations
        // deep where Horner's is 10, and the kernel is bound by the latency of its chains, not by their length.
        var e2 = ef * ef;
        var e4 = e2 * e2;
        var p01 = TV.Fma(TV.Create(-0.4999990399274994f), ef, TV.Create(0.9999999953848959f));
        var p23 = TV.Fma(TV.Create(-0.24954558865891727f), ef, TV.Create(0.3333000403477355f));
        var p45 = TV.Fma(TV.Create(-0.15311863009316368f), ef, TV.Create(0.1967811722687091f));
        var p67 = TV.Fma(TV.Create(-0.05706419895047738f), ef, TV.Create(0.10614264516594293f));
        var p89 = TV.Fma(TV.Create(-0.0032563782290326074f), ef, TV.Create(0.019907159894149047f));
        var low = TV.Fma(p23, e2, p01);
        var high = TV.Fma(p67, e2, p45);
        var poly = TV.Fma(TV.Fma(p89, e4, high), e4, low);
        return (ef, ef * poly);
    }

    /// <summary>Cephes' expf for float32 arguments <c>-a &lt;= 0</c>: 2^n times a degree-6 polynomial of the reduced argument.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV ExpNegSingle<TV>(TV a) where TV : unmanaged, ILanes<TV>
    {
        var limit = TV.Create(87.3f);
        var x = -TV.Min(a, limit);
        var n = TV.Round(x * TV.Create(1.44269504088896341f));
        var r = TV.Fma(n, TV.Create(-0.693359375f), x);
        r = TV.Fma(n, TV.Create(2.12194440e-4f), r);
        // Cephes' degree-5 polynomial by Estrin's scheme (3 operations deep instead of 5).
        var r2 = r * r;
        var p01 = TV.Fma(TV.Create(1.6666665459E-1f), r, TV.Create(5.0000001201E-1f));
        var p23 = TV.Fma(TV.Create(8.3334519073E-3f), r, TV.Create(4.1665795894E-2f));
        var p45 = TV.Fma(TV.Create(1.9875691500E-4f), r, TV.Create(1.3981999507E-3f));
        var poly = TV.Fma(TV.Fma(p45, r2, p23), r2, p01);
        var y = TV.Fma(poly, r2, r) + TV.One;
        return TV.Select(TV.GreaterOrEqual(a, limit), TV.Zero, y * TV.PowerOfTwo(n));
    }

    /// <summary>The quantities of one group of elements that forward and backward share.</summary>
    private struct Terms<TV> where TV : unmanaged
    {
        public TV T, OneMinusT, Ce, P, OneMinusP, M, Mod;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Terms<TV> Compute<TV, TG>(TV x, TV t, in FocalParameters p) where TV : unmanaged, ILanes<TV> where TG : IGammaPower
    {
        var one = TV.One;
        var zero = TV.Zero;
        if (p.LabelSmoothing != 0)
            t = t * TV.Create(1 - p.LabelSmoothing) + TV.Create(p.LabelSmoothing / 2);
        var (e, l) = ExpAndLog1p(TV.Abs(x));
        var inv = one / (one + e);
        var small = e * inv;
        var positive = TV.GreaterOrEqual(x, zero);
        var sigmoid = TV.Select(positive, inv, small);
        var sigmoidNeg = TV.Select(positive, small, inv);
        var softplus = TV.Max(x, zero) + l;      // -log(1 - p)
        var softplusNeg = TV.Max(-x, zero) + l;  // -log p
        var omt = one - t;
        var ce = TV.Select(TV.Equal(t, one), zero, omt * softplus)
               + TV.Select(TV.Equal(t, zero), zero, t * softplusNeg);
        var m = t * sigmoidNeg + omt * sigmoid;
        return new Terms<TV> { T = t, OneMinusT = omt, Ce = ce, P = sigmoid, OneMinusP = sigmoidNeg, M = m, Mod = TG.Power(m, p.Gamma) };
    }

    /// <summary><c>alpha_t = alpha t + (1 - alpha)(1 - t)</c>, for the (smoothed) targets <paramref name="t"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV AlphaT<TV>(TV t, in FocalParameters p) where TV : unmanaged, ILanes<TV> =>
        TV.Create(p.Alpha) * t + TV.Create(1 - p.Alpha) * (TV.One - t);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV LogitsLoss<TV, TG>(TV x, TV t, in FocalParameters p) where TV : unmanaged, ILanes<TV> where TG : IGammaPower
    {
        var s = Compute<TV, TG>(x, t, p);
        var loss = s.Mod * s.Ce;
        return KeepNaN(x, p.HasAlpha ? AlphaT(s.T, p) * loss : loss);
    }

    /// <summary>NaN where the logit is NaN: the float32 polynomials clamp their argument with min/max, which would turn NaN into a number.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static TV KeepNaN<TV>(TV x, TV value) where TV : unmanaged, ILanes<TV> =>
        TV.Select(TV.Equal(x, x), value, x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV LogitsGradient<TV, TG>(TV x, TV t, in FocalParameters p) where TV : unmanaged, ILanes<TV> where TG : IGammaPower
    {
        var s = Compute<TV, TG>(x, t, p);
        var pMinusT = s.OneMinusT * s.P - s.T * s.OneMinusP;
        TV grad;
        if (typeof(TG) == typeof(GammaZero)) grad = pMinusT;
        else
        {
            var ratio = TV.Select(TV.Greater(s.M, TV.Zero), s.P * s.OneMinusP / s.M, TV.Zero);
            var sign = TV.One - s.T - s.T; // 1 - 2t
            grad = s.Mod * (TV.Create(p.Gamma) * sign * s.Ce * ratio + pMinusT);
        }
        return KeepNaN(x, p.HasAlpha ? AlphaT(s.T, p) * grad : grad);
    }

    /// <summary>Flags lanes of <paramref name="v"/> outside [0, 1] (NaN included): !(v >= 0 &amp;&amp; v &lt;= 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV OutsideUnit<TV>(TV v) where TV : unmanaged, ILanes<TV> =>
        ~(TV.GreaterOrEqual(v, TV.Zero) & TV.LessOrEqual(v, TV.One));

    /// <summary>
    /// The seed's probability form, as <see cref="Functional.focal_loss_from_probabilities"/> writes it:
    /// <c>-alpha_t (1 - p_t)^gamma log p_t</c>, <c>p_t = p t + (1 - p)(1 - t)</c>, nothing clamped (p_t = 0 gives +inf).
    /// </summary>
    internal static TV ProbabilitiesLoss<TV, TG>(TV p, TV t, in FocalParameters h) where TV : unmanaged, ILanes<TV> where TG : IGammaPower
    {
        var one = TV.One;
        var pt = p * t + (one - p) * (one - t);
        var loss = -TG.Power(one - pt, h.Gamma) * TV.Log(pt);
        return h.HasAlpha ? AlphaT(t, h) * loss : loss;
    }

    /// <summary>
    /// d/dp of <see cref="ProbabilitiesLoss"/>: <c>alpha_t (t - (1 - t)) (gamma q^(gamma - 1) log p_t - q^gamma / p_t)</c> with
    /// <c>q = 1 - p_t</c>; like torch's <c>pow</c> backward, the first term is 0 for gamma = 0 and NaN where q = 0 and gamma &lt; 1.
    /// </summary>
    internal static TV ProbabilitiesGradient<TV, TG>(TV p, TV t, in FocalParameters h) where TV : unmanaged, ILanes<TV> where TG : IGammaPower
    {
        var one = TV.One;
        var pt = p * t + (one - p) * (one - t);
        var q = one - pt;
        var d = -TG.Power(q, h.Gamma) / pt;
        if (typeof(TG) != typeof(GammaZero)) d += TV.Create(h.Gamma) * TG.PowerBelow(q, h.Gamma) * TV.Log(pt);
        if (h.HasAlpha) d *= AlphaT(t, h);
        // Through p_t = p t + (1 - p)(1 - t) term by term, as autograd does: an infinite d at p_t = 0 meets the
        // zero weight of the other term and gives NaN there, as the composite's gradient is.
        return d * t - d * (one - t);
    }

    // The loops are optimised at first call (a kernel must not spend its first calls in tier-0 code) and never
    // inlined: inlined into its caller's tier-1 code, the JIT's inlining budget runs out before the ILanes members
    // are inlined, and every arithmetic operation becomes a call (measured: 14x slower). A chunk's last, partial
    // register is a method of its own, called after the loop's accumulators are summed: nothing the loop keeps in
    // registers is live across a call, so none of it is spilled to the stack in the loop.
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static bool ForwardChunk<TV, TOp, TG>(void* x, void* t, void* output, int chunk, long n, FocalParameters p, bool checkTargets, out double sum) where TV : unmanaged, ILanes<TV> where TOp : IFocalElement where TG : IGammaPower
    {
        long start = (long)chunk * ChunkElements;
        long end = Math.Min(n, start + ChunkElements);
        int width = TV.Count;
        TV acc0 = TV.Zero, acc1 = TV.Zero;
        var bad = TV.Zero;
        long i = start;
        if (output != null)
            for (; i + width <= end; i += width)
            {
                var xv = TV.Load(x, i);
                var tv = TV.Load(t, i);
                bad |= TOp.Invalid(xv, tv);
                TV.Store(TOp.Loss<TV, TG>(xv, tv, p), output, i);
            }
        else
            for (; i + width <= end; i += width)
            {
                var xv = TV.Load(x, i);
                var tv = TV.Load(t, i);
                bad |= TOp.Invalid(xv, tv);
                (acc0, acc1) = TV.Accumulate(acc0, acc1, TOp.Loss<TV, TG>(xv, tv, p));
            }
        sum = TV.Total(acc0, acc1);
        bool anyBad = TV.Any(bad);
        if (i < end)
        {
            sum += ForwardTail<TV, TOp, TG>(x, t, output, i, (int)(end - i), p, out var tailBad);
            anyBad |= tailBad;
        }
        return checkTargets && anyBad;
    }

    /// <summary>The last <paramref name="count"/> (fewer than a register's) elements of a chunk: their loss sum, or their losses stored.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static double ForwardTail<TV, TOp, TG>(void* x, void* t, void* output, long i, int count, FocalParameters p, out bool bad) where TV : unmanaged, ILanes<TV> where TOp : IFocalElement where TG : IGammaPower
    {
        var xv = LoadTail<TV>(x, i, count);
        var tv = LoadTail<TV>(t, i, count);
        // Only the real elements are checked and summed (the padding's loss is finite but not zero).
        var keep = TV.Less(TV.Indices, TV.Create(count));
        bad = TV.Any(keep & TOp.Invalid(xv, tv));
        var loss = TOp.Loss<TV, TG>(xv, tv, p);
        if (output != null)
        {
            StoreTail(loss, output, i, count);
            return 0;
        }
        var (acc0, acc1) = TV.Accumulate(TV.Zero, TV.Zero, TV.Select(keep, loss, TV.Zero));
        return TV.Total(acc0, acc1);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void BackwardChunk<TV, TOp, TG>(void* x, void* t, void* gradOutput, void* grad, int chunk, long n, FocalParameters p, double scale) where TV : unmanaged, ILanes<TV> where TOp : IFocalElement where TG : IGammaPower
    {
        long start = (long)chunk * ChunkElements;
        long end = Math.Min(n, start + ChunkElements);
        int width = TV.Count;
        long i = start;
        if (gradOutput != null)
            for (; i + width <= end; i += width)
                TV.Store(TOp.Gradient<TV, TG>(TV.Load(x, i), TV.Load(t, i), p) * TV.Load(gradOutput, i), grad, i);
        else
        {
            var factor = TV.Create(scale);
            for (; i + width <= end; i += width)
                TV.Store(TOp.Gradient<TV, TG>(TV.Load(x, i), TV.Load(t, i), p) * factor, grad, i);
        }
        if (i < end) BackwardTail<TV, TOp, TG>(x, t, gradOutput, grad, i, (int)(end - i), p, scale);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization | MethodImplOptions.NoInlining)]
    private static void BackwardTail<TV, TOp, TG>(void* x, void* t, void* gradOutput, void* grad, long i, int count, FocalParameters p, double scale) where TV : unmanaged, ILanes<TV> where TOp : IFocalElement where TG : IGammaPower
    {
        var g = TOp.Gradient<TV, TG>(LoadTail<TV>(x, i, count), LoadTail<TV>(t, i, count), p);
        StoreTail(g * (gradOutput != null ? LoadTail<TV>(gradOutput, i, count) : TV.Create(scale)), grad, i, count);
    }
}

/// <summary>One element-wise form of the binary focal family for the fused kernel's loops (specialised per struct).</summary>
internal interface IFocalElement
{
    /// <summary>Lanes whose input or target is outside the form's domain (all bits set), for the value guards.</summary>
    static abstract TV Invalid<TV>(TV x, TV t) where TV : unmanaged, ILanes<TV>;
    static abstract TV Loss<TV, TG>(TV x, TV t, in FocalParameters p) where TV : unmanaged, ILanes<TV> where TG : IGammaPower;
    static abstract TV Gradient<TV, TG>(TV x, TV t, in FocalParameters p) where TV : unmanaged, ILanes<TV> where TG : IGammaPower;
}

/// <summary><see cref="Functional.sigmoid_focal_loss"/>: logits in, targets flagged outside [0, 1].</summary>
internal readonly struct OnLogits : IFocalElement
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invalid<TV>(TV x, TV t) where TV : unmanaged, ILanes<TV> => FusedSigmoidFocal.OutsideUnit(t);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Loss<TV, TG>(TV x, TV t, in FocalParameters p) where TV : unmanaged, ILanes<TV> where TG : IGammaPower =>
        FusedSigmoidFocal.LogitsLoss<TV, TG>(x, t, p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Gradient<TV, TG>(TV x, TV t, in FocalParameters p) where TV : unmanaged, ILanes<TV> where TG : IGammaPower =>
        FusedSigmoidFocal.LogitsGradient<TV, TG>(x, t, p);
}

/// <summary><see cref="Functional.focal_loss_from_probabilities"/>: probabilities in, both inputs flagged outside [0, 1].</summary>
internal readonly struct OnProbabilities : IFocalElement
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Invalid<TV>(TV x, TV t) where TV : unmanaged, ILanes<TV> =>
        FusedSigmoidFocal.OutsideUnit(t) | FusedSigmoidFocal.OutsideUnit(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Loss<TV, TG>(TV x, TV t, in FocalParameters p) where TV : unmanaged, ILanes<TV> where TG : IGammaPower =>
        FusedSigmoidFocal.ProbabilitiesLoss<TV, TG>(x, t, p);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Gradient<TV, TG>(TV x, TV t, in FocalParameters p) where TV : unmanaged, ILanes<TV> where TG : IGammaPower =>
        FusedSigmoidFocal.ProbabilitiesGradient<TV, TG>(x, t, p);
}

/// <summary>
/// <c>q^gamma</c> (<see cref="Power"/>) and <c>q^(gamma - 1)</c> (<see cref="PowerBelow"/>, the derivative's power) for one
/// case of gamma, a type so that the kernel's loops are compiled per case: 1 for gamma 0 (also at q = 0, as torch's
/// <c>pow</c>), products for gamma 1, 2 and 3, else <c>exp(gamma log q)</c> (0 at q = 0 for gamma &gt; 0).
/// </summary>
internal interface IGammaPower
{
    static abstract TV Power<TV>(TV q, double gamma) where TV : unmanaged, ILanes<TV>;
    static abstract TV PowerBelow<TV>(TV q, double gamma) where TV : unmanaged, ILanes<TV>;
}

internal readonly struct GammaZero : IGammaPower
{
    public static TV Power<TV>(TV q, double gamma) where TV : unmanaged, ILanes<TV> => TV.One;
    public static TV PowerBelow<TV>(TV q, double gamma) where TV : unmanaged, ILanes<TV> => TV.Zero; // multiplied by gamma = 0: never used
}

internal readonly struct GammaOne : IGammaPower
{
    public static TV Power<TV>(TV q, double gamma) where TV : unmanaged, ILanes<TV> => q;
    public static TV PowerBelow<TV>(TV q, double gamma) where TV : unmanaged, ILanes<TV> => TV.One;
}

internal readonly struct GammaTwo : IGammaPower
{
    public static TV Power<TV>(TV q, double gamma) where TV : unmanaged, ILanes<TV> => q * q;
    public static TV PowerBelow<TV>(TV q, double gamma) where TV : unmanaged, ILanes<TV> => q;
}

internal readonly struct GammaThree : IGammaPower
{
    public static TV Power<TV>(TV q, double gamma) where TV : unmanaged, ILanes<TV> => q * q * q;
    public static TV PowerBelow<TV>(TV q, double gamma) where TV : unmanaged, ILanes<TV> => q * q;
}

internal readonly struct GammaReal : IGammaPower
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV Power<TV>(TV q, double gamma) where TV : unmanaged, ILanes<TV> => TV.Exp(TV.Create(gamma) * TV.Log(q));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static TV PowerBelow<TV>(TV q, double gamma) where TV : unmanaged, ILanes<TV> => TV.Exp(TV.Create(gamma - 1) * TV.Log(q));
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
