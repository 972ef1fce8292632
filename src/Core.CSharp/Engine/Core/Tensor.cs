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
[System.Runtime.InteropServices.Marshalling.NativeMarshalling(typeof(TensorMarshaller))]
public sealed partial class Tensor : IDisposable
{
    const int Closed = int.MinValue;

    // The native handle and the number of native calls using it (the sign bit once disposed). Every P/Invoke that
    // takes a tensor holds a use for the duration of the call (TensorMarshaller); the handle is freed when the
    // tensor is disposed and its last use ends. So a tensor disposed by one thread while another thread's call is
    // using it is freed after that call returns, and a call that starts after the dispose hands the shim NULL and
    // fails with the disposed-tensor error naming the op: never a freed pointer. (A SafeHandle per tensor does the
    // same but measured ~10% slower on a one-element add: an extra object and compare-exchange loops.)
    nint raw;
    int uses;
    readonly bool owns = true;
    internal DisposeScope? Owner;

    internal Tensor(nint handle)
    {
        raw = handle;
        DisposeScope.Register(this);
        NativeMemory.OnCreate();
    }

    Tensor(nint handle, bool owns)
    {
        raw = handle;
        this.owns = owns;
        GC.SuppressFinalize(this);
    }

    /// <summary>A tensor over a handle someone else owns and frees (the optimizer's state), for one native call.</summary>
    internal static Tensor Borrow(nint handle) => new(handle, owns: false);

    /// <summary>An optional argument: null when absent; a disposed tensor is an error, never "absent".</summary>
    internal static Tensor? Optional(Tensor? t, string op) =>
        t is null ? null : !t.IsDisposed ? t : throw Errors.Disposed(op);

    /// <summary>Starts a use of the handle for a native call: the handle, or 0 (and no use) once disposed.</summary>
    internal nint Acquire()
    {
        if (Interlocked.Increment(ref uses) < 0)
        {
            Release();
            return 0;
        }
        return raw;
    }

    /// <summary>Ends a use that <see cref="Acquire"/> started; the last use of a disposed tensor frees it.</summary>
    internal void Release()
    {
        if (Interlocked.Decrement(ref uses) == Closed) Free();
    }

    void Free()
    {
        var r = Interlocked.Exchange(ref raw, 0);
        if (r != 0 && owns) Native.dsl_tensor_free(r);
        GC.SuppressFinalize(this);
    }

    /// <summary>Throws the disposed-tensor error for <paramref name="op"/> when this tensor was disposed.</summary>
    public void ThrowIfDisposed(string op) { if (IsDisposed) throw Errors.Disposed(op); }

    /// <summary>True once this tensor has been disposed.</summary>
    public bool IsDisposed => uses < 0 || raw == 0;

    /// <summary>
    /// Frees the native tensor now (after any call that is using it on another thread returns). Safe to call more
    /// than once and from any thread. Without it the tensor is freed when the garbage collector finalizes it.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Or(ref uses, Closed) == 0) Free();
    }

    /// <summary>Backstop only: frees a tensor that was never disposed (no call can be using it: calls hold a reference).</summary>
    ~Tensor()
    {
        var r = Interlocked.Exchange(ref raw, 0);
        if (r != 0 && owns) Native.dsl_tensor_free(r);
    }

    /// <summary>Number of native tensor handles alive in this process (for leak tests).</summary>
    public static long LiveCount => Native.dsl_tensor_live_count();

    /// <summary>The sizes of each dimension.</summary>
    public unsafe long[] Shape
    {
        get
        {
            long* buf = stackalloc long[16];
            int n = Errors.S(Native.dsl_tensor_shape(this, buf, 16), "shape", this);
            var shape = new long[n];
            if (n <= 16) { for (int i = 0; i < n; i++) shape[i] = buf[i]; return shape; }
            fixed (long* p = shape) Native.dsl_tensor_shape(this, p, n);
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
    public long Numel { get { var n = Native.dsl_tensor_numel(this); return n >= 0 ? n : throw Errors.Fail("numel", this); } }

    /// <summary>The element type.</summary>
    public DType DType => (DType)Errors.S(Native.dsl_tensor_dtype(this), "dtype", this);

    /// <summary>The device the data lives on.</summary>
    public unsafe Device Device
    {
        get
        {
            int index;
            int type = Errors.S(Native.dsl_tensor_device(this, &index), "device", this);
            return new Device((DeviceType)type, index);
        }
    }

    /// <summary>True when the elements are laid out densely in row-major order.</summary>
    public bool IsContiguous => Errors.S(Native.dsl_tensor_is_contiguous(this), "is_contiguous", this) == 1;

    /// <summary>
    /// True when this handle is the only reference to the tensor and its storage — no other handle
    /// (<see cref="Alias"/>), no view, no autograd record shares the data — and it does not require grad, so
    /// that an in-place op on it changes nothing anyone else can see. Inference uses it to overwrite dead
    /// intermediates, as PyTorch's <c>ReLU(inplace=True)</c> and <c>out += identity</c> do.
    /// </summary>
    public bool IsSoleOwner => Errors.S(Native.dsl_tensor_is_sole_owner(this), "is_sole_owner", this) == 1;

    /// <summary>A second handle to the same tensor (shares data and autograd history), owned separately.</summary>
    public Tensor Alias() => Errors.T(Native.dsl_tensor_alias(this), "alias", this);

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
        Interlocked.Or(ref uses, Closed);
        GC.SuppressFinalize(this);
        return Interlocked.Exchange(ref raw, 0);
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
