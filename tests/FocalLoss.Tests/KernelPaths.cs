using Xunit;

namespace FocalLoss.Tests;

/// <summary>
/// Runs a test class on one implementation of <see cref="Functional.sigmoid_focal_loss"/>: a class deriving from
/// it runs every inherited test with <see cref="Functional.UseKernel"/> in force (the constructor opens the scope,
/// Dispose closes it). The golden, property and guard classes each have a Composite and a Fused subclass, so every
/// check runs on both paths; Fused is forced, so a check whose tensors the kernel cannot serve fails loudly
/// instead of quietly testing the composite twice.
/// </summary>
public abstract class OnKernel : IDisposable
{
    private readonly IDisposable scope;

    protected OnKernel(FocalKernel kernel) => scope = Functional.UseKernel(kernel);

    public void Dispose()
    {
        scope.Dispose();
        GC.SuppressFinalize(this);
    }
}

public abstract class KernelScopeProbe(FocalKernel kernel) : OnKernel(kernel)
{
    [Fact]
    public void the_kernel_of_the_class_is_in_force_in_its_tests() => Assert.Equal(Expected, Functional.CurrentKernel);

    protected abstract FocalKernel Expected { get; }
}

public sealed class KernelScopeProbeComposite() : KernelScopeProbe(FocalKernel.Composite)
{
    protected override FocalKernel Expected => FocalKernel.Composite;
}

public sealed class KernelScopeProbeFused() : KernelScopeProbe(FocalKernel.Fused)
{
    protected override FocalKernel Expected => FocalKernel.Fused;
}
