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

    /// <summary>Whether every element is finite: in place where <see cref="AllFiniteInPlace"/> can read it, else by a reduction.</summary>
    public static bool AllFinite(Tensor t)
    {
        if (AllFiniteInPlace(t) is { } inPlace) return inPlace;
        using var finite = t.isfinite().all();
        return finite.item<bool>();
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
