using System.Numerics;
using TorchSharp;
using static TorchSharp.torch;

namespace FocalLoss.Training;

/// <summary>What the trainer asks of an optimiser: clear the gradients, take a step.</summary>
internal interface IStepper : IDisposable
{
    void ZeroGrad();

    /// <summary>Takes the step; false when it was refused because it would make a weight non-finite (then nothing changed).</summary>
    bool Step();
}

/// <summary>
/// TorchSharp's own optimiser (any device, any size), guarded as the fused one is: the parameters are copied before
/// the step and put back when the step made one of them non-finite (then <see cref="Step"/> returns false). The copy
/// costs one clone per parameter and step; the check reads CPU parameters in place and reduces device ones with
/// one host synchronisation for all of them.
/// </summary>
internal sealed class TorchStepper(optim.Optimizer optimizer, TorchSharp.Modules.Parameter[] parameters) : IStepper
{
    public void ZeroGrad() => optimizer.zero_grad();

    public bool Step()
    {
        using var scope = NewDisposeScope();
        Tensor[] before;
        using (no_grad())
            before = parameters.Select(p => p.detach().clone()).ToArray();
        optimizer.step();
        if (Trainer.AllFinite(parameters)) return true;
        using (no_grad())
            for (var k = 0; k < parameters.Length; k++)
                parameters[k].copy_(before[k]);
        return false;
    }

    public void Dispose() => optimizer.Dispose();
}

/// <summary>
/// Momentum SGD and Adam for small models on the CPU, updated in place in one pass over each parameter's memory:
/// the same update as TorchSharp's <c>optim.SGD</c> (dampening 0, no Nesterov) and <c>optim.Adam</c> (PyTorch's
/// betas 0.9 and 0.999, eps 1e-8, L2 weight decay added to the gradient), element by element in the parameters'
/// precision, without TorchSharp's 8 to 10 libtorch operations per parameter and step, which dominate a step of a
/// model this small. Results agree with TorchSharp's to rounding (the order of a few roundings differs; tested).
/// </summary>
/// <remarks>
/// Used by <see cref="Trainer"/> when every parameter is a contiguous float32 or float64 CPU tensor and the model
/// has at most <see cref="MaxElements"/> of them (above that, arithmetic outweighs per-operation overhead and
/// libtorch's vectorised kernels win). The parameters' memory is written directly, outside autograd: nothing may
/// hold a graph over them between steps (the trainer's backward frees its graph).
/// </remarks>
internal sealed unsafe class FusedOptimizer : IStepper
{
    /// <summary>Largest model (total parameter elements) the fused update takes.</summary>
    public const long MaxElements = 1 << 16;

    private readonly TorchSharp.Modules.Parameter[] parameters;
    private readonly OptimizerKind kind;
    private readonly double lr, momentum, weightDecay;
    private readonly double[]?[] first;   // SGD: momentum buffer (null before the first step); Adam: exp_avg
    private readonly double[]?[] second;  // Adam: exp_avg_sq
    private readonly long[] steps;         // Adam: a parameter's own step count (from its first gradient on)
    private readonly bool[] seen;          // the parameter has had a gradient: from then on a missing one counts as zeros
    private readonly double[]?[] proposed; // the step's new weights, committed only when all are finite

    private FusedOptimizer(TorchSharp.Modules.Parameter[] parameters, TrainerConfig config)
    {
        this.parameters = parameters;
        kind = config.Optimizer;
        lr = config.LearningRate;
        momentum = config.Momentum ?? Trainer.DefaultMomentum;
        weightDecay = config.WeightDecay;
        first = new double[]?[parameters.Length];
        second = new double[]?[parameters.Length];
        steps = new long[parameters.Length];
        seen = new bool[parameters.Length];
        proposed = new double[]?[parameters.Length];
    }

    /// <summary>The fused optimiser for these parameters, or null where it does not apply (then use TorchSharp's).</summary>
    public static FusedOptimizer? TryCreate(TorchSharp.Modules.Parameter[] parameters, TrainerConfig config)
    {
        long total = 0;
        foreach (var p in parameters)
        {
            if (p.device_type != DeviceType.CPU || !p.is_contiguous() || p.dtype is not (ScalarType.Float32 or ScalarType.Float64)) return null;
            total += p.numel();
        }
        if (total > MaxElements || config.Optimizer is not (OptimizerKind.Sgd or OptimizerKind.Adam)) return null;
        return new FusedOptimizer(parameters, config);
    }

    /// <summary>Sets every gradient to none: the next backward writes a fresh one (no zeroing pass, no accumulation).
    /// A parameter that then gets no gradient is stepped as TorchSharp steps it after <c>zero_grad</c>: with zeros.</summary>
    public void ZeroGrad()
    {
        foreach (var p in parameters) p.grad = null;
    }

