namespace Dsl.Data;

/// <summary>
/// A transform of a whole batch (images [N, C, H, W] or [N, H, W], features [N, F]): deterministic
/// (scaling, normalisation, flattening, resizing, a fixed pixel permutation, contrast) or random
/// (noise and the augmentations in <see cref="Augment"/>), applied on tensors.
/// </summary>
/// <remarks>
/// Ownership: <see cref="Apply"/> never modifies or disposes its input; it returns a new tensor handle
/// that belongs to the caller's innermost <see cref="DisposeScope"/> (or to nobody when none is open),
/// exactly like an engine op. Intermediate tensors are freed before it returns.
/// Randomness: random transforms draw from the <see cref="Generator"/> passed to <see cref="Apply"/>
/// (the <see cref="DataLoader"/> passes one seeded per batch) or, when none is passed, from their own
/// stream seeded at construction (see <see cref="RandomTransform"/>), so a run is reproducible from the
/// seeds either way. Transforms hold no native resources and may be shared by loaders and threads.
/// </remarks>
public abstract class Transform
{
    /// <summary>Transforms a batch. See the class remarks for ownership and randomness.</summary>
    /// <param name="x">The batch; not modified.</param>
    /// <param name="generator">Random source for random transforms; ignored by deterministic ones.</param>
    public abstract Tensor Apply(Tensor x, Generator? generator = null);

    /// <summary>True when the transform draws random numbers.</summary>
    public virtual bool IsRandom => false;

    /// <summary>A short description (used in error messages and summaries).</summary>
    public override string ToString() => GetType().Name;

    /// <summary>Applies <paramref name="transforms"/> in order (intermediate results are freed).</summary>
    public static Transform Compose(params Transform[] transforms) => new ComposeTransform(transforms);

    /// <summary>A deterministic transform from a function (it must return a new tensor and leave its input alone).</summary>
    public static Transform FromFunc(Func<Tensor, Tensor> f, string name = "Func") => new FuncTransform(f, name);

    /// <summary>
    /// Runs <paramref name="body"/> in a fresh scope and moves its result out (to the caller's scope):
    /// every intermediate tensor made by the body is freed.
    /// </summary>
    protected static Tensor Scoped(Func<Tensor> body)
    {
        using var scope = DisposeScope.Enter();
        return scope.MoveOut(body());
    }

    /// <summary>
    /// x as floating point: floating tensors are returned as a new handle to the same data, integer
    /// tensors (uint8 images) are converted to float32 and divided by 255, so images lie in [0, 1].
    /// </summary>
    public static Tensor AsUnitFloat(Tensor x)
    {
        if (x.DType.IsFloating()) return x.Alias();
        return x.To(DType.Float32).Div_(255.0);        // a fresh tensor: scaled in place
    }

    /// <summary>Checks that <paramref name="x"/> is a batch of images [N, H, W] or [N, C, H, W]; returns it as [N, C, H, W] (a new handle).</summary>
    internal static Tensor AsNchw(Tensor x, string op)
    {
        var s = x.Shape;
        return s.Length switch
        {
            4 => x.Alias(),
            3 => x.Unsqueeze(1),
            _ => throw new ArgumentException($"{op}: expected a batch of images [N, H, W] or [N, C, H, W], got [{string.Join(", ", s)}]."),
        };
    }

    /// <summary>Undoes <see cref="AsNchw"/>: back to the rank of <paramref name="like"/>.</summary>
    internal static Tensor FromNchw(Tensor y, Tensor like) => like.Dim == 3 ? y.Squeeze(1) : y.Alias();

    sealed class ComposeTransform(Transform[] transforms) : Transform
    {
        readonly Transform[] items = transforms.ToArray();

        public override bool IsRandom => items.Any(t => t.IsRandom);

        public override Tensor Apply(Tensor x, Generator? generator = null)
        {
            if (items.Length == 0) return x.Alias();
            var current = items[0].Apply(x, generator);
            for (int i = 1; i < items.Length; i++)
            {
                var next = items[i].Apply(current, generator);
                current.Dispose();
                current = next;
            }
            return current;
        }

        public override string ToString() => "Compose(" + string.Join(", ", items.Select(t => t.ToString())) + ")";
    }

    sealed class FuncTransform(Func<Tensor, Tensor> f, string name) : Transform
    {
        public override Tensor Apply(Tensor x, Generator? generator = null) => Scoped(() => f(x));
        public override string ToString() => name;
    }
}

