// BenchmarkDotNet micro-benchmarks of the fused sigmoid focal loss kernel against the composite of libtorch operations
// (the baseline, so BenchmarkDotNet's Ratio column is fused / composite), forward+backward, float32, 1 intra-op
// thread, N = 16 (a seed-experiment batch), 1e4 and 1e6; the fused kernel at this CPU's register width
// (Functional.FusedVectorBits: 512 with AVX-512) and in 256-bit registers. In-process toolchain: the bench's own build is measured.
// Usage: dotnet run -c Release --project bench/FocalLoss.Bench -- kernel   (bench/run.sh writes bench/results/kernel-bdn.md)
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using FocalLoss;
using TorchSharp;
using static TorchSharp.torch;

[Config(typeof(Config))]
public class KernelBenchmarks
{
    private sealed class Config : ManualConfig
    {
        public Config()
        {
            AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance));
            ArtifactsPath = Path.Combine(Path.GetTempPath(), "focal-workbench-bdn");
        }
    }

    private Tensor x = null!;
    private Tensor t = null!;

    [Params(16, 10_000, 1_000_000)]
    public int N { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        TorchRuntime.EnsureLoaded();
        set_num_threads(1);
        manual_seed(1);
        x = (randn(N) * 4).requires_grad_(true);
        t = (rand(N) < 0.3).to_type(ScalarType.Float32);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        x.Dispose();
        t.Dispose();
    }

    private float Step(FocalKernel kernel)
    {
        using var _ = Functional.UseKernel(kernel);
        using var scope = NewDisposeScope();
        x.grad = null;
        var loss = Functional.sigmoid_focal_loss(x, t);
        loss.backward();
        return loss.item<float>();
    }

    [Benchmark(Baseline = true, Description = "composite fwd+bwd")]
    public float Composite() => Step(FocalKernel.Composite);

    [Benchmark(Description = "fused fwd+bwd")]
    public float Fused() => Step(FocalKernel.Fused);

    /// <summary>The fused kernel in 256-bit registers (AVX2), as on a CPU without AVX-512.</summary>
    [Benchmark(Description = "fused fwd+bwd, 256-bit")]
    public float Fused256()
    {
        using var _ = Functional.UseFusedVectorBits(256);
        return Step(FocalKernel.Fused);
    }

    public static int Run()
    {
        var summary = BenchmarkRunner.Run<KernelBenchmarks>();
        return summary.HasCriticalValidationErrors || summary.Reports.Any(r => !r.Success) ? 1 : 0;
    }
}
