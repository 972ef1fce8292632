namespace Dsl.Data;

/// <summary>
/// A data set that hands out samples by index, as PyTorch's map-style <c>Dataset</c>: the
/// <see cref="DataLoader"/> asks it for one batch of indices at a time, so a data set need not fit in memory
/// (an <see cref="ImageFolder"/> decodes only the images of the batch). Inputs and every target share the
/// first (sample) dimension.
/// </summary>
public interface IDataset
{
    /// <summary>Number of samples.</summary>
    long Count { get; }

    /// <summary>The targets' names, in the order of <see cref="Gather"/>'s targets (e.g. "label"; "hour", "minute").</summary>
    IReadOnlyList<string> TargetNames { get; }

    /// <summary>
    /// The samples at <paramref name="indices"/> (each in 0 … Count − 1), stacked: inputs [B, …] and one tensor
    /// [B, …] per target, in the order of the indices. The tensors are new and belong to the caller's scope.
    /// </summary>
    (Tensor Inputs, Tensor[] Targets) Gather(long[] indices);
}

/// <summary>
/// Samples held in memory: an inputs tensor and any number of target tensors with one row per sample. It
/// reads the tensors but does not own them: keep them alive (and unchanged) while it is used.
/// </summary>
public sealed class TensorDataset : IDataset
{
    readonly Tensor[] targets;

    /// <summary>Inputs and targets named "target0", "target1", … (or "label" when there is one).</summary>
    public TensorDataset(Tensor inputs, params Tensor[] targets) : this(inputs, targets, null) { }

    /// <summary>Inputs and named targets (<paramref name="names"/> one per target; null: "label" or target0, target1, …).</summary>
    public TensorDataset(Tensor inputs, IReadOnlyList<Tensor> targets, IReadOnlyList<string>? names)
    {
        inputs.ThrowIfDisposed("dataset");
        if (inputs.Dim == 0) throw new ArgumentException("dataset: the inputs must have a first (sample) dimension, not be a scalar.");
        Inputs = inputs;
        this.targets = targets.ToArray();
        Count = inputs.Size(0);
        foreach (var t in this.targets)
        {
            t.ThrowIfDisposed("dataset");
            if (t.Dim == 0 || t.Size(0) != Count)
                throw new ArgumentException($"dataset: the inputs have {Count} samples but a target has shape [{string.Join(", ", t.Shape)}]; every target needs one row per sample.");
        }
        TargetNames = names?.ToArray()
                      ?? (this.targets.Length == 1 ? new[] { "label" } : Enumerable.Range(0, this.targets.Length).Select(i => $"target{i}").ToArray());
        if (TargetNames.Count != this.targets.Length)
            throw new ArgumentException($"dataset: {TargetNames.Count} target names for {this.targets.Length} targets.");
    }

    /// <summary>The inputs tensor.</summary>
    public Tensor Inputs { get; }
    /// <summary>The target tensors.</summary>
    public IReadOnlyList<Tensor> Targets => targets;
    /// <inheritdoc/>
    public long Count { get; }
    /// <inheritdoc/>
    public IReadOnlyList<string> TargetNames { get; }

    /// <inheritdoc/>
    public (Tensor Inputs, Tensor[] Targets) Gather(long[] indices)
    {
        using var scope = DisposeScope.Enter();
        var idx = Torch.From<long>(indices, new[] { (long)indices.Length }, Inputs.Device);
        var x = Inputs.IndexSelect(0, idx);
        var ys = new Tensor[targets.Length];
        for (int i = 0; i < ys.Length; i++)
            ys[i] = scope.MoveOut(targets[i].IndexSelect(0, targets[i].Device == Inputs.Device ? idx : idx.To(targets[i].Device)));
        return (scope.MoveOut(x), ys);
    }
}

/// <summary>A view of some samples of another data set, in a given order (e.g. a validation split).</summary>
public sealed class Subset : IDataset
{
    readonly long[] indices;

    /// <summary>The samples <paramref name="indices"/> of <paramref name="source"/> (each in 0 … source.Count − 1).</summary>
    public Subset(IDataset source, IReadOnlyList<long> indices)
    {
        Source = source;
        this.indices = indices.ToArray();
        foreach (var i in this.indices)
            if (i < 0 || i >= source.Count)
                throw new ArgumentOutOfRangeException(nameof(indices), $"subset: index {i} is outside the {source.Count} samples of the data set.");
    }

    /// <summary>The first <paramref name="count"/> samples from <paramref name="start"/>.</summary>
    public static Subset Range(IDataset source, long start, long count)
    {
        if (start < 0 || count < 0 || start + count > source.Count)
            throw new ArgumentOutOfRangeException(nameof(count), $"subset: samples {start} … {start + count - 1} are outside the {source.Count} samples of the data set.");
        var ix = new long[count];
        for (long i = 0; i < count; i++) ix[i] = start + i;
        return new Subset(source, ix);
    }

    /// <summary>The data set it views.</summary>
    public IDataset Source { get; }
    /// <inheritdoc/>
    public long Count => indices.Length;
    /// <inheritdoc/>
    public IReadOnlyList<string> TargetNames => Source.TargetNames;

    /// <inheritdoc/>
    public (Tensor Inputs, Tensor[] Targets) Gather(long[] at)
    {
        var mapped = new long[at.Length];
        for (int i = 0; i < at.Length; i++)
        {
            if (at[i] < 0 || at[i] >= indices.Length)
                throw new ArgumentOutOfRangeException(nameof(at), $"subset: index {at[i]} is outside its {indices.Length} samples.");
            mapped[i] = indices[at[i]];
        }
        return Source.Gather(mapped);
    }
}

/// <summary>
/// Another data set with a deterministic transform applied to every batch of inputs as it is gathered (uint8
/// images to float, normalisation): the preparation that training and validation data share, unlike an
/// augmentation.
/// </summary>
public sealed class TransformedDataset(IDataset source, Transform transform) : IDataset
{
    /// <summary>The data set it transforms.</summary>
    public IDataset Source { get; } = source;
    /// <summary>The transform applied to the inputs (a random one draws from its own seeded stream).</summary>
    public Transform Transform { get; } = transform;
    /// <inheritdoc/>
    public long Count => Source.Count;
    /// <inheritdoc/>
    public IReadOnlyList<string> TargetNames => Source.TargetNames;

    /// <inheritdoc/>
    public (Tensor Inputs, Tensor[] Targets) Gather(long[] indices)
    {
        var (x, ys) = Source.Gather(indices);
        try { return (Transform.Apply(x), ys); }
        finally { x.Dispose(); }
    }
}
