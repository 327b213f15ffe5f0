using System.Globalization;
using static TorchSharp.torch;

namespace FocalLoss.Infrastructure;

/// <summary>Resolves device names.</summary>
public static class Devices
{
    /// <summary>
    /// <c>auto</c> is CUDA when <c>torch.cuda.is_available()</c>, else CPU; <c>cpu</c>; <c>cuda</c> and
    /// <c>cuda:N</c> require CUDA (and N below the device count) and fail with a clear message otherwise.
    /// </summary>
    public static Device Resolve(string name)
    {
        TorchRuntime.EnsureLoaded();
        if (name == "auto") return cuda.is_available() ? CUDA : CPU;
        if (name == "cpu") return CPU;
        if (name == "cuda" || name.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!cuda.is_available())
                throw new ArgumentException($"Device '{name}' needs CUDA, but torch.cuda.is_available() is false (this libtorch build or machine has no CUDA); use 'auto' or 'cpu'", "Device");
            if (name == "cuda") return CUDA;
            if (!int.TryParse(name.AsSpan(5), NumberStyles.None, CultureInfo.InvariantCulture, out var index) || index >= cuda.device_count())
                throw new ArgumentException($"Device '{name}' must be cuda:N with N in [0, {cuda.device_count() - 1}]", "Device");
            return device(name);
        }
        throw new ArgumentException($"Device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got '{name}'", "Device");
    }
}