/// <summary>
/// Base of transforms that draw random numbers: they use the generator passed to <see cref="Transform.Apply"/>;
/// without one, call k (counting from construction or <see cref="Reset"/>) draws from a temporary generator
/// seeded from (<see cref="Seed"/>, k), so direct calls are reproducible and hold no native state.
/// </summary>
public abstract class RandomTransform : Transform
{
    long calls;

    /// <summary>Creates the transform with the seed of its own stream.</summary>
    protected RandomTransform(long seed) { Seed = seed; }

    /// <summary>The seed of the transform's own stream (used when Apply gets no generator).</summary>
    public long Seed { get; }

    /// <inheritdoc/>
    public override bool IsRandom => true;

    /// <inheritdoc/>
    public sealed override Tensor Apply(Tensor x, Generator? generator = null)
    {
        if (generator is not null) return Scoped(() => Sample(x, generator));
        using var own = new Generator(SplitMix.Mix(Seed, Interlocked.Increment(ref calls) - 1, 0x7472616E73L));
        return Scoped(() => Sample(x, own));
    }

    /// <summary>Restarts the transform's own stream: the next call without a generator repeats the first one.</summary>
    public void Reset() => Interlocked.Exchange(ref calls, 0);

    /// <summary>The transform proper, run inside a scope (intermediates are freed): draws from <paramref name="g"/>.</summary>
    protected abstract Tensor Sample(Tensor x, Generator g);

    /// <summary>n uniform samples in [low, high) from <paramref name="g"/>, as doubles.</summary>
    protected static double[] Uniform(Generator g, long n, double low, double high)
    {
        if (n == 0) return Array.Empty<double>();
        using var u = Torch.Rand(new[] { n }, g, DType.Float64);
        var a = u.ToArray<double>();
        for (int i = 0; i < a.Length; i++) a[i] = low + (high - low) * a[i];
        return a;
    }
}

/// <summary>Converts to float32 and divides by <see cref="Divisor"/>: uint8 images 0…255 become [0, 1].</summary>
public sealed class ToFloat(double divisor = 255.0) : Transform
{
    /// <summary>The value that maps to 1.</summary>
    public double Divisor { get; } = divisor > 0 ? divisor : throw new ArgumentOutOfRangeException(nameof(divisor), $"ToFloat: divisor {divisor} must be positive.");

    /// <inheritdoc/>
    public override Tensor Apply(Tensor x, Generator? generator = null) =>
        x.DType == DType.Float32 ? x / Divisor : x.To(DType.Float32).Div_(Divisor);   // To made a copy: scale it in place

    /// <inheritdoc/>
    public override string ToString() => $"ToFloat(/{Divisor})";
}

/// <summary>
/// (x − mean[c]) / std[c] per channel. Channels are dimension 1 of [N, C, H, W] images and of [N, F]
/// feature rows; an [N, H, W] batch is one channel. One mean/std value applies to every channel.
/// <see cref="Fit(Tensor)"/> on the training split gives the standardiser (scikit-learn's StandardScaler for
/// feature rows): apply the same object to every split.
/// </summary>
public sealed class Normalize : Transform
{
    /// <summary>Per-channel means.</summary>
    public IReadOnlyList<double> Mean { get; }
    /// <summary>Per-channel standard deviations (all positive).</summary>
    public IReadOnlyList<double> Std { get; }

    /// <summary>Normalises with the given per-channel statistics (e.g. Fashion-MNIST's 0.2860 and 0.3530 on [0, 1] pixels).</summary>
    public Normalize(double[] mean, double[] std)
    {
        if (mean.Length == 0 || mean.Length != std.Length)
            throw new ArgumentException($"Normalize: {mean.Length} means and {std.Length} standard deviations; give one of each per channel.");
        if (std.Any(s => !(s > 0))) throw new ArgumentException($"Normalize: standard deviations [{string.Join(", ", std)}] must be positive.");
        Mean = mean.ToArray();
        Std = std.ToArray();
    }

    /// <summary>Normalises every channel with one mean and standard deviation.</summary>
    public Normalize(double mean, double std) : this(new[] { mean }, new[] { std }) { }

    static long ChannelDim(Tensor x) => x.Dim is 2 or 4 ? 1 : -1;

