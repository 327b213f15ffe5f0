using System.Numerics;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace FocalLoss;

/// <summary>Direct access to the memory of CPU tensors, for code that reads or writes it without a libtorch call.</summary>
internal static unsafe class TensorMemory
{
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

    /// <summary>The address of the tensor's first element (its storage offset included).</summary>
    public static void* Data(Tensor t) => (void*)DataFunction(t.Handle);

    /// <summary>
    /// Whether every element is finite, read in place (no libtorch operation, no allocation) for a contiguous float32
    /// or float64 CPU tensor; null for any other tensor (the caller reduces it on its device).
    /// </summary>
    public static bool? AllFiniteInPlace(Tensor t)
    {
        if (t.device_type != DeviceType.CPU || !t.is_contiguous()) return null;
        return t.dtype switch
        {
            ScalarType.Float32 => AllFinite(new ReadOnlySpan<float>(Data(t), checked((int)t.numel()))),
            ScalarType.Float64 => AllFinite(new ReadOnlySpan<double>(Data(t), checked((int)t.numel()))),
            _ => null,
        };
    }

    /// <summary>
    /// Every element of every tensor is finite: read in place where <see cref="AllFiniteInPlace"/> can (no libtorch
    /// operation, no host synchronisation), else one reduction per tensor (sparse ones densified) and one host
    /// synchronisation for all of them. Tensors the enumeration creates (e.g. gradient wrappers) are disposed with
    /// the dispose scope it runs in.
    /// </summary>
    public static bool AllFinite(IEnumerable<Tensor> tensors)
    {
        using var scope = NewDisposeScope();
        Tensor? onDevice = null;
        foreach (var t in tensors)
        {
            var dense = t.is_sparse ? t.to_dense() : t;
            switch (AllFiniteInPlace(dense))
            {
                case false:
                    return false;
                case null:
                    var finite = dense.isfinite().all();
                    onDevice = onDevice is null ? finite : onDevice.logical_and(finite);
                    break;
            }
        }
        return onDevice is null || onDevice.item<bool>();
    }

    /// <summary><c>x - x</c> is 0 for a finite x and NaN for +-inf and NaN; NaN survives the sum.</summary>
    private static bool AllFinite<T>(ReadOnlySpan<T> values) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var acc = Vector<T>.Zero;
        int i = 0;
        for (; i + Vector<T>.Count <= values.Length; i += Vector<T>.Count)
        {
            var v = new Vector<T>(values.Slice(i, Vector<T>.Count));
            acc += v - v;
        }
        var rest = T.Zero;
        for (; i < values.Length; i++) rest += values[i] - values[i];
        return T.IsZero(rest) && acc == Vector<T>.Zero;
    }
}
