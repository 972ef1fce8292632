using System.Globalization;
using Dsl.Engine.Interop;

namespace Dsl.Engine;

/// <summary>How <see cref="Tensor.Quantile(double, long?, bool, QuantileInterpolation)"/> picks a value between the two order statistics around a quantile (torch.quantile's <c>interpolation</c>).</summary>
public enum QuantileInterpolation
{
    /// <summary>lo + (hi − lo)·frac, where the quantile sits at the fractional position q·(n − 1) of the sorted values (the default).</summary>
    Linear,
    /// <summary>The lower of the two values.</summary>
    Lower,
    /// <summary>The higher of the two values.</summary>
    Higher,
    /// <summary>Their mean.</summary>
    Midpoint,
    /// <summary>The nearer of the two (a half rounds to the even position).</summary>
    Nearest,
}

// Sorting, order statistics and boolean masks. Bad dims, k, q and masks are refused here, before libtorch, with a
// message naming the op, the shapes and the fix.
public sealed unsafe partial class Tensor
{
    /// <summary>The values sorted along <paramref name="dim"/> and the index each came from. The sort is stable (equal values keep their order) and NaN sorts above every number, as in torch.sort(stable=True).</summary>
    public (Tensor Values, Tensor Indices) Sort(long dim = -1, bool descending = false)
    {
        CheckDim("sort", dim);
        nint v, i;
        Errors.S(Native.dsl_math_sort(this, dim, descending ? 1 : 0, &v, &i), "sort", this);
        return (new Tensor(v), new Tensor(i));
    }

    /// <summary>The indices that sort the tensor along <paramref name="dim"/> (stably): <c>Sort(dim, descending).Indices</c>.</summary>
    public Tensor Argsort(long dim = -1, bool descending = false)
    {
        var (values, indices) = Sort(dim, descending);
        values.Dispose();
        return indices;
    }

    /// <summary>The median of all elements (0-dimensional). With an even count it is the lower of the two middle values, not their mean (torch.median); NaN if any element is NaN.</summary>
    public Tensor Median() => MedianAll("median", ignoreNan: false);

    /// <summary>The median along <paramref name="dim"/> (the lower middle value for an even count) and the index of the element chosen; NaN (and its index) where a row holds a NaN.</summary>
    public (Tensor Values, Tensor Indices) Median(long dim, bool keepdim = false) => MedianDim("median", dim, keepdim, ignoreNan: false);

    /// <summary>As <see cref="Median()"/> ignoring NaN values (NaN only when every element is NaN), torch.nanmedian.</summary>
    public Tensor NanMedian() => MedianAll("nanmedian", ignoreNan: true);

    /// <summary>As <see cref="Median(long, bool)"/> ignoring NaN values, torch.nanmedian.</summary>
    public (Tensor Values, Tensor Indices) NanMedian(long dim, bool keepdim = false) => MedianDim("nanmedian", dim, keepdim, ignoreNan: true);

    Tensor MedianAll(string op, bool ignoreNan)
    {
        CheckNotEmpty(op);
        nint v, i;
        Errors.S(Native.dsl_math_median(this, 0, 0, 0, ignoreNan ? 1 : 0, &v, &i), op, this);
        return new Tensor(v);
    }

    (Tensor, Tensor) MedianDim(string op, long dim, bool keepdim, bool ignoreNan)
    {
        CheckDim(op, dim);
        if (Dim > 0 && Size((int)dim) == 0) throw Errors.Bad(op, $"dim {dim} has size 0, so there is no median. Fix: reduce over a non-empty dim.", this);
        nint v, i;
        Errors.S(Native.dsl_math_median(this, dim, 1, keepdim ? 1 : 0, ignoreNan ? 1 : 0, &v, &i), op, this);
        return (new Tensor(v), new Tensor(i));
    }

    /// <summary>
    /// The <paramref name="q"/>-quantile (q in [0, 1]) of all elements, or along <paramref name="dim"/>. With the default
    /// <see cref="QuantileInterpolation.Linear"/> it is torch.quantile's: sorted values s, position p = q·(n − 1), result
    /// s[⌊p⌋] + (s[⌈p⌉] − s[⌊p⌋])·(p − ⌊p⌋). Float tensors only; NaN where a reduced row holds a NaN.
    /// </summary>
    public Tensor Quantile(double q, long? dim = null, bool keepdim = false, QuantileInterpolation interpolation = QuantileInterpolation.Linear) =>
        QuantileOf("quantile", null, q, dim, keepdim, interpolation, ignoreNan: false);

    /// <summary>Several quantiles at once: <paramref name="q"/> is a 1-D float tensor of values in [0, 1] (same dtype as this); the result gets a leading dim of q's length.</summary>
    public Tensor Quantile(Tensor q, long? dim = null, bool keepdim = false, QuantileInterpolation interpolation = QuantileInterpolation.Linear) =>
        QuantileOf("quantile", q, 0, dim, keepdim, interpolation, ignoreNan: false);

    /// <summary>As <see cref="Quantile(double, long?, bool, QuantileInterpolation)"/> ignoring NaN values (torch.nanquantile).</summary>
    public Tensor NanQuantile(double q, long? dim = null, bool keepdim = false, QuantileInterpolation interpolation = QuantileInterpolation.Linear) =>
        QuantileOf("nanquantile", null, q, dim, keepdim, interpolation, ignoreNan: true);

    /// <summary>As <see cref="Quantile(Tensor, long?, bool, QuantileInterpolation)"/> ignoring NaN values (torch.nanquantile).</summary>
    public Tensor NanQuantile(Tensor q, long? dim = null, bool keepdim = false, QuantileInterpolation interpolation = QuantileInterpolation.Linear) =>
        QuantileOf("nanquantile", q, 0, dim, keepdim, interpolation, ignoreNan: true);

