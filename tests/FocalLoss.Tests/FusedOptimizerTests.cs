using FocalLoss.Training;
using TorchSharp;
using Xunit;
using static TorchSharp.torch;

namespace FocalLoss.Tests;

/// <summary>
/// The trainer's fused CPU optimiser against TorchSharp's optim.SGD and optim.Adam, the reference it replaces for
/// small models: the same parameters, the same gradients, step by step.
/// </summary>
public class FusedOptimizerTests
{
    public static TheoryData<OptimizerKind, double?, double, ScalarType> Settings()
    {
        var data = new TheoryData<OptimizerKind, double?, double, ScalarType>();
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64 })
        {
            data.Add(OptimizerKind.Sgd, 0.9, 0.0, dtype);
            data.Add(OptimizerKind.Sgd, 0.0, 0.01, dtype);
            data.Add(OptimizerKind.Sgd, 0.5, 0.01, dtype);
            data.Add(OptimizerKind.Adam, null, 0.0, dtype);
            data.Add(OptimizerKind.Adam, null, 0.01, dtype);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(Settings))]
    public void forty_steps_follow_torchsharps_optimiser_to_rounding_also_when_a_parameter_misses_its_gradient(OptimizerKind kind, double? momentum, double weightDecay, ScalarType dtype)
    {
        TorchRuntime.EnsureLoaded();
        var config = new TrainerConfig { Optimizer = kind, LearningRate = 0.05, Momentum = momentum, WeightDecay = weightDecay };
        var generator = new Generator();
        generator.manual_seed(3);
        using var start = randn(new long[] { 5, 3 }, dtype: dtype, generator: generator);
        using var startBias = randn(5, dtype: dtype, generator: generator);
        var ours = new[] { new TorchSharp.Modules.Parameter(start.clone()), new TorchSharp.Modules.Parameter(startBias.clone()) };
        var theirs = new[] { new TorchSharp.Modules.Parameter(start.clone()), new TorchSharp.Modules.Parameter(startBias.clone()) };
        using var fused = FusedOptimizer.TryCreate(ours, config);
        Assert.NotNull(fused);
        using optim.Optimizer reference = kind == OptimizerKind.Adam
            ? optim.Adam(theirs, 0.05, weight_decay: weightDecay)
            : optim.SGD(theirs, 0.05, momentum ?? Trainer.DefaultMomentum, weight_decay: weightDecay);
        // Rounding differs in a few places (e.g. torch's a + alpha * b may be one FMA), and 40 steps compound it.
        var tolerance = dtype == ScalarType.Float32 ? 2e-5 : 1e-12;
        for (var step = 1; step <= 40; step++)
        {
            using var scope = NewDisposeScope();
            var grads = new[] { randn(new long[] { 5, 3 }, dtype: dtype, generator: generator), randn(5, dtype: dtype, generator: generator) };
            fused!.ZeroGrad();
            reference.zero_grad();
            for (var k = 0; k < 2; k++)
            {
                // Parameter 1 gets no gradient every third step (a layer a batch does not use): TorchSharp's
                // zero_grad leaves it a zero gradient and steps it with momentum, decay and Adam's moments.
                if (k == 1 && step % 3 == 0) continue;
                // A gradient that depends on the parameter, as real ones do: g + p^2, through autograd on each side.
                (ours[k] * ours[k] + grads[k]).sum().backward();
                (theirs[k] * theirs[k] + grads[k]).sum().backward();
            }
            fused.Step();
            reference.step();
            for (var k = 0; k < 2; k++)
            {
                var a = Eval.ToArray(ours[k].detach());
                var b = Eval.ToArray(theirs[k].detach());
                for (var i = 0; i < a.Length; i++)
                    Assert.True(Math.Abs(a[i] - b[i]) <= tolerance * (1 + Math.Abs(b[i])),
                        $"{kind}, momentum {momentum}, weight decay {weightDecay}, {dtype}: step {step}, parameter {k}[{i}]: fused {a[i]:R}, TorchSharp {b[i]:R}");
            }
        }
    }

    [Fact]
    public void it_takes_only_small_contiguous_float_cpu_models()
    {
        TorchRuntime.EnsureLoaded();
        var config = new TrainerConfig { Optimizer = OptimizerKind.Adam, LearningRate = 0.01 };
        using var small = new TorchSharp.Modules.Parameter(zeros(4, 4));
        using var large = new TorchSharp.Modules.Parameter(zeros(FusedOptimizer.MaxElements + 1));
        using var strided = new TorchSharp.Modules.Parameter(zeros(4, 4).t());
        using var integral = zeros(4, dtype: ScalarType.Float16);
        Assert.NotNull(FusedOptimizer.TryCreate([small], config));
        Assert.Null(FusedOptimizer.TryCreate([small, large], config));
        Assert.Null(FusedOptimizer.TryCreate([strided], config));
        Assert.Null(FusedOptimizer.TryCreate([new TorchSharp.Modules.Parameter(integral)], config));
    }
}
