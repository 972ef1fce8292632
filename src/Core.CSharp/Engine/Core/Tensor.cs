using Dsl.Engine.Interop;

namespace Dsl.Engine;

/// <summary>
/// An n-dimensional array held by libtorch. A Tensor owns one native handle and frees it when
/// disposed, when the <see cref="DisposeScope"/> it was created in ends, or (as a backstop only)
/// when the garbage collector finalizes it. Disposing twice is harmless; using a disposed tensor
/// raises <see cref="ObjectDisposedException"/> naming the op.
/// </summary>
/// <remarks>
/// Operations are spread over partial files by area: creation (<see cref="Torch"/>), data in and out,
/// shape and indexing, math and operators, reductions, autograd. Neural-network functions live in
/// <see cref="Functional"/>.
/// </remarks>
public sealed partial class Tensor : IDisposable
{
    nint handle;
    internal DisposeScope? Owner;

    internal Tensor(nint handle)
    {
        this.handle = handle;
        DisposeScope.Register(this);
    }

    /// <summary>The native handle (0 once disposed). Native calls given 0 fail with a disposed-tensor error.</summary>
    internal nint Handle => handle;

    /// <summary>The handle of an optional argument: 0 when absent; a disposed tensor is an error, never "absent".</summary>
    internal static nint Optional(Tensor? t, string op) =>
        t is null ? 0 : t.handle != 0 ? t.handle : throw Errors.Disposed(op);

    /// <summary>Throws the disposed-tensor error for <paramref name="op"/> when this tensor was disposed.</summary>
    public void ThrowIfDisposed(string op) { if (handle == 0) throw Errors.Disposed(op); }

    /// <summary>True once this tensor has been disposed.</summary>
    public bool IsDisposed => handle == 0;

    /// <summary>Frees the native tensor now. Safe to call more than once.</summary>
    public void Dispose()
    {
        var h = Interlocked.Exchange(ref handle, 0);
        if (h != 0)
        {
            Native.dsl_tensor_free(h);
            GC.SuppressFinalize(this);
        }
    }

    /// <summary>Backstop only: frees the native tensor if it was never disposed.</summary>
    ~Tensor()
    {
        var h = Interlocked.Exchange(ref handle, 0);
        if (h != 0) Native.dsl_tensor_free(h);
    }

    /// <summary>Number of native tensor handles alive in this process (for leak tests).</summary>
    public static long LiveCount => Native.dsl_tensor_live_count();

    /// <summary>The sizes of each dimension.</summary>
    public unsafe long[] Shape
    {
        get
        {
            long* buf = stackalloc long[16];
            int n = Errors.S(Native.dsl_tensor_shape(handle, buf, 16), "shape", this);
            var shape = new long[n];
            if (n <= 16) { for (int i = 0; i < n; i++) shape[i] = buf[i]; return shape; }
            fixed (long* p = shape) Native.dsl_tensor_shape(handle, p, n);
            return shape;
        }
    }

    /// <summary>Size of dimension <paramref name="dim"/> (negative counts from the end).</summary>
    public long Size(int dim)
    {
        ThrowIfDisposed("size");
        var s = Shape;
        var d = dim < 0 ? dim + s.Length : dim;
        if (d < 0 || d >= s.Length) throw Errors.Bad("size", $"dimension {dim} is out of range for a tensor of rank {s.Length}", this);
        return s[d];
    }

    /// <summary>Number of dimensions.</summary>
    public int Dim => Shape.Length;

    /// <summary>Total number of elements.</summary>
    public long Numel { get { var n = Native.dsl_tensor_numel(handle); return n >= 0 ? n : throw Errors.Fail("numel", this); } }

    /// <summary>The element type.</summary>
    public DType DType => (DType)Errors.S(Native.dsl_tensor_dtype(handle), "dtype", this);

    /// <summary>The device the data lives on.</summary>
    public unsafe Device Device
    {
        get
        {
            int index;
            int type = Errors.S(Native.dsl_tensor_device(handle, &index), "device", this);
            return new Device((DeviceType)type, index);
        }
    }

    /// <summary>True when the elements are laid out densely in row-major order.</summary>
    public bool IsContiguous => Errors.S(Native.dsl_tensor_is_contiguous(handle), "is_contiguous", this) == 1;

    /// <summary>A second handle to the same tensor (shares data and autograd history), owned separately.</summary>
    public Tensor Alias() => Errors.T(Native.dsl_tensor_alias(handle), "alias", this);

    /// <summary>Moves this tensor out of its scope into the enclosing scope (or to no scope); returns it.</summary>
    public Tensor MoveToOuterScope()
    {
        Owner?.MoveOut(this);
        return this;
    }

    /// <summary>Gives up ownership of the native handle (for owners that free it themselves); the tensor becomes disposed.</summary>
    internal nint ReleaseHandle()
    {
        Owner = null;
        GC.SuppressFinalize(this);
        return Interlocked.Exchange(ref handle, 0);
    }

    /// <summary>Removes this tensor from any scope: the caller now disposes it. Returns it.</summary>
    public Tensor DetachFromScope()
    {
        Owner = null;
        return this;
    }

    /// <inheritdoc/>
    public override string ToString() => IsDisposed ? "Tensor(<disposed>)" : TensorFormat.Format(this);
}
