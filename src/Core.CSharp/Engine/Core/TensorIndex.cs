namespace Dsl.Engine;

/// <summary>
/// One entry of a multi-dimensional index, as in Python's <c>x[i, a:b:c, ..., None, idx]</c> (TorchSharp's
/// <c>TensorIndex</c>): a single position (<see cref="Single"/>, removes its dim), a slice (<see cref="Slice"/>, a
/// view), <see cref="Ellipsis"/> (as many <c>:</c> as needed), <see cref="NewAxis"/> (inserts a size-1 dim) or an
/// index tensor (<see cref="Tensor(Dsl.Engine.Tensor)"/>: int64 positions or a bool mask, which copies). Integers,
/// C# ranges (<c>1..3</c>, <c>..</c>, <c>^2..</c>) and tensors convert implicitly, so
/// <c>x.Index(.., 0..10)</c> is <c>x[:, 0:10]</c> and <c>x[1, ..]</c> is <c>x[1, :]</c>.
/// </summary>
public sealed class TensorIndex
{
    internal enum Kind { Single = 0, Slice = 1, Ellipsis = 2, NewAxis = 3, Tensor = 4, Bool = 5 }

    internal Kind What { get; }
    internal long? Start { get; }
    internal long? Stop { get; }
    internal long Step { get; }
    internal Tensor? Indices { get; }

    TensorIndex(Kind kind, long? start = null, long? stop = null, long step = 1, Tensor? indices = null)
    {
        What = kind; Start = start; Stop = stop; Step = step; Indices = indices;
    }

    /// <summary>The position <paramref name="index"/> of its dim (negative counts from the end); the dim is removed, as <c>x[i]</c>.</summary>
    public static TensorIndex Single(long index) => new(Kind.Single, start: index);

    /// <summary>
    /// Positions start, start + step, … below stop, as Python's <c>start:stop:step</c> (the end is exclusive; null ends are
    /// open; negative ends count from the end; step must be positive). The result is a view of the same storage.
    /// </summary>
    public static TensorIndex Slice(long? start = null, long? stop = null, long step = 1) =>
        step > 0 ? new(Kind.Slice, start, stop, step)
                 : throw new ArgumentOutOfRangeException(nameof(step), $"TensorIndex.Slice: step {step} must be positive (libtorch has no negative steps). Fix: slice with a positive step and Flip the dim.");

    /// <summary>Python's <c>...</c>: every dim not named by the other entries, unchanged.</summary>
    public static TensorIndex Ellipsis { get; } = new(Kind.Ellipsis);

    /// <summary>Python's <c>None</c>: a new dim of size 1 at this place.</summary>
    public static TensorIndex NewAxis { get; } = new(Kind.NewAxis);

    /// <summary>An index tensor: int64 positions along this dim (advanced indexing, a copy), or a bool mask over as many dims as it has.</summary>
    public static TensorIndex Tensor(Tensor indices) =>
        new(Kind.Tensor, indices: indices ?? throw new ArgumentNullException(nameof(indices)));

    /// <summary>Python's <c>True</c>/<c>False</c> as an index: a new size-1 dim (true) or size-0 dim (false).</summary>
    public static TensorIndex Bool(bool value) => new(Kind.Bool, start: value ? 1 : 0);

    /// <summary>A position, as <see cref="Single"/>.</summary>
    public static implicit operator TensorIndex(long index) => Single(index);

    /// <summary>A C# index: <c>^1</c> is the last position.</summary>
    public static implicit operator TensorIndex(Index index) =>
        index.IsFromEnd
            ? index.Value == 0
                ? throw new ArgumentOutOfRangeException(nameof(index), "TensorIndex: ^0 is one past the last position; the last is ^1.")
                : Single(-index.Value)
            : Single(index.Value);

    /// <summary>A C# range, as <see cref="Slice"/> with step 1: <c>a..b</c> excludes b, <c>..</c> is everything, <c>^k</c> counts from the end.</summary>
    public static implicit operator TensorIndex(Range range)
    {
        Index a = range.Start, b = range.End;
        long start = !a.IsFromEnd ? a.Value : a.Value == 0 ? long.MaxValue : -a.Value; // ^0.. is empty: libtorch clamps the start
        long? stop = !b.IsFromEnd ? b.Value : b.Value == 0 ? null : -b.Value;
        return Slice(start, stop);
    }

    /// <summary>An index tensor or mask, as <see cref="Tensor(Dsl.Engine.Tensor)"/>.</summary>
    public static implicit operator TensorIndex(Tensor indices) => Tensor(indices);

    /// <inheritdoc/>
    public override string ToString() => What switch
    {
        Kind.Single => Start!.Value.ToString(System.Globalization.CultureInfo.InvariantCulture),
        Kind.Slice => $"{Start}:{Stop}{(Step == 1 ? "" : ":" + Step)}",
        Kind.Ellipsis => "...",
        Kind.NewAxis => "None",
        Kind.Bool => Start == 1 ? "True" : "False",
        _ => Indices is { IsDisposed: false } t ? $"<{t.DType.Name()} [{string.Join(", ", t.Shape)}]>" : "<tensor>",
    };
}