    /// <summary>
    /// Fits per-channel mean and (population) standard deviation on training data, after
    /// <see cref="Transform.AsUnitFloat"/> (so uint8 images are measured on [0, 1]). Constant channels get std 1.
    /// </summary>
    public static Normalize Fit(Tensor x)
    {
        using var scope = DisposeScope.Enter();
        var f = AsUnitFloat(x).To(DType.Float64);
        if (ChannelDim(x) < 0)
            return new Normalize(f.Mean().ToDouble(), Positive(f.Std(unbiased: false).ToDouble()));
        var dims = Enumerable.Range(0, x.Dim).Where(d => d != 1).Select(d => (long)d).ToArray();
        var mean = f.Mean(dims).ToArray<double>();
        var std = f.Std(dims, unbiased: false).ToArray<double>().Select(Positive).ToArray();
        return new Normalize(mean, std);
    }

    /// <summary>
    /// <see cref="Fit(Tensor)"/> over chunks of rows [n_i, F] or images [n_i, C, H, W] (each chunk any number of
    /// samples, disposed after use), for training data larger than memory: one pass of float64 sums of x − s and
    /// (x − s)² per channel, s the first sample's channel means (keeps the sums well conditioned). Equals
    /// <see cref="Fit(Tensor)"/> on the concatenated chunks up to rounding.
    /// </summary>
    public static Normalize Fit(IEnumerable<Tensor> chunks)
    {
        using var scope = DisposeScope.Enter();
        Tensor? shift = null, sum = null, squares = null;
        double count = 0;
        long[]? reduce = null;
        foreach (var chunk in chunks)
        {
            try
            {
                using var step = DisposeScope.Enter();
                if (ChannelDim(chunk) < 0)
                    throw new ArgumentException($"Normalize.Fit: chunks must be rows [N, F] or images [N, C, H, W] (channels in dimension 1), got [{string.Join(", ", chunk.Shape)}].");
                var f = AsUnitFloat(chunk).To(DType.Float64);
                if (shift is null)
                {
                    reduce = Enumerable.Range(0, chunk.Dim).Where(d => d != 1).Select(d => (long)d).ToArray();
                    var first = f.Narrow(0, 0, 1);
                    shift = step.MoveOut(first.Mean(reduce, true));
                    sum = step.MoveOut(Torch.ZerosLike(shift));
                    squares = step.MoveOut(Torch.ZerosLike(shift));
                }
                if (chunk.Dim != shift.Dim || chunk.Size(1) != shift.Size(1))
                    throw new ArgumentException($"Normalize.Fit: a chunk of shape [{string.Join(", ", chunk.Shape)}] does not match earlier chunks' {shift.Size(1)} channels in {shift.Dim} dimensions.");
                var c = f - shift;
                sum!.Add_(c.Sum(reduce!, true));
                squares!.Add_(c.Square().Sum(reduce!, true));
                count += (double)chunk.Numel / chunk.Size(1);
            }
            finally { chunk.Dispose(); }
        }
        if (shift is null || count == 0) throw new ArgumentException("Normalize.Fit: the chunk sequence is empty.");
        var meanShift = sum! / count;
        var variance = (squares! / count - meanShift.Square()).Clamp(0);
        var mean = (meanShift + shift).Flatten().ToArray<double>();
        var std = variance.Sqrt().Flatten().ToArray<double>().Select(Positive).ToArray();
        return new Normalize(mean, std);
    }

    static double Positive(double s) => s > 0 ? s : 1.0;

    /// <inheritdoc/>
    public override Tensor Apply(Tensor x, Generator? generator = null) => Scoped(() =>
    {
        // (x − m)·(1/s) with one new tensor, the rest in place; uint8 is scaled to [0, 1] on the way (fused:
        // (x − 255m)·(1/(255s)) on the float copy).
        bool floating = x.DType.IsFloating();
        double unit = floating ? 1.0 : 255.0;
        if (Mean.Count == 1)
            return (floating ? x - Mean[0] : x.To(DType.Float32).Sub_(Mean[0] * unit)).Mul_(1.0 / (Std[0] * unit));
        if (ChannelDim(x) < 0 || x.Size(1) != Mean.Count)
            throw new ArgumentException($"Normalize: {Mean.Count} channel statistics do not fit a batch of shape [{string.Join(", ", x.Shape)}] (channels are dimension 1 of [N, C, H, W] or [N, F]).");
        var shape = Enumerable.Repeat(1L, x.Dim).ToArray();
        shape[1] = Mean.Count;
        var dtype = floating ? x.DType : DType.Float32;
        var mean = Torch.From(Mean.Select(v => v * unit).ToArray(), shape).To(x.Device, dtype);
        var scale = Torch.From(Std.Select(v => 1.0 / (v * unit)).ToArray(), shape).To(x.Device, dtype);
        return (floating ? x - mean : x.To(DType.Float32).Sub_(mean)).Mul_(scale);
    });