    Tensor QuantileOf(string op, Tensor? q, double qs, long? dim, bool keepdim, QuantileInterpolation interpolation, bool ignoreNan)
    {
        ThrowIfDisposed(op);
        int code = EnumChecks.Code(interpolation, op, "interpolation");
        if (DType is not (DType.Float32 or DType.Float64))
            throw Errors.Bad(op, $"the input is {DType.Name()}, but quantiles are computed on float32 or float64 tensors. Fix: convert it first, x.To(DType.Float32).", this);
        if (dim is { } d) CheckDim(op, d);
        CheckNotEmpty(op);
        if (q is null)
        {
            if (!(qs >= 0 && qs <= 1))
                throw Errors.Bad(op, $"q = {qs.ToString(CultureInfo.InvariantCulture)} is outside [0, 1]. Fix: give q as a fraction (0.5 is the median, 0.9 the 90th percentile; divide a percentile by 100).", this);
        }
        else
        {
            if (q.Dim > 1) throw Errors.Bad(op, $"q must be a scalar or a 1-D tensor of quantiles, not [{string.Join(", ", q.Shape)}]. Fix: flatten q.", this, q);
            if (q.DType != DType) throw Errors.Bad(op, $"q is {q.DType.Name()} but the input is {DType.Name()}. Fix: create q with the input's dtype, q.To(x.DType).", this, q);
            using var cpu = q.To(Device.Cpu, DType.Float64);
            var bad = cpu.ToArray<double>().Where(v => !(v >= 0 && v <= 1)).ToArray();
            if (bad.Length > 0)
                throw Errors.Bad(op, $"q holds {string.Join(", ", bad.Take(4).Select(v => v.ToString(CultureInfo.InvariantCulture)))}, outside [0, 1]. Fix: give quantiles as fractions (0.5 is the median; divide percentiles by 100).", this, q);
        }
        return Errors.T(Native.dsl_math_quantile(this, q, qs, dim ?? 0, dim.HasValue ? 1 : 0, keepdim ? 1 : 0, code, ignoreNan ? 1 : 0), op, this, q);
    }

    /// <summary>The <paramref name="k"/>-th smallest value (k = 1 is the minimum) along <paramref name="dim"/> and its index (torch.kthvalue).</summary>
    public (Tensor Values, Tensor Indices) Kthvalue(long k, long dim = -1, bool keepdim = false)
    {
        CheckDim("kthvalue", dim);
        long n = Dim == 0 ? 1 : Size((int)dim);
        if (k < 1 || k > n)
            throw Errors.Bad("kthvalue", $"k = {k} but dim {dim} has {n} elements; k counts from 1 (the smallest) to {n}. Fix: pass k in [1, {n}].", this);
        nint v, i;
        Errors.S(Native.dsl_math_kthvalue(this, k, dim, keepdim ? 1 : 0, &v, &i), "kthvalue", this);
        return (new Tensor(v), new Tensor(i));
    }

    /// <summary>The elements where the bool <paramref name="mask"/> is true, as a 1-D tensor in row-major order (the mask and this tensor broadcast together).</summary>
    public Tensor MaskedSelect(Tensor mask)
    {
        CheckMask("masked_select", mask, mutual: true);
        return Errors.T(Native.dsl_math_masked_select(this, mask), "masked_select", this, mask);
    }

    /// <summary>The indices of the non-zero (true) elements: int64 [count, rank], one row per element in row-major order.</summary>
    public Tensor Nonzero() => Errors.T(Native.dsl_math_nonzero(this), "nonzero", this);

    /// <summary>Refuses a dim outside [−rank, rank) (a 0-d tensor takes 0 and −1, as in libtorch).</summary>
    internal void CheckDim(string op, long dim)
    {
        ThrowIfDisposed(op);
        int rank = Dim, r = Math.Max(rank, 1);
        if (dim < -r || dim >= r)
            throw Errors.Bad(op, $"dim {dim} is out of range for a tensor of {rank} dims [{string.Join(", ", Shape)}]: valid dims are {-r} to {r - 1}. Fix: pass a dim in that range (−1 is the last).", this);
    }

    void CheckNotEmpty(string op)
    {
        if (Numel == 0) throw Errors.Bad(op, "the tensor is empty, so there is nothing to reduce. Fix: check the data (an empty split or a filter that kept nothing?).", this);
    }

    /// <summary>Refuses a mask that is not bool or does not broadcast to this tensor's shape (with <paramref name="mutual"/>, that does not broadcast with it).</summary>
    internal void CheckMask(string op, Tensor mask, bool mutual = false)
    {
        ThrowIfDisposed(op);
        if (mask.DType != DType.Bool)
            throw Errors.Bad(op, $"the mask is {mask.DType.Name()}, but a mask must be bool. Fix: build it with a comparison (x.Gt(0)) or convert it, mask.To(DType.Bool).", this, mask);
        long[] s = Shape, m = mask.Shape;
        bool fits = mutual ? Broadcasts(s, m) : m.Length <= s.Length && m.Select((size, i) => size == 1 || size == s[s.Length - m.Length + i]).All(ok => ok);
        if (!fits)
            throw Errors.Bad(op, $"the mask's shape [{string.Join(", ", m)}] does not broadcast {(mutual ? "with" : "to")} the tensor's [{string.Join(", ", s)}]. Fix: use a mask of the tensor's shape (e.g. a comparison of the same tensor), or one whose dims, from the right, are 1 or equal to the tensor's.", this, mask);
    }

    static bool Broadcasts(long[] a, long[] b)
    {
        for (int i = 1; i <= Math.Min(a.Length, b.Length); i++)
            if (a[^i] != b[^i] && a[^i] != 1 && b[^i] != 1) return false;
        return true;
    }
}
