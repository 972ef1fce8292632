using Dsl.Engine.Interop;

namespace Dsl.Engine;

// Python-style multi-dimensional indexing (native/tensor_index.cpp).
public sealed unsafe partial class Tensor
{
    /// <summary>
    /// <c>x[i0, i1, …]</c> as in PyTorch: <c>x.Index(.., 0..10)</c> is <c>x[:, 0:10]</c>, <c>x.Index(1, TensorIndex.Ellipsis)</c> is
    /// <c>x[1, ...]</c>, <c>x.Index(mask)</c> is <c>x[mask]</c>. Integers, slices, the ellipsis and new axes give a view that
    /// shares this tensor's storage; index tensors and masks give a copy. Autograd flows through either.
    /// </summary>
    public Tensor Index(params TensorIndex[] indices)
    {
        ThrowIfDisposed("index");
        var spec = Spec(indices, out var tensors);
        using var handles = new HandleArray(tensors, "index", allowNull: true);
        fixed (long* s = spec)
        fixed (nint* h = handles.Raw)
            return Errors.T(Native.dsl_shape_index(this, s, h, indices.Length), "index", this, tensors.FirstOrDefault(t => t is not null));
    }

    /// <summary>
    /// <c>x[i0, i1, …] = value</c> in place (libtorch's index_put_): <paramref name="value"/> broadcasts to the indexed
    /// shape and is written into this tensor's storage (so into the tensor a view came from). Returns this.
    /// </summary>
    public Tensor IndexPut_(Tensor value, params TensorIndex[] indices)
    {
        ThrowIfDisposed("index_put_");
        var spec = Spec(indices, out var tensors);
        using var handles = new HandleArray(tensors, "index_put_", allowNull: true);
        fixed (long* s = spec)
        fixed (nint* h = handles.Raw)
            Errors.S(Native.dsl_shape_index_put_(this, s, h, indices.Length, value), "index_put_", this, value);
        return this;
    }

    /// <summary><c>x[i0, i1, …] = value</c> for a scalar value (converted to this tensor's dtype). Returns this.</summary>
    public Tensor IndexPut_(double value, params TensorIndex[] indices)
    {
        using var v = Torch.Full(Array.Empty<long>(), value, DType, Device);
        return IndexPut_(v, indices);
    }

    /// <summary><c>x[i0, i1, …]</c>: get is <see cref="Index"/>, set is <see cref="IndexPut_(Tensor, TensorIndex[])"/> (e.g. <c>x[.., 0..2] = v</c>).</summary>
    public Tensor this[params TensorIndex[] indices]
    {
        get => Index(indices);
        set => IndexPut_(value, indices);
    }

    static long[] Spec(TensorIndex[] indices, out Tensor?[] tensors)
    {
        ArgumentNullException.ThrowIfNull(indices);
        var spec = new long[5 * indices.Length];
        tensors = new Tensor?[indices.Length];
        for (int i = 0; i < indices.Length; i++)
        {
            var e = indices[i] ?? throw new ArgumentNullException(nameof(indices), $"index: entry {i} is null.");
            spec[5 * i] = (long)e.What;
            spec[5 * i + 1] = (e.Start.HasValue ? 1 : 0) | (e.Stop.HasValue ? 2 : 0);
            spec[5 * i + 2] = e.Start ?? 0;
            spec[5 * i + 3] = e.Stop ?? 0;
            spec[5 * i + 4] = e.Step;
            tensors[i] = e.Indices;
        }
        return spec;
    }
}