    /// <inheritdoc/>
    public override string ToString() => $"Normalize(mean=[{string.Join(", ", Mean.Select(v => v.ToString("G4")))}], std=[{string.Join(", ", Std.Select(v => v.ToString("G4")))}])";
}

/// <summary>Flattens every sample: [N, d1, d2, …] → [N, d1·d2·…].</summary>
public sealed class Flatten : Transform
{
    /// <inheritdoc/>
    public override Tensor Apply(Tensor x, Generator? generator = null) => x.Flatten(1);
}

/// <summary>
/// Resizes images [N, H, W] or [N, C, H, W] to <see cref="Height"/>×<see cref="Width"/> with
/// <see cref="Functional.Interpolate"/> (torch.nn.functional.interpolate, align_corners false). Integer images are
/// resized in float and rounded back to their dtype (uint8 clamped to 0–255). To shrink, use
/// <see cref="InterpolationMode.Area"/> (each output pixel the mean of the input pixels it covers): bilinear and nearest
/// read only a few input pixels per output pixel, so thin lines such as clock hands break up; to enlarge, bilinear.
/// </summary>
public sealed class Resize(long height, long width, InterpolationMode mode = InterpolationMode.Bilinear) : Transform
{
    /// <summary>Output height.</summary>
    public long Height { get; } = height > 0 ? height : throw new ArgumentOutOfRangeException(nameof(height));
    /// <summary>Output width.</summary>
    public long Width { get; } = width > 0 ? width : throw new ArgumentOutOfRangeException(nameof(width));
    /// <summary>The resampling: nearest, bilinear (the default), bicubic or area (see <see cref="InterpolationMode"/>).</summary>
    public InterpolationMode Mode { get; } = mode;

    /// <inheritdoc/>
    public override Tensor Apply(Tensor x, Generator? generator = null) => Scoped(() =>
    {
        var dtype = x.DType;
        var img = AsNchw(x, "Resize");
        if (!dtype.IsFloating()) img = img.To(DType.Float32);
        var y = Functional.Interpolate(img, (Height, Width), Mode);
        if (!dtype.IsFloating()) y = y.Round().Clamp(0, 255).To(dtype);
        return FromNchw(y, x);
    });

    /// <inheritdoc/>
    public override string ToString() => $"Resize({Height}×{Width}, {Mode})";
}

/// <summary>
/// A fixed random permutation of the pixels (features) of every sample, as in seed 004's permuted
/// MNIST: output pixel i is input pixel <see cref="Indices"/>[i] of the flattened sample. Build it once
/// and apply the same object to the training and the test set. Works on any dtype and keeps the shape.
/// </summary>
public sealed class PixelPermutation : Transform
{
    readonly long[] indices;

    /// <summary>A permutation of <paramref name="pixels"/> positions drawn with libtorch's randperm from <paramref name="seed"/>.</summary>
    public PixelPermutation(long pixels, long seed)
    {
        if (pixels <= 0) throw new ArgumentOutOfRangeException(nameof(pixels), $"PixelPermutation: {pixels} pixels; need at least one.");
        using var g = new Generator(seed);
        using var p = Torch.Randperm(pixels, g);
        indices = p.ToArray<long>();
        Seed = seed;
    }

    PixelPermutation(long[] indices, long? seed) { this.indices = indices; Seed = seed; }

    /// <summary>A permutation from explicit indices (each of 0 … n−1 exactly once).</summary>
    public static PixelPermutation FromIndices(long[] indices)
    {
        var seen = new bool[indices.Length];
        foreach (var i in indices)
        {
            if (i < 0 || i >= indices.Length || seen[i])
                throw new ArgumentException($"PixelPermutation: indices must hold each of 0 … {indices.Length - 1} exactly once ({i} is {(i < 0 || i >= indices.Length ? "out of range" : "repeated")}).");
            seen[i] = true;
        }
        return new PixelPermutation(indices.ToArray(), null);
    }

    /// <summary>The seed it was drawn from (null when built from explicit indices).</summary>
    public long? Seed { get; }

    /// <summary>Number of pixels per sample it permutes.</summary>
    public long Pixels => indices.Length;

    /// <summary>A copy of the permutation: output position i takes input position Indices[i].</summary>
    public long[] Indices => indices.ToArray();

