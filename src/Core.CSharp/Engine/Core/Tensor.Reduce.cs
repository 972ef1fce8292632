using Dsl.Engine.Interop;

namespace Dsl.Engine;

public sealed unsafe partial class Tensor
{
    static readonly string[] ReduceNames = OpNames.Of<ReduceOp>(OpFamily.Reduce);

    // dims == null reduces over every dimension.
    Tensor Reduce(ReduceOp op, long[]? dims, bool keepdim)
    {
        fixed (long* p = dims)
            return Errors.T(Native.dsl_math_reduce((int)op, this, p, dims?.Length ?? -1, keepdim ? 1 : 0), ReduceNames[(int)op], this);
    }

    /// <summary>Sum of all elements (0-dimensional).</summary>
    public Tensor Sum() => Reduce(ReduceOp.Sum, null, false);
    /// <summary>Sum over <paramref name="dims"/>.</summary>
    public Tensor Sum(long[] dims, bool keepdim = false) => Reduce(ReduceOp.Sum, dims, keepdim);
    /// <summary>Mean of all elements.</summary>
    public Tensor Mean() => Reduce(ReduceOp.Mean, null, false);
    /// <summary>Mean over <paramref name="dims"/>.</summary>
    public Tensor Mean(long[] dims, bool keepdim = false) => Reduce(ReduceOp.Mean, dims, keepdim);
    /// <summary>Product over <paramref name="dims"/> (all when null).</summary>
    public Tensor Prod(long[]? dims = null, bool keepdim = false) => Reduce(ReduceOp.Prod, dims, keepdim);
    /// <summary>Maximum value over <paramref name="dims"/> (all when null).</summary>
    public Tensor Amax(long[]? dims = null, bool keepdim = false) => Reduce(ReduceOp.Amax, dims, keepdim);
    /// <summary>Minimum value over <paramref name="dims"/> (all when null).</summary>
    public Tensor Amin(long[]? dims = null, bool keepdim = false) => Reduce(ReduceOp.Amin, dims, keepdim);
    /// <summary>Maximum of all elements.</summary>
    public Tensor Max() => Reduce(ReduceOp.Amax, null, false);
    /// <summary>Minimum of all elements.</summary>
    public Tensor Min() => Reduce(ReduceOp.Amin, null, false);
    /// <summary>log Σ exp(x) over <paramref name="dims"/>, computed stably.</summary>
    public Tensor LogSumExp(long[]? dims = null, bool keepdim = false) => Reduce(ReduceOp.LogSumExp, dims, keepdim);
    /// <summary>True where every element over <paramref name="dims"/> is true.</summary>
    public Tensor All(long[]? dims = null, bool keepdim = false) => Reduce(ReduceOp.All, dims, keepdim);
    /// <summary>True where any element over <paramref name="dims"/> is true.</summary>
    public Tensor Any(long[]? dims = null, bool keepdim = false) => Reduce(ReduceOp.Any, dims, keepdim);
    /// <summary>Sum treating NaN as zero.</summary>
    public Tensor NanSum(long[]? dims = null, bool keepdim = false) => Reduce(ReduceOp.NanSum, dims, keepdim);

    /// <summary>Variance over <paramref name="dims"/> (all when null); <paramref name="unbiased"/> divides by n − 1.</summary>
    public Tensor Var(long[]? dims = null, bool unbiased = true, bool keepdim = false)
    { fixed (long* p = dims) return Errors.T(Native.dsl_math_var(this, p, dims?.Length ?? -1, unbiased ? 1 : 0, keepdim ? 1 : 0, 0), "var", this); }

    /// <summary>Standard deviation over <paramref name="dims"/> (all when null); <paramref name="unbiased"/> divides by n − 1.</summary>
    public Tensor Std(long[]? dims = null, bool unbiased = true, bool keepdim = false)
    { fixed (long* p = dims) return Errors.T(Native.dsl_math_var(this, p, dims?.Length ?? -1, unbiased ? 1 : 0, keepdim ? 1 : 0, 1), "std", this); }

    /// <summary>The p-norm over <paramref name="dims"/> (all when null).</summary>
    public Tensor Norm(double p = 2, long[]? dims = null, bool keepdim = false)
    { fixed (long* d = dims) return Errors.T(Native.dsl_math_norm(this, p, d, dims?.Length ?? -1, keepdim ? 1 : 0), "norm", this); }

    (Tensor, Tensor) MinMax(bool isMax, long dim, bool keepdim)
    {
        nint v, i;
        Errors.S(Native.dsl_math_minmax_dim(isMax ? 1 : 0, this, dim, keepdim ? 1 : 0, &v, &i), isMax ? "max" : "min", this);
        return (new Tensor(v), new Tensor(i));
    }

    /// <summary>Maximum values along <paramref name="dim"/> and their indices.</summary>
    public (Tensor Values, Tensor Indices) Max(long dim, bool keepdim = false) => MinMax(true, dim, keepdim);
    /// <summary>Minimum values along <paramref name="dim"/> and their indices.</summary>
    public (Tensor Values, Tensor Indices) Min(long dim, bool keepdim = false) => MinMax(false, dim, keepdim);

    /// <summary>Index of the maximum along <paramref name="dim"/> (of the flattened tensor when null).</summary>
    public Tensor Argmax(long? dim = null, bool keepdim = false) =>
        Errors.T(Native.dsl_math_argminmax(1, this, dim ?? 0, dim.HasValue ? 1 : 0, keepdim ? 1 : 0), "argmax", this);
    /// <summary>Index of the minimum along <paramref name="dim"/> (of the flattened tensor when null).</summary>
    public Tensor Argmin(long? dim = null, bool keepdim = false) =>
        Errors.T(Native.dsl_math_argminmax(0, this, dim ?? 0, dim.HasValue ? 1 : 0, keepdim ? 1 : 0), "argmin", this);

    /// <summary>The <paramref name="k"/> largest (or smallest) values along <paramref name="dim"/>, sorted, with their indices (NaN counts as larger than every number).</summary>
    public (Tensor Values, Tensor Indices) TopK(long k, long dim = -1, bool largest = true)
    {
        CheckDim("topk", dim);
        long n = Dim == 0 ? 1 : Size((int)dim);
        if (k < 0 || k > n)
            throw Errors.Bad("topk", $"k = {k} but dim {dim} has only {n} elements. Fix: pass k in [0, {n}] (Sort gives all of them in order).", this);
        nint v, i;
        Errors.S(Native.dsl_math_topk(this, k, dim, largest ? 1 : 0, &v, &i), "topk", this);
        return (new Tensor(v), new Tensor(i));
    }
}
