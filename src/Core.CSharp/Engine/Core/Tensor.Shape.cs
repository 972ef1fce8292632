using Dsl.Engine.Interop;

namespace Dsl.Engine;

public sealed unsafe partial class Tensor
{
    // Ops taking a list of ints share one call shape.
    delegate nint ListOp(Tensor t, long* values, int n);

    Tensor WithList(string op, ListOp f, long[] values)
    {
        fixed (long* p = values) return Errors.T(f(this, p, values.Length), op, this);
    }

    /// <summary>Same data with a new shape (one size may be −1); copies only when it must.</summary>
    public Tensor Reshape(params long[] shape) => WithList("reshape", Native.dsl_shape_reshape, shape);
    /// <summary>A view with a new shape; fails when the memory layout does not allow a view.</summary>
    public Tensor View(params long[] shape) => WithList("view", Native.dsl_shape_view, shape);
    /// <summary>Reorders the dimensions.</summary>
    public Tensor Permute(params long[] dims) => WithList("permute", Native.dsl_shape_permute, dims);
    /// <summary>Broadcasts size-1 dimensions to a larger shape without copying (−1 keeps a size).</summary>
    public Tensor Expand(params long[] shape) => WithList("expand", Native.dsl_shape_expand, shape);
    /// <summary>Tiles the tensor the given number of times along each dimension.</summary>
    public Tensor Repeat(params long[] repeats) => WithList("repeat", Native.dsl_shape_repeat, repeats);
    /// <summary>Reverses the order of elements along the given dimensions.</summary>
    public Tensor Flip(params long[] dims) => WithList("flip", Native.dsl_shape_flip, dims);

    /// <summary>Rotates elements along <paramref name="dims"/> by <paramref name="shifts"/> (elements shifted past the end wrap around).</summary>
    public Tensor Roll(long[] shifts, long[] dims)
    {
        fixed (long* s = shifts)
        fixed (long* d = dims)
            return Errors.T(Native.dsl_shape_roll(this, s, shifts.Length, d, dims.Length), "roll", this);
    }

    /// <summary>Swaps two dimensions.</summary>
    public Tensor Transpose(long dim0, long dim1) => Errors.T(Native.dsl_shape_transpose(this, dim0, dim1), "transpose", this);
    /// <summary>The transpose of a matrix (swaps the last two dimensions).</summary>
    public Tensor T => Transpose(-2, -1);
    /// <summary>Merges dimensions start…end into one.</summary>
    public Tensor Flatten(long startDim = 0, long endDim = -1) => Errors.T(Native.dsl_shape_flatten(this, startDim, endDim), "flatten", this);
    /// <summary>Removes every size-1 dimension.</summary>
    public Tensor Squeeze() => Errors.T(Native.dsl_shape_squeeze(this, 0, 1), "squeeze", this);
    /// <summary>Removes dimension <paramref name="dim"/> if its size is 1.</summary>
    public Tensor Squeeze(long dim) => Errors.T(Native.dsl_shape_squeeze(this, dim, 0), "squeeze", this);
    /// <summary>Inserts a size-1 dimension at <paramref name="dim"/>.</summary>
    public Tensor Unsqueeze(long dim) => Errors.T(Native.dsl_shape_unsqueeze(this, dim), "unsqueeze", this);
    /// <summary>The elements start…start+length−1 along <paramref name="dim"/> (a view).</summary>
    public Tensor Narrow(long dim, long start, long length) => Errors.T(Native.dsl_shape_narrow(this, dim, start, length), "narrow", this);
    /// <summary>Python-style slice start:end:step along <paramref name="dim"/> (a view).</summary>
    public Tensor Slice(long dim, long start, long end, long step = 1) => Errors.T(Native.dsl_shape_slice(this, dim, start, end, step), "slice", this);
    /// <summary>The sub-tensor at <paramref name="index"/> along <paramref name="dim"/>, with that dimension removed.</summary>
    public Tensor Select(long dim, long index) => Errors.T(Native.dsl_shape_select(this, dim, index), "select", this);
    /// <summary>x[i] along the first dimension (a view); setting copies the value (broadcast) into that sub-tensor.</summary>
    public Tensor this[long index]
    {
        get => Select(0, index);
        set { using var view = Select(0, index); view.Copy_(value); }
    }
    /// <summary>The entries at the int64 <paramref name="index"/> positions along <paramref name="dim"/>.</summary>
    public Tensor IndexSelect(long dim, Tensor index) => Errors.T(Native.dsl_shape_index_select(this, dim, index), "index_select", this, index);
    /// <summary>out[i][j] = x[i][index[i][j]] for dim 1 (and likewise for other dims).</summary>
    public Tensor Gather(long dim, Tensor index) => Errors.T(Native.dsl_shape_gather(this, dim, index), "gather", this, index);
    /// <summary>A copy with <paramref name="src"/> written at <paramref name="index"/> along <paramref name="dim"/>.</summary>
    public Tensor Scatter(long dim, Tensor index, Tensor src) => Errors.T(Native.dsl_shape_scatter(this, dim, index, src, 0), "scatter", this, index, src);
    /// <summary>A copy with <paramref name="src"/> added at <paramref name="index"/> along <paramref name="dim"/>.</summary>
    public Tensor ScatterAdd(long dim, Tensor index, Tensor src) => Errors.T(Native.dsl_shape_scatter(this, dim, index, src, 1), "scatter_add", this, index, src);
    /// <summary>A densely laid-out tensor with the same values (this data when already contiguous).</summary>
    public Tensor Contiguous() => Errors.T(Native.dsl_shape_contiguous(this), "contiguous", this);
    /// <summary>A copy with its own storage (autograd flows through it).</summary>
    public Tensor Clone() => Errors.T(Native.dsl_shape_clone(this), "clone", this);

    /// <summary>Splits into pieces of <paramref name="splitSize"/> along <paramref name="dim"/> (the last may be smaller).</summary>
    public Tensor[] Split(long splitSize, long dim = 0)
    {
        ThrowIfDisposed("split");
        var size = Size((int)dim);
        int cap = (int)Math.Max(1, splitSize <= 0 ? 1 : (size + splitSize - 1) / splitSize);
        var outs = new nint[cap];
        int n;
        fixed (nint* p = outs) n = Errors.S(Native.dsl_shape_split(this, splitSize, dim, p, cap), "split", this);
        return outs.Take(n).Select(h => new Tensor(h)).ToArray();
    }

    /// <summary>Splits into <paramref name="chunks"/> nearly equal pieces along <paramref name="dim"/>.</summary>
    public Tensor[] Chunk(long chunks, long dim = 0)
    {
        ThrowIfDisposed("chunk");
        int cap = (int)Math.Max(1, chunks);
        var outs = new nint[cap];
        int n;
        fixed (nint* p = outs) n = Errors.S(Native.dsl_shape_chunk(this, chunks, dim, p, cap), "chunk", this);
        return outs.Take(n).Select(h => new Tensor(h)).ToArray();
    }
}
