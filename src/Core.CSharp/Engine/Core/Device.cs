using Dsl.Engine.Interop;

namespace Dsl.Engine;

/// <summary>Kinds of device. The values are libtorch's <c>c10::DeviceType</c> codes.</summary>
public enum DeviceType
{
    /// <summary>The host CPU.</summary>
    Cpu = 0,
    /// <summary>An NVIDIA GPU (needs a CUDA build of libtorch).</summary>
    Cuda = 1,
}

/// <summary>
/// A device: <c>cpu</c> or <c>cuda:N</c>. Every creation function takes one, so the same code runs on a
/// GPU when Dsl is built against a CUDA libtorch.
/// </summary>
public readonly record struct Device(DeviceType Type, int Index = 0)
{
    /// <summary>The CPU.</summary>
    public static readonly Device Cpu = new(DeviceType.Cpu, 0);

    /// <summary>CUDA device <paramref name="index"/>.</summary>
    public static Device Cuda(int index = 0) => new(DeviceType.Cuda, index);

    /// <summary>Number of CUDA devices libtorch can use (0 on a CPU-only build).</summary>
    public static int CudaDeviceCount => Native.dsl_runtime_cuda_device_count();

    /// <summary>True when at least one CUDA device is usable.</summary>
    public static bool CudaAvailable => CudaDeviceCount > 0;

    /// <summary>The first CUDA device when there is one, otherwise the CPU.</summary>
    public static Device Best => CudaAvailable ? Cuda(0) : Cpu;

    /// <summary>Parses "cpu", "cuda" or "cuda:N".</summary>
    public static Device Parse(string s)
    {
        s = s.Trim().ToLowerInvariant();
        if (s == "cpu") return Cpu;
        if (s == "cuda") return Cuda(0);
        if (s.StartsWith("cuda:") && int.TryParse(s[5..], out var i)) return Cuda(i);
        throw new FormatException($"Device.Parse: '{s}' is not a device; use \"cpu\", \"cuda\" or \"cuda:N\".");
    }

    /// <inheritdoc/>
    public override string ToString() => Type == DeviceType.Cpu ? "cpu" : $"cuda:{Index}";
}
