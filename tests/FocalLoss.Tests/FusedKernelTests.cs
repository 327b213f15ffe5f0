using Xunit;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace FocalLoss.Tests;

/// <summary>
/// What is particular to the fused kernel of <see cref="Functional.sigmoid_focal_loss"/> (the golden, property and
/// guard classes run on both paths through their *Composite and *Fused subclasses): its error bound against the
/// float64 closed form computed here, sums that do not depend on the thread count, the choice of path, and double
/// backward.
/// </summary>
public class FusedKernelTests
{
    /// <summary>The float64 closed form, written out here: loss and dL/dx (README, "The fused kernel").</summary>
    private static (double Loss, double Grad, double Scale) ClosedForm(double x, double t, double alpha, double gamma)
    {
        var p = Eval.Sigmoid(x);
        var ce = (t == 1 ? 0 : (1 - t) * Eval.Softplus(x)) + (t == 0 ? 0 : t * Eval.Softplus(-x));
        var m = t * Eval.Sigmoid(-x) + (1 - t) * p;
        var at = alpha * t + (1 - alpha) * (1 - t);
        var mod = Math.Pow(m, gamma);
        var dm = p * (1 - p) * (1 - 2 * t);
        var grad = at * ((gamma == 0 ? 0 : gamma * Math.Pow(m, gamma - 1) * dm * ce) + mod * (p - t));
        return (at * mod * ce, grad, at * mod);
    }

