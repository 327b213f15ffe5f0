using System.Numerics;
using TorchSharp;
using static TorchSharp.torch;

namespace FocalLoss.Training;

/// <summary>What the trainer asks of an optimiser: clear the gradients, take a step.</summary>
internal interface IStepper : IDisposable
{
    void ZeroGrad();
    void Step();
}

/// <summary>TorchSharp's own optimiser (any device, any size).</summary>
internal sealed class TorchStepper(optim.Optimizer optimizer) : IStepper
{
    public void ZeroGrad() => optimizer.zero_grad();
    public void Step() => optimizer.step();
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
    private long step;

    private FusedOptimizer(TorchSharp.Modules.Parameter[] parameters, TrainerConfig config)
    {
        this.parameters = parameters;
        kind = config.Optimizer;
        lr = config.LearningRate;
        momentum = config.Momentum ?? Trainer.DefaultMomentum;
        weightDecay = config.WeightDecay;
        first = new double[]?[parameters.Length];
        second = new double[]?[parameters.Length];
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
        return total <= MaxElements && config.Optimizer is OptimizerKind.Sgd or OptimizerKind.Adam ? new FusedOptimizer(parameters, config) : null;
    }

    /// <summary>Sets every gradient to none: the next backward writes a fresh one (no zeroing pass, no accumulation).</summary>
    public void ZeroGrad()
    {
        foreach (var p in parameters) p.grad = null;
    }

    public void Step()
    {
        step++;
        for (var k = 0; k < parameters.Length; k++)
        {
            using var grad = parameters[k].grad;
            if (grad is null) continue;
            if (!grad.is_contiguous() || grad.dtype != parameters[k].dtype)
                throw new InvalidOperationException($"parameter {k}'s gradient is not a contiguous {parameters[k].dtype} tensor");
            var n = checked((int)parameters[k].numel());
            if (parameters[k].dtype == ScalarType.Float32)
                Update(new Span<float>(TensorMemory.Data(parameters[k]), n), new ReadOnlySpan<float>(TensorMemory.Data(grad), n), k);
            else
                Update(new Span<double>(TensorMemory.Data(parameters[k]), n), new ReadOnlySpan<double>(TensorMemory.Data(grad), n), k);
        }
    }

    private void Update<T>(Span<T> p, ReadOnlySpan<T> g, int k) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var wd = T.CreateChecked(weightDecay);
        // State kept in float64 holds the parameters' precision exactly (float32 values widen without rounding),
        // and every operation below rounds to T, as TorchSharp's tensor operations do.
        if (kind == OptimizerKind.Sgd)
        {
            var mom = T.CreateChecked(momentum);
            var step_ = T.CreateChecked(-lr);
            var buffer = first[k];
            var fresh = buffer is null;
            buffer ??= first[k] = new double[p.Length];
            for (var i = 0; i < p.Length; i++)
            {
                var gi = weightDecay != 0 ? g[i] + wd * p[i] : g[i];
                if (momentum != 0)
                {
                    gi = fresh ? gi : T.CreateChecked(buffer[i]) * mom + gi;   // buf = grad.clone(), then buf * momentum + grad
                    buffer[i] = double.CreateChecked(gi);
                }
                p[i] += step_ * gi;
            }
            return;
        }
        const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
        var m = first[k] ??= new double[p.Length];
        var v = second[k] ??= new double[p.Length];
        var b1 = T.CreateChecked(beta1);
        var b2 = T.CreateChecked(beta2);
        var c1 = T.CreateChecked(1 - beta1);
        var c2 = T.CreateChecked(1 - beta2);
        var rootCorrection2 = T.CreateChecked(Math.Sqrt(1 - Math.Pow(beta2, step)));
        var stepSize = T.CreateChecked(-(lr / (1 - Math.Pow(beta1, step))));
        var epsilon = T.CreateChecked(eps);
        for (var i = 0; i < p.Length; i++)
        {
            var gi = weightDecay != 0 ? g[i] + wd * p[i] : g[i];
            var mi = T.CreateChecked(m[i]) * b1 + c1 * gi;
            var vi = T.CreateChecked(v[i]) * b2 + c2 * gi * gi;
            m[i] = double.CreateChecked(mi);
            v[i] = double.CreateChecked(vi);
            p[i] += stepSize * (mi / (T.Sqrt(vi) / rootCorrection2 + epsilon));
        }
    }

    public void Dispose()
    {
    }
}
