using Dsl.Engine.Interop;

namespace Dsl.Engine;

public sealed partial class Tensor
{
    /// <summary>Copies the elements (moved to the CPU, row-major) into <paramref name="destination"/>, whose length must equal <see cref="Numel"/>.</summary>
    public unsafe void CopyTo<T>(Span<T> destination) where T : unmanaged
    {
        ThrowIfDisposed("copy_to");
        var dt = DType;
        if (DTypes.Of<T>() != dt)
            throw Errors.Bad("copy_to", $"the tensor holds {dt.Name()} but the destination holds {typeof(T).Name}; convert with .To(DType.{DTypes.Of<T>()}) first.", this);
        fixed (T* p = destination)
            Errors.S(Native.dsl_io_copy_to(this, p, (long)destination.Length * sizeof(T)), "copy_to", this);
    }

    /// <summary>The elements as a flat .NET array (row-major). T must match the dtype.</summary>
    public T[] ToArray<T>() where T : unmanaged
    {
        var a = new T[Numel];
        CopyTo<T>(a);
        return a;
    }

    /// <summary>The elements as a .NET array with the tensor's rank (float[,] for a matrix, ...).</summary>
    public Array ToNDArray<T>() where T : unmanaged
    {
        var shape = Shape;
        var arr = Array.CreateInstance(typeof(T), shape.Length == 0 ? new[] { 1 } : shape.Select(s => checked((int)s)).ToArray());
        CopyTo(Torch.Flat<T>(arr));
        return arr;
    }

    /// <summary>The single value of a one-element tensor, as a double.</summary>
    public unsafe double ToDouble()
    {
        double v;
        Errors.S(Native.dsl_tensor_item(this, &v), "item", this);
        return v;
    }

    /// <summary>The single value of a one-element tensor, as a float.</summary>
    public float ToSingle() => (float)ToDouble();

    /// <summary>The single value of a one-element tensor, as an int64.</summary>
    public unsafe long ToInt64()
    {
        long v;
        Errors.S(Native.dsl_tensor_item_int64(this, &v), "item", this);
        return v;
    }

    /// <summary>A copy converted to <paramref name="dtype"/> (returns a new handle to the same data when nothing changes and copy is false).</summary>
    public Tensor To(DType dtype, bool copy = false)
    {
        int code = EnumChecks.Code(dtype, "to");
        var d = Device;
        return Errors.T(Native.dsl_tensor_to(this, code, (int)d.Type, d.Index, copy ? 1 : 0), "to", this);
    }

    /// <summary>This tensor on <paramref name="device"/>.</summary>
    public Tensor To(Device device, bool copy = false) =>
        Errors.T(Native.dsl_tensor_to(this, (int)DType, EnumChecks.Code(device.Type, "to"), device.Index, copy ? 1 : 0), "to", this);

    /// <summary>This tensor on <paramref name="device"/> with <paramref name="dtype"/>.</summary>
    public Tensor To(Device device, DType dtype, bool copy = false) =>
        Errors.T(Native.dsl_tensor_to(this, EnumChecks.Code(dtype, "to"), EnumChecks.Code(device.Type, "to"), device.Index, copy ? 1 : 0), "to", this);

    /// <summary>This tensor on the CPU.</summary>
    public Tensor Cpu() => To(Device.Cpu);

    // ---- in-place fills (no autograd history, like torch.nn.init) ----

    /// <summary>Fills with uniform samples in [low, high); returns this.</summary>
    public Tensor Uniform_(double low = 0, double high = 1, Generator? generator = null)
    { Errors.S(Native.dsl_tensor_uniform_(this, low, high, Generator.H(generator)), "uniform_", generator, this); return this; }

    /// <summary>Fills with normal samples; returns this.</summary>
    public Tensor Normal_(double mean = 0, double std = 1, Generator? generator = null)
    { Errors.S(Native.dsl_tensor_normal_(this, mean, std, Generator.H(generator)), "normal_", generator, this); return this; }

    /// <summary>Fills with Bernoulli(p) samples (1 with probability p); returns this.</summary>
    public Tensor Bernoulli_(double p, Generator? generator = null)
    { Errors.S(Native.dsl_tensor_bernoulli_(this, p, Generator.H(generator)), "bernoulli_", generator, this); return this; }

    /// <summary>Fills with <paramref name="value"/>; returns this.</summary>
    public Tensor Fill_(double value) { Errors.S(Native.dsl_tensor_fill_(this, value), "fill_", this); return this; }

    /// <summary>Copies <paramref name="source"/> into this tensor (broadcasting, converting dtype and device); returns this.</summary>
    public Tensor Copy_(Tensor source) { Errors.S(Native.dsl_tensor_copy_(this, source), "copy_", this, source); return this; }
}

public sealed partial class Tensor
{
    /// <summary>
    /// A CPU (or <paramref name="device"/>) tensor of <paramref name="dtype"/> and <paramref name="shape"/> built
    /// from raw little-endian, row-major element bytes with one copy; the byte count must match the shape.
    /// </summary>
    public static unsafe Tensor FromBytes(ReadOnlySpan<byte> bytes, long[] shape, DType dtype, Device? device = null)
    {
        fixed (byte* d = bytes)
        fixed (long* s = shape)
            return Errors.T(Interop.Native.dsl_io_from_data(d, bytes.Length, s, shape.Length, Torch.Opt(dtype, device, false)), "from_bytes");
    }

    /// <summary>The raw bytes of the elements (CPU, row-major) into <paramref name="destination"/>.</summary>
    internal unsafe void CopyBytesTo(Span<byte> destination)
    {
        fixed (byte* p = destination)
            Errors.S(Interop.Native.dsl_io_copy_to(this, p, destination.Length), "copy_to", this);
    }
}