    private static (double[] Loss, double[] Grad) Fused(float[] xs, float target, double alpha, double gamma)
    {
        using var _ = Functional.UseKernel(FocalKernel.Fused);
        using var scope = NewDisposeScope();
        var x = tensor(xs).requires_grad_(true);
        var t = full(xs.Length, target, dtype: ScalarType.Float32);
        var loss = Functional.sigmoid_focal_loss(x, t, alpha, gamma, reduction: Reduction.None);
        loss.sum().backward();
        return (Eval.ToArray(loss.detach()), Eval.ToArray(x.grad!));
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    [InlineData(1.0)]
    [InlineData(2.0)]
    [InlineData(3.7)]
    public void float32_stays_within_the_documented_bound_of_the_float64_closed_form(double gamma)
    {
        // Logits -100..100 in steps of 0.05, hard and soft targets. Bound: loss relative error <= 1e-5; gradient error
        // <= 1e-6 (|g| + alpha_t (1 - p_t)^gamma), the scale of its terms before they cancel where p ~ t. Values
        // below float32's normal range (2^-126) are left out: the kernel flushes them towards 0.
        var xs = Enumerable.Range(-2000, 4001).Select(i => (float)(i / 20.0)).ToArray();
        foreach (var target in new[] { 0f, 1f, 0.3f, 0.9f })
        {
            var (loss, grad) = Fused(xs, target, 0.25, gamma);
            for (var i = 0; i < xs.Length; i++)
            {
                var (l, g, scale) = ClosedForm(xs[i], target, 0.25, gamma);
                Assert.True(double.IsFinite(loss[i]) && double.IsFinite(grad[i]), $"x {xs[i]}, t {target}: loss {loss[i]}, grad {grad[i]}");
                if (Math.Abs(l) >= 1.2e-38)
                    Assert.True(Math.Abs(loss[i] - l) <= 1e-5 * Math.Abs(l), $"x {xs[i]}, t {target}, gamma {gamma}: loss {loss[i]:R}, closed form {l:R}");
                if (Math.Abs(g) >= 1.2e-38)
                    Assert.True(Math.Abs(grad[i] - g) <= 1e-6 * (Math.Abs(g) + scale), $"x {xs[i]}, t {target}, gamma {gamma}: grad {grad[i]:R}, closed form {g:R}");
            }
        }
    }

    [Fact]
    public void float64_matches_the_closed_form_to_1e_12()
    {
        using var _ = Functional.UseKernel(FocalKernel.Fused);
        var xs = Enumerable.Range(-2000, 4001).Select(i => i / 20.0).ToArray();
        foreach (var target in new[] { 0.0, 1.0, 0.3 })
            foreach (var gamma in new[] { 0.0, 0.5, 2.0, 3.7 })
            {
                var (loss, grad) = Eval.WithGrad((x, t) => Functional.sigmoid_focal_loss(x, t, 0.25, gamma, reduction: Reduction.None), xs, xs.Select(_ => target).ToArray());
                for (var i = 0; i < xs.Length; i++)
                {
                    var (l, g, scale) = ClosedForm(xs[i], target, 0.25, gamma);
                    Assert.True(Math.Abs(loss[i] - l) <= 1e-12 * Math.Abs(l) + 1e-300, $"x {xs[i]}, t {target}, gamma {gamma}: loss {loss[i]:R}, closed form {l:R}");
                    Assert.True(Math.Abs(grad[i] - g) <= 1e-12 * (Math.Abs(g) + scale) + 1e-300, $"x {xs[i]}, t {target}, gamma {gamma}: grad {grad[i]:R}, closed form {g:R}");
                }
            }
    }

    [Fact]
    public void sums_and_gradients_are_bit_identical_for_1_2_and_3_threads()
    {
        // 41 chunks and a ragged tail, float64 so that the sum's last bits reach the output.
        var n = 41 * 16384 + 7;
        using var _ = Functional.UseKernel(FocalKernel.Fused);
        var generator = new Generator();
        generator.manual_seed(5);
        using var x = randn(n, dtype: ScalarType.Float64, generator: generator) * 5;
        using var t = rand(n, dtype: ScalarType.Float64, generator: generator);
        var before = get_num_threads();
        try
        {
            var results = new List<(double Sum, double Mean, double[] Grad)>();
            foreach (var threads in new[] { 1, 2, 3 })
            {
                set_num_threads(threads);
                using var scope = NewDisposeScope();
                var xi = x.detach().requires_grad_(true);
                var sum = Functional.sigmoid_focal_loss(xi, t, 0.25, 2.0, reduction: Reduction.Sum);
                var mean = Functional.sigmoid_focal_loss(xi, t, 0.25, 2.0, reduction: Reduction.Mean);
                mean.backward();
                results.Add((sum.item<double>(), mean.item<double>(), Eval.ToArray(xi.grad!)));
            }
            foreach (var r in results.Skip(1))
            {
                Assert.Equal(BitConverter.DoubleToInt64Bits(results[0].Sum), BitConverter.DoubleToInt64Bits(r.Sum));
                Assert.Equal(BitConverter.DoubleToInt64Bits(results[0].Mean), BitConverter.DoubleToInt64Bits(r.Mean));
                Assert.Equal(results[0].Grad, r.Grad);
            }
        }
        finally
        {
            set_num_threads(before);
        }
    }

    [Fact]
    public void auto_takes_the_fused_path_only_where_it_applies_and_forcing_it_elsewhere_names_the_reason()
    {
        using var x = randn(8, 6);
        using var t = rand(8, 6).gt(0.5).to_type(ScalarType.Float32);
        using (Functional.UseKernel(FocalKernel.Auto))
        {
            Assert.Equal(FocalKernel.Fused, Functional.SigmoidFocalPath(x, t));
            Assert.Equal(FocalKernel.Fused, Functional.SigmoidFocalPath(x.to_type(ScalarType.Float64), t.to_type(ScalarType.Float64)));
            Assert.Equal(FocalKernel.Composite, Functional.SigmoidFocalPath(x.t(), t.t()));                                   // not contiguous
            Assert.Equal(FocalKernel.Composite, Functional.SigmoidFocalPath(x.to_type(ScalarType.BFloat16), t.to_type(ScalarType.BFloat16)));
            Assert.Equal(FocalKernel.Composite, Functional.SigmoidFocalPath(x, t.clone().requires_grad_(true)));               // a gradient for the targets
            // The composite fallback computes the same function.
            var strided = Functional.sigmoid_focal_loss(x.t(), t.t(), reduction: Reduction.None).t();
            var fused = Functional.sigmoid_focal_loss(x, t, reduction: Reduction.None);
            Assert.True(allclose(strided, fused, rtol: 1e-6, atol: 1e-7));
        }
        using (Functional.UseKernel(FocalKernel.Composite))
            Assert.Equal(FocalKernel.Composite, Functional.SigmoidFocalPath(x, t));
        using (Functional.UseKernel(FocalKernel.Fused))
        {
            var e = Assert.Throws<ArgumentException>(() => Functional.sigmoid_focal_loss(x.t(), t.t()));
            Assert.Contains("Functional.Kernel is Fused, but inputs are not contiguous", e.Message);
            Assert.Equal("inputs", e.ParamName);
            var onTargets = Assert.Throws<ArgumentException>(() => Functional.sigmoid_focal_loss(x, t.clone().requires_grad_(true)));
            Assert.Contains("targets require a gradient", onTargets.Message);
            Assert.Equal("targets", onTargets.ParamName);
        }
    }

    [Fact]
    public void double_backward_through_the_fused_kernel_equals_the_composites()
    {
        double[] SecondOrder(FocalKernel kernel)
        {
            using var _ = Functional.UseKernel(kernel);
            using var scope = NewDisposeScope();
            var x = tensor(new[] { -3.0, -0.5, 0.2, 1.5, 4.0, 0.0 }).requires_grad_(true);
            var t = tensor(new[] { 1.0, 0.0, 1.0, 1.0, 0.0, 1.0 }); // hard: the composite's soft-target path has NaN second derivatives where a target is 0 or 1
            var loss = Functional.sigmoid_focal_loss(x, t, 0.25, 2.0, reduction: Reduction.Sum);
            var g = autograd.grad([loss], [x], retain_graph: true, create_graph: true)[0];
            var gg = autograd.grad([(g * g).sum()], [x])[0];
            return Eval.ToArray(gg);
        }
        var composite = SecondOrder(FocalKernel.Composite);
        var fused = SecondOrder(FocalKernel.Fused);
        Assert.Contains(composite, v => v != 0);
        for (var i = 0; i < composite.Length; i++)
            Assert.True(Tol.Close(fused[i], composite[i], 1e-12, 1e-15), $"[{i}] fused {fused[i]:R}, composite {composite[i]:R}");
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(0.5)]
    [InlineData(1.0)]
    [InlineData(2.0)]
    [InlineData(2.5)]
    public void the_probability_form_matches_the_composite_including_its_infinities_and_nans(double gamma)
    {
        // The seed's formula is unsafe on purpose: p_t = 0 gives +inf, and for 0 < gamma < 1 the gradient is NaN where
        // p_t = 1. The fused kernel must reproduce that pattern exactly, and the finite values to float64 rounding.
        var ps = new[] { 0.0, 1.0, 0.0, 1.0, 1e-300, 0.25, 0.5, 0.75, 1 - 1e-16, 0.999, 0.001 };
        var ts = new[] { 0.0, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.3, 1.0, 0.0, 1.0 };
        (double[] Loss, double[] Grad) Run(FocalKernel kernel)
        {
            using var _ = Functional.UseKernel(kernel);
            return Eval.WithGrad((p, t) => Functional.focal_loss_from_probabilities(p, t, 0.25, gamma, Reduction.None), ps, ts);
        }
        var composite = Run(FocalKernel.Composite);
        var fused = Run(FocalKernel.Fused);
        Assert.Contains(composite.Loss, double.IsPositiveInfinity);
        for (var i = 0; i < ps.Length; i++)
        {
            foreach (var (f, c, what) in new[] { (fused.Loss[i], composite.Loss[i], "loss"), (fused.Grad[i], composite.Grad[i], "grad") })
            {
                if (!double.IsFinite(c)) Assert.True(f.Equals(c), $"[{i}] {what}: fused {f}, composite {c}");
                else Assert.True(Tol.Close(f, c, 1e-12, 1e-300), $"[{i}] {what}: fused {f:R}, composite {c:R}");
            }
        }
    }

    [Theory]
    [InlineData(FocalKernel.Composite)]
    [InlineData(FocalKernel.Fused)]
    public void nan_logits_give_nan_loss_and_gradient_in_float32(FocalKernel kernel)
    {
        // A diverged model must not look finite: the float32 polynomials clamp with min/max, which swallow NaN.
        using var _ = Functional.UseKernel(kernel);
        foreach (var gamma in new[] { 0.0, 0.3, 2.0 })
        {
            var (loss, grad) = Eval.WithGrad((x, t) => Functional.sigmoid_focal_loss(x, t, 0.25, gamma, reduction: Reduction.None),
                [double.NaN, double.NaN, 1.0], [0.0, 1.0, 0.5], ScalarType.Float32);
            Assert.True(double.IsNaN(loss[0]) && double.IsNaN(loss[1]) && double.IsNaN(grad[0]) && double.IsNaN(grad[1]), $"gamma {gamma}: loss [{string.Join(", ", loss)}], grad [{string.Join(", ", grad)}]");
            Assert.True(double.IsFinite(loss[2]) && double.IsFinite(grad[2]));
        }
    }

    [Fact]
    public void an_input_modified_in_place_after_the_forward_makes_backward_throw_not_crash()
    {
        // The fused node saves its inputs, so libtorch's version check refuses the stale logits; the refusal must reach
        // the caller as an exception, not abort the process from inside the engine's callback. (The composite saves
        // intermediates instead and is unaffected by this edit.)
        using var _ = Functional.UseKernel(FocalKernel.Fused);
        using var scope = NewDisposeScope();
        var leaf = randn(37).requires_grad_(true);
        var x = leaf * 1.0;
        var t = rand(37).gt(0.5).to_type(ScalarType.Float32);
        var loss = Functional.sigmoid_focal_loss(x, t);
        using (no_grad()) x.add_(1.0);
        Assert.ThrowsAny<Exception>(() => loss.backward());
    }

    [Fact]
    public void the_kernel_setting_is_checked_and_scopes_restore_the_previous_choice()
    {
        Assert.Throws<ArgumentException>(() => Functional.UseKernel((FocalKernel)7));
        var outer = Functional.CurrentKernel;
        using (Functional.UseKernel(FocalKernel.Composite))
        {
            using (Functional.UseKernel(FocalKernel.Fused))
                Assert.Equal(FocalKernel.Fused, Functional.CurrentKernel);
            Assert.Equal(FocalKernel.Composite, Functional.CurrentKernel);
        }
        Assert.Equal(outer, Functional.CurrentKernel);
    }

    [Fact]
    public void registers_of_256_and_512_bits_give_bit_identical_elements_and_gradients_and_sums_within_rounding()
    {
        if (!System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated)
        {
            // This CPU has no accelerated 512-bit registers: every fused test above ran in 256-bit ones; 512 is refused.
            Assert.Equal(256, Functional.FusedVectorBits);
            Assert.Throws<ArgumentOutOfRangeException>(() => Functional.UseFusedVectorBits(512));
            return;
        }
        // Three chunks and a ragged tail; both forms, both precisions, every gamma case, alpha on and off, smoothing.
        // The data keep every exp argument in .NET's fast range (no probability of exactly 0 or 1): outside it, .NET's
        // vector Exp rounds the other lanes of the register differently (Functional.FusedVectorBits, remarks). The
        // tail's padding is chosen so that it never leaves that range (a padding of 0 did, and this test caught it).
        var n = 3 * 16384 + 13;
        using var _ = Functional.UseKernel(FocalKernel.Fused);
        var generator = new Generator();
        generator.manual_seed(11);
        foreach (var dtype in new[] { ScalarType.Float32, ScalarType.Float64 })
        foreach (var onProbabilities in new[] { false, true })
        foreach (var gamma in new[] { 0.0, 1.0, 2.0, 3.0, 2.5 })
        foreach (var (alpha, smoothing) in new (double?, double)[] { (0.25, 0.0), (null, 0.0), (0.25, 0.1) })
        {
            if (onProbabilities && smoothing != 0) continue; // the probability form takes no smoothing
            using var scope = NewDisposeScope();
            var logits = randn(n, dtype: dtype, generator: generator) * 6;
            var inputs = onProbabilities ? sigmoid(logits) : logits;
            var targets = (rand(n, dtype: dtype, generator: generator) < 0.3).to_type(dtype);
            if (gamma == 2.5) targets = rand(n, dtype: dtype, generator: generator); // soft targets too
            Tensor Loss(Tensor x, Reduction reduction) => onProbabilities
                ? Functional.focal_loss_from_probabilities(x, targets, alpha, gamma, reduction)
                : Functional.sigmoid_focal_loss(x, targets, alpha, gamma, smoothing, reduction);
            var results = new List<(Tensor Elements, Tensor Grad, double Sum)>();
            foreach (var bits in new[] { 256, 512 })
            {
                using var width = Functional.UseFusedVectorBits(bits);
                var x = inputs.detach().requires_grad_(true);
                var elements = Loss(x, Reduction.None);
                Loss(x, Reduction.Mean).backward();
                results.Add((elements.detach(), x.grad!, Loss(x.detach(), Reduction.Sum).to_type(ScalarType.Float64).item<double>()));
            }
            var label = $"{dtype}, {(onProbabilities ? "probabilities" : "logits")}, gamma {gamma}, alpha {alpha}, smoothing {smoothing}";
            var lossDifference = FirstDifference(results[0].Elements, results[1].Elements, inputs, targets);
            Assert.True(lossDifference is null, $"{label}: losses differ at {lossDifference}");
            var gradients = FirstDifference(results[0].Grad, results[1].Grad, inputs, targets);
            Assert.True(gradients is null, $"{label}: gradients differ at {gradients}");
            var tolerance = dtype == ScalarType.Float32 ? 1e-6 : 1e-12;
            Assert.True(results[0].Sum.Equals(results[1].Sum) || Math.Abs(results[0].Sum - results[1].Sum) <= tolerance * Math.Abs(results[0].Sum), $"sums {results[0].Sum:R} and {results[1].Sum:R}: {label}");
        }
    }

    /// <summary>Null when every element of <paramref name="a"/> has the bits of <paramref name="b"/>'s (NaN payloads aside), else the first that differs.</summary>
    private static string? FirstDifference(Tensor a, Tensor b, Tensor inputs, Tensor targets)
    {
        var x = a.to_type(ScalarType.Float64).data<double>().ToArray();
        var y = b.to_type(ScalarType.Float64).data<double>().ToArray();
        for (var i = 0; i < x.Length; i++)
            if (BitConverter.DoubleToInt64Bits(x[i]) != BitConverter.DoubleToInt64Bits(y[i]) && !(double.IsNaN(x[i]) && double.IsNaN(y[i])))
                return $"element {i} (input {inputs[i].to_type(ScalarType.Float64).item<double>():R}, target {targets[i].to_type(ScalarType.Float64).item<double>():R}): {x[i]:R} and {y[i]:R}";
        return null;
    }

    [Fact]
    public void the_register_width_setting_is_checked_and_scopes_restore_the_previous_width()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => Functional.UseFusedVectorBits(128));
        Assert.Equal("bits", error.ParamName);
        Assert.Contains("256 or 512, got 128", error.Message);
        var outer = Functional.FusedVectorBits;
        using (Functional.UseFusedVectorBits(256))
            Assert.Equal(256, Functional.FusedVectorBits);
        Assert.Equal(outer, Functional.FusedVectorBits);
    }

    [Fact]
    public void scopes_disposed_out_of_order_leave_no_stale_override()
    {
        // Break test: disposing the outer scope first used to restore its predecessor's value and leave the inner
        // scope's "previous" (the outer value) in force after both were closed.
        var kernel = Functional.CurrentKernel;
        var a = Functional.UseKernel(FocalKernel.Fused);
        var b = Functional.UseKernel(FocalKernel.Composite);
        a.Dispose();
        Assert.Equal(FocalKernel.Composite, Functional.CurrentKernel); // the inner scope is still open
        b.Dispose();
        Assert.Equal(kernel, Functional.CurrentKernel);
        var bits = Functional.FusedVectorBits;
        var c = Functional.UseFusedVectorBits(256);
        var d = Functional.UseFusedVectorBits(256);
        c.Dispose();
        d.Dispose();
        c.Dispose();
        Assert.Equal(bits, Functional.FusedVectorBits);
    }

    [Fact]
    public void forcing_the_fused_kernel_on_probabilities_it_cannot_serve_names_probabilities()
    {
        using var _ = Functional.UseKernel(FocalKernel.Fused);
        using var p = full(new long[] { 4, 3 }, 0.5f).t();   // a transposed view: not contiguous
        using var t = zeros(3, 4);
        var error = Assert.Throws<ArgumentException>(() => Functional.focal_loss_from_probabilities(p, t));
        Assert.Equal("probabilities", error.ParamName);
        Assert.Contains("probabilities are not contiguous", error.Message);
        Assert.Throws<ArgumentException>(() => Functional.Kernel = (FocalKernel)9);
    }
}