    /// <summary>
    /// Computes every parameter's new weights, then writes them only if all are finite (else returns false and
    /// leaves weights and optimiser state as they were). A parameter that has never had a gradient is skipped, as
    /// TorchSharp skips it; one that had a gradient before and has none now takes a zero gradient, as it does in
    /// TorchSharp, whose <c>zero_grad</c> zeros gradients rather than dropping them.
    /// </summary>
    public bool Step()
    {
        var grads = new Tensor?[parameters.Length];
        try
        {
            var finite = true;
            for (var k = 0; k < parameters.Length; k++)
            {
                var grad = grads[k] = parameters[k].grad;
                if (grad is null && !seen[k]) continue;
                if (grad is not null && grad.is_sparse)
                {
                    grads[k] = grad.to_dense();
                    grad.Dispose();
                    grad = grads[k];
                }
                if (grad is not null && (!grad.is_contiguous() || grad.dtype != parameters[k].dtype))
                    throw new InvalidOperationException($"parameter {k}'s gradient is not a contiguous {parameters[k].dtype} tensor");
                var n = checked((int)parameters[k].numel());
                finite &= parameters[k].dtype == ScalarType.Float32
                    ? Propose(new ReadOnlySpan<float>(TensorMemory.Data(parameters[k]), n), grad is null ? default : new ReadOnlySpan<float>(TensorMemory.Data(grad), n), grad is null, k)
                    : Propose(new ReadOnlySpan<double>(TensorMemory.Data(parameters[k]), n), grad is null ? default : new ReadOnlySpan<double>(TensorMemory.Data(grad), n), grad is null, k);
            }
            if (!finite) return false;
            for (var k = 0; k < parameters.Length; k++)
            {
                if (grads[k] is null && !seen[k]) continue;
                Commit(k);
            }
            return true;
        }
        finally
        {
            foreach (var g in grads) g?.Dispose();
        }
    }

    // The state a proposal computes, committed with the weights.
    private double[]?[] nextFirst = [];
    private double[]?[] nextSecond = [];

    private bool Propose<T>(ReadOnlySpan<T> p, ReadOnlySpan<T> g, bool zeroGradient, int k) where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (nextFirst.Length != parameters.Length)
        {
            nextFirst = new double[]?[parameters.Length];
            nextSecond = new double[]?[parameters.Length];
        }
        var n = p.Length;
        var next = proposed[k] ??= new double[n];
        var f = nextFirst[k] ??= new double[n];
        var wd = T.CreateChecked(weightDecay);
        var allFinite = true;
        // State kept in float64 holds the parameters' precision exactly (float32 values widen without rounding),
        // and every operation below rounds to T, as TorchSharp's tensor operations do.
        if (kind == OptimizerKind.Sgd)
        {
            var mom = T.CreateChecked(momentum);
            var step_ = T.CreateChecked(-lr);
            var buffer = first[k];
            for (var i = 0; i < n; i++)
            {
                var gi = zeroGradient ? T.Zero : g[i];
                if (weightDecay != 0) gi += wd * p[i];
                if (momentum != 0)
                {
                    gi = buffer is null ? gi : T.CreateChecked(buffer[i]) * mom + gi;   // buf = grad.clone(), then buf * momentum + grad
                    f[i] = double.CreateChecked(gi);
                }
                var w = p[i] + step_ * gi;
                allFinite &= T.IsFinite(w);
                next[i] = double.CreateChecked(w);
            }
            return allFinite;
        }
        const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
        var m = first[k];
        var v = second[k];
        var sNext = nextSecond[k] ??= new double[n];
        var t = steps[k] + 1;
        var b1 = T.CreateChecked(beta1);
        var b2 = T.CreateChecked(beta2);
        var c1 = T.CreateChecked(1 - beta1);
        var c2 = T.CreateChecked(1 - beta2);
        var rootCorrection2 = T.CreateChecked(Math.Sqrt(1 - Math.Pow(beta2, t)));
        var stepSize = T.CreateChecked(-(lr / (1 - Math.Pow(beta1, t))));
        var epsilon = T.CreateChecked(eps);
        for (var i = 0; i < n; i++)
        {
            var gi = zeroGradient ? T.Zero : g[i];
            if (weightDecay != 0) gi += wd * p[i];
            var mi = (m is null ? T.Zero : T.CreateChecked(m[i])) * b1 + c1 * gi;
            var vi = (v is null ? T.Zero : T.CreateChecked(v[i])) * b2 + c2 * gi * gi;
            f[i] = double.CreateChecked(mi);
            sNext[i] = double.CreateChecked(vi);
            var w = p[i] + stepSize * (mi / (T.Sqrt(vi) / rootCorrection2 + epsilon));
            allFinite &= T.IsFinite(w);
            next[i] = double.CreateChecked(w);
        }
        return allFinite;
    }

    private void Commit(int k)
    {
        var n = checked((int)parameters[k].numel());
        var next = proposed[k]!;
        if (parameters[k].dtype == ScalarType.Float32)
        {
            var p = new Span<float>(TensorMemory.Data(parameters[k]), n);
            for (var i = 0; i < n; i++) p[i] = (float)next[i];
        }
        else next.AsSpan().CopyTo(new Span<double>(TensorMemory.Data(parameters[k]), n));
        // The new state becomes the state; the old arrays are reused for the next proposal.
        if (kind == OptimizerKind.Adam || momentum != 0)
            (first[k], nextFirst[k]) = (nextFirst[k], first[k]);
        if (kind == OptimizerKind.Adam)
        {
            (second[k], nextSecond[k]) = (nextSecond[k], second[k]);
            steps[k]++;
        }
        seen[k] = true;
    }

    public void Dispose()
    {
    }
}