    /// <summary>The inverse permutation (applying both, in either order, is the identity).</summary>
    public PixelPermutation Inverse()
    {
        var inv = new long[indices.Length];
        for (long i = 0; i < indices.Length; i++) inv[indices[i]] = i;
        return new PixelPermutation(inv, null);
    }

    /// <inheritdoc/>
    public override Tensor Apply(Tensor x, Generator? generator = null) => Scoped(() =>
    {
        var shape = x.Shape;
        var flat = x.Flatten(1);
        if (flat.Size(1) != indices.Length)
            throw new ArgumentException($"PixelPermutation: built for {indices.Length} pixels per sample but the batch [{string.Join(", ", shape)}] has {flat.Size(1)}.");
        var idx = Torch.From(indices, indices.LongLength).To(x.Device);
        return flat.IndexSelect(1, idx).Reshape(shape);
    });

    /// <inheritdoc/>
    public override string ToString() => $"PixelPermutation({indices.Length}{(Seed is { } s ? $", seed={s}" : "")})";
}

/// <summary>
/// Additive Gaussian noise x + a·N(0, 1) (seed 000's Task 3.4), optionally clamped. uint8 images are
/// first scaled to [0, 1] (<see cref="Transform.AsUnitFloat"/>).
/// </summary>
public sealed class GaussianNoise(double amplitude, long seed = 0, double? min = null, double? max = null) : RandomTransform(seed)
{
    /// <summary>The noise scale a.</summary>
    public double Amplitude { get; } = amplitude >= 0 ? amplitude : throw new ArgumentOutOfRangeException(nameof(amplitude), $"GaussianNoise: amplitude {amplitude} must be ≥ 0.");
    /// <summary>Lower clamp (none when null).</summary>
    public double? Min { get; } = min;
    /// <summary>Upper clamp (none when null).</summary>
    public double? Max { get; } = max;

    /// <inheritdoc/>
    protected override Tensor Sample(Tensor x, Generator g)
    {
        var f = AsUnitFloat(x);
        var noise = Torch.Randn(f.Shape, g, f.DType, f.Device);
        var y = f + noise * Amplitude;
        return Min is null && Max is null ? y : y.Clamp(Min, Max);
    }

    /// <inheritdoc/>
    public override string ToString() => $"GaussianNoise(a={Amplitude})";
}

/// <summary>
/// Seed 004's clock preprocessing: raise the contrast of the dark elements (hands, ticks, digits) against
/// the bright face by subtracting brightness from pixels darker than <see cref="Threshold"/>, the more
/// the darker they are: y = clamp(x − Strength·max(0, Threshold − x), 0, 1) on [0, 1] pixels.
/// </summary>
/// <remarks>
/// The seed describes the idea (“subtracting brightness from the already somewhat dark pixels, and
/// subtracting even more from the already quite dark pixels”) without a formula; this is the
/// thresholded linear form of it. Pixels at or above the threshold are unchanged, the map is continuous
/// and increasing (slope 1 + Strength below the threshold), and pixels darker than
/// Threshold·Strength/(1 + Strength) become black. uint8 input is scaled to [0, 1] first; output is float32.
/// </remarks>
public sealed class DarkContrast(double threshold = 0.6, double strength = 1.0) : Transform
{
    /// <summary>Pixels below this value are darkened.</summary>
    public double Threshold { get; } = threshold is > 0 and <= 1 ? threshold : throw new ArgumentOutOfRangeException(nameof(threshold), $"DarkContrast: threshold {threshold} must lie in (0, 1].");
    /// <summary>How much darker: the slope below the threshold is 1 + Strength.</summary>
    public double Strength { get; } = strength >= 0 ? strength : throw new ArgumentOutOfRangeException(nameof(strength), $"DarkContrast: strength {strength} must be ≥ 0.");

    /// <summary>The curve on one value (for plots and tests).</summary>
    public double Map(double x) => Math.Clamp(x - Strength * Math.Max(0, Threshold - x), 0, 1);

    /// <inheritdoc/>
    public override Tensor Apply(Tensor x, Generator? generator = null) => Scoped(() =>
    {
        var f = AsUnitFloat(x);
        var below = Functional.Relu(Threshold - f);
        return (f - below * Strength).Clamp(0, 1);
    });

    /// <inheritdoc/>
    public override string ToString() => $"DarkContrast(threshold={Threshold}, strength={Strength})";
}
