namespace Dsl.Data;

/// <summary>How <see cref="Pca.Fit(IEnumerable{Tensor}, int, PcaOptions?)"/> computes the components.</summary>
public enum PcaMethod
{
    /// <summary><see cref="Covariance"/> when there are at most <see cref="Pca.AutoCovarianceLimit"/> (2,048) features, else <see cref="Randomized"/>.</summary>
    Auto,
    /// <summary>
    /// One pass accumulating the float64 scatter matrix Σ(x − shift)(x − shift)ᵀ (features × features), then an
    /// SVD of the covariance: exact, for up to a few thousand features.
    /// </summary>
    Covariance,
    /// <summary>
    /// Randomized SVD (Halko, Martinsson and Tropp 2011): a range finder Y = (X − μ)Ω over the chunks,
    /// <see cref="PcaOptions.PowerIterations"/> power iterations, then the SVD of the small matrix Qᵀ(X − μ).
    /// Memory is O(samples·(k + oversampling) + features·(k + oversampling)), never samples × features;
    /// it enumerates the chunks 3 + 2·(power iterations) times.
    /// </summary>
    Randomized,
}

/// <summary>Options of the chunked <see cref="Pca"/> fit.</summary>
public sealed record PcaOptions
{
    /// <summary>The algorithm.</summary>
    public PcaMethod Method { get; init; } = PcaMethod.Auto;
    /// <summary>Extra random directions of the randomized range finder (k + this many are tracked).</summary>
    public int Oversampling { get; init; } = 10;
    /// <summary>Power iterations of the randomized method (each costs two passes; 2 suits slowly decaying spectra such as images).</summary>
    public int PowerIterations { get; init; } = 2;
    /// <summary>Seed of the random test matrix.</summary>
    public long Seed { get; init; }
    /// <summary>
    /// Dispose every chunk after use (default): right for chunks made on the fly, e.g. read from files. Set
    /// false when the enumerable yields tensors you keep (an array of splits), which it may then yield again.
    /// </summary>
    public bool DisposeChunks { get; init; } = true;
}

/// <summary>
/// Principal component analysis fitted on training data and applied to any split (seed 002: 120,000-pixel
/// faces → 128 dimensions). Fits in memory (<see cref="Fit(Tensor, int)"/>, exact SVD) or over row chunks
/// (<see cref="Fit(IEnumerable{Tensor}, int, PcaOptions?)"/>) for data larger than memory. Components are
/// orthonormal rows, ordered by decreasing variance, with a deterministic sign (largest |entry| positive).
/// Computation is in float32 (float64 for the covariance method and float64 input); results are float32.
/// </summary>
public sealed class Pca : IDisposable
{
    Pca(Tensor mean, Tensor components, Tensor explainedVariance, double totalVariance, long samples)
    {
        Mean = mean;
        Components = components;
        ExplainedVariance = explainedVariance;
        TotalVariance = totalVariance;
        Samples = samples;
        using var r = explainedVariance.To(DType.Float64) / totalVariance;
        ExplainedVarianceRatio = totalVariance > 0 ? r.ToArray<double>() : new double[explainedVariance.Size(0)];
    }

    /// <summary>Per-feature training mean [D].</summary>
    public Tensor Mean { get; }
    /// <summary>The principal axes [k, D], orthonormal rows.</summary>
    public Tensor Components { get; }
    /// <summary>Variance along each component (eigenvalues of the sample covariance, n − 1 denominator) [k].</summary>
    public Tensor ExplainedVariance { get; }
    /// <summary>Fraction of the total variance each component explains.</summary>
    public IReadOnlyList<double> ExplainedVarianceRatio { get; }
    /// <summary>Total variance of the training data (sum over features, n − 1 denominator).</summary>
    public double TotalVariance { get; }
    /// <summary>Number of training samples.</summary>
    public long Samples { get; }
    /// <summary>Number of components k.</summary>
    public long ComponentCount => Components.Size(0);
    /// <summary>Number of input features D.</summary>
    public long Features => Components.Size(1);

    static Tensor Rows(Tensor x, string op)
    {
        if (x.Dim < 2) throw new ArgumentException($"{op}: expected rows [N, D] (or [N, …], flattened), got [{string.Join(", ", x.Shape)}].");
        var f = x.Dim == 2 ? x.Alias() : x.Flatten(1);
        if (f.DType is DType.Float32 or DType.Float64) return f;
        var g = f.To(DType.Float32);
        f.Dispose();
        return g;
    }

    /// <summary>Exact PCA of in-memory rows [N, D] by the SVD of the centred data.</summary>
    public static Pca Fit(Tensor x, int components)
    {
        using var scope = DisposeScope.Enter();
        var rows = Rows(x, "Pca.Fit");
        long n = rows.Size(0), d = rows.Size(1);
        CheckK(components, n, d);
        var mean = rows.Mean(new[] { 0L });
        var centred = rows - mean;
        var (_, s, vh) = Linalg.Svd(centred);
        var total = centred.Square().Sum().ToDouble() / Math.Max(1, n - 1);
        return Build(mean, s.Narrow(0, 0, components), vh.Narrow(0, 0, components), total, n, scope);
    }

    /// <summary>
    /// PCA over row chunks [n_i, D] (each chunk any number of rows): exact via the covariance for few
    /// features, randomized SVD otherwise (see <see cref="PcaMethod"/>). The enumerable must yield the same
    /// rows each time it is enumerated (it is enumerated once by the covariance method, several times by
    /// the randomized one); see <see cref="PcaOptions.DisposeChunks"/> for chunk ownership.
    /// </summary>
    public static Pca Fit(IEnumerable<Tensor> chunks, int components, PcaOptions? options = null)
    {
        var o = options ?? new PcaOptions();
        using var scope = DisposeScope.Enter();
        // Pass 1 (the only one of the covariance method): float64 sums of x − s and, for the covariance
        // method, of (x − s)(x − s)ᵀ, with s the first row (keeps the sums well conditioned when the mean
        // is far from 0). The method is chosen at the first chunk, when the feature count is known.
        Tensor? shift = null, sum = null, scatter = null;
        double shiftedSquares = 0;
        long n = 0;
        var dtype = DType.Float32;
        var method = o.Method;
        foreach (var rows in Pass(chunks, o))
        {
            using var step = DisposeScope.Enter();
            var r = rows.To(DType.Float64);
            if (shift is null)
            {
                long d0 = r.Size(1);
                dtype = rows.DType;
                if (method == PcaMethod.Auto) method = d0 <= AutoCovarianceLimit ? PcaMethod.Covariance : PcaMethod.Randomized;
                if (method == PcaMethod.Covariance && d0 > 16384)
                    throw new ArgumentException($"Pca.Fit: the covariance method needs a {d0}×{d0} matrix; use PcaMethod.Randomized (or Auto) for {d0} features.");
                shift = step.MoveOut(r.Select(0, 0).Clone());
                sum = step.MoveOut(Torch.Zeros(new[] { d0 }, DType.Float64, r.Device));
                if (method == PcaMethod.Covariance) scatter = step.MoveOut(Torch.Zeros(new[] { d0, d0 }, DType.Float64, r.Device));
            }
            if (r.Size(1) != shift.Size(0)) throw new ArgumentException($"Pca.Fit: a chunk has {r.Size(1)} features, earlier chunks {shift.Size(0)}.");
            var c = r - shift;
            sum!.Add_(c.Sum(new[] { 0L }));
            if (scatter is not null) scatter.Add_(c.T.Mm(c));
            else shiftedSquares += c.Square().Sum().ToDouble();
            n += r.Size(0);
        }
        if (shift is null) throw new ArgumentException("Pca.Fit: the chunk sequence is empty.");
        long d = shift.Size(0);
        CheckK(components, n, d);
        var meanShift = sum! / (double)n;
        var mean64 = meanShift + shift;
        if (method == PcaMethod.Covariance)
        {
            // Σ(x − μ)(x − μ)ᵀ = Σ(x − s)(x − s)ᵀ − n (μ − s)(μ − s)ᵀ
            var cov = (scatter! - meanShift.Outer(meanShift) * (double)n) / (double)Math.Max(1, n - 1);
            cov = (cov + cov.T) * 0.5;
            var (_, eig, vh) = Linalg.Svd(cov);           // symmetric PSD: the singular values are the eigenvalues
            var total = Linalg.Diagonal(cov).Sum().ToDouble();
            var singular = (eig.Narrow(0, 0, components).Clamp(0) * (double)Math.Max(1, n - 1)).Sqrt();
            return Build(mean64, singular, vh.Narrow(0, 0, components), total, n, scope);
        }
        // Total variance: Σ‖x − μ‖² = Σ‖x − s‖² − n‖μ − s‖².
        var total64 = (shiftedSquares - meanShift.Square().Sum().ToDouble() * n) / Math.Max(1, n - 1);
        return Randomized(chunks, components, o, mean64.To(dtype), n, Math.Max(0, total64), scope);
    }

    /// <summary>Largest feature count for which <see cref="PcaMethod.Auto"/> picks the covariance method.</summary>
    public const int AutoCovarianceLimit = 2048;

    // Enumerates the chunks as float rows, disposing each chunk (if asked) and each float copy after use.
    static IEnumerable<Tensor> Pass(IEnumerable<Tensor> chunks, PcaOptions o)
    {
        foreach (var chunk in chunks)
        {
            Tensor rows;
            try { rows = Rows(chunk, "Pca.Fit").DetachFromScope(); }
            finally { if (o.DisposeChunks) chunk.Dispose(); }
            try { yield return rows; }
            finally { rows.Dispose(); }
        }
    }

    static void CheckK(int k, long n, long d)
    {
        if (k < 1 || k > Math.Min(n, d))
            throw new ArgumentOutOfRangeException(nameof(k), $"Pca: {k} components requested from {n} samples of {d} features; need 1 ≤ k ≤ min(samples, features) = {Math.Min(n, d)}.");
    }

    // Randomized SVD given the mean and total variance of pass 1: passes 2 … 3 + 2q.
    static Pca Randomized(IEnumerable<Tensor> chunks, int k, PcaOptions o, Tensor mean, long n, double total, DisposeScope scope)
    {
        var dtype = mean.DType;
        long d = mean.Size(0);
        int l = (int)Math.Min(Math.Min(n, d), k + Math.Max(0, o.Oversampling));
        using var g = new Generator(o.Seed);
        var omega = Torch.Randn(new[] { d, (long)l }, g, dtype, mean.Device);

        // Y = (X − μ)·Z for a [D, l] matrix Z, row chunks stacked; returns its orthonormal basis Q [N, l].
        // (Centring each chunk before the product, rather than subtracting μᵀZ afterwards, keeps float32
        // accurate when the mean is large compared with the spread.)
        Tensor RangeBasis(Tensor z)
        {
            var parts = new List<Tensor>();
            long rowsSeen = 0;
            using (var pass = DisposeScope.Enter())
            {
                foreach (var rows in Pass(chunks, o))
                {
                    using var step = DisposeScope.Enter();
                    parts.Add(step.MoveOut((rows - mean).Mm(z)));
                    rowsSeen += rows.Size(0);
                }
                pass.MoveOut(parts);
            }
            if (rowsSeen != n) throw new InvalidOperationException($"Pca.Fit: the chunks held {n} rows in the first pass but {rowsSeen} later; the enumerable must yield the same rows every time.");
            var y = Torch.Cat(parts);
            foreach (var p in parts) p.Dispose();
            var (q, r) = Linalg.Qr(y);
            y.Dispose(); r.Dispose();
            return q;
        }

        // (X − μ)ᵀ·Q [D, l], accumulated over the chunks (Q's rows follow the chunk rows).
        Tensor Project(Tensor q)
        {
            var acc = Torch.Zeros(new[] { d, q.Size(1) }, dtype, mean.Device);
            long start = 0;
            foreach (var rows in Pass(chunks, o))
            {
                using var step = DisposeScope.Enter();
                long m = rows.Size(0);
                if (start + m > n) throw new InvalidOperationException($"Pca.Fit: the chunks held {n} rows in the first pass but more later; the enumerable must yield the same rows every time.");
                acc.Add_((rows - mean).T.Mm(q.Narrow(0, start, m)));
                start += m;
            }
            if (start != n) throw new InvalidOperationException($"Pca.Fit: the chunks held {n} rows in the first pass but {start} later; the enumerable must yield the same rows every time.");
            return acc;
        }

        var basis = RangeBasis(omega);
        for (int i = 0; i < o.PowerIterations; i++)
        {
            var z = Project(basis);
            basis.Dispose();
            var (qz, rz) = Linalg.Qr(z);
            z.Dispose(); rz.Dispose();
            basis = RangeBasis(qz);
            qz.Dispose();
        }
        var bt = Project(basis);                      // [D, l] = (X − μ)ᵀ Q = Bᵀ
        var (_, s2, vh) = Linalg.Svd(bt.T);           // B = Qᵀ(X − μ) [l, D] = U S Vh
        return Build(mean, s2.Narrow(0, 0, k), vh.Narrow(0, 0, k), total, n, scope);
    }

    // Fixes the component signs, computes the variances and moves the results out of the fit's scope.
    static Pca Build(Tensor mean, Tensor singular, Tensor vh, double total, long n, DisposeScope scope)
    {
        var (_, at) = vh.Abs().Max(1);
        var pick = vh.Gather(1, at.Unsqueeze(1));              // [k, 1] entry of largest magnitude
        var sign = Torch.Where(pick.Lt(0.0), Torch.Full(pick.Shape, -1.0, vh.DType, vh.Device), Torch.Full(pick.Shape, 1.0, vh.DType, vh.Device));
        var comps = (vh * sign).To(DType.Float32).Contiguous();
        var variance = (singular.To(DType.Float64).Square() / (double)Math.Max(1, n - 1)).To(DType.Float32);
        var m = mean.To(DType.Float32).Contiguous();
        return new Pca(scope.MoveOut(m).DetachFromScope(), scope.MoveOut(comps).DetachFromScope(), scope.MoveOut(variance).DetachFromScope(), total, n);
    }

    /// <summary>Projects rows [N, D] (or [N, …], flattened) onto the components: (x − mean)·Componentsᵀ, [N, k].</summary>
    public Tensor Transform(Tensor x)
    {
        using var scope = DisposeScope.Enter();
        var rows = Rows(x, "Pca.Transform");
        if (rows.Size(1) != Features) throw new ArgumentException($"Pca.Transform: rows have {rows.Size(1)} features but the PCA was fitted on {Features}.");
        var m = Mean.To(rows.Device, rows.DType);
        var c = Components.To(rows.Device, rows.DType);
        return scope.MoveOut((rows - m).Mm(c.T));
    }

    /// <summary>Projects a sequence of row chunks (disposing each chunk after use) and concatenates the codes [N, k].</summary>
    public Tensor Transform(IEnumerable<Tensor> chunks, bool disposeChunks = true)
    {
        var parts = new List<Tensor>();
        try
        {
            foreach (var chunk in chunks)
            {
                try { parts.Add(Transform(chunk).DetachFromScope()); }
                finally { if (disposeChunks) chunk.Dispose(); }
            }
            if (parts.Count == 0) throw new ArgumentException("Pca.Transform: the chunk sequence is empty.");
            return Torch.Cat(parts);
        }
        finally { foreach (var p in parts) p.Dispose(); }
    }

    /// <summary>Maps codes [N, k'] (k' ≤ k, the leading components) back to the input space: z·Components[:k'] + mean, [N, D].</summary>
    public Tensor InverseTransform(Tensor z)
    {
        using var scope = DisposeScope.Enter();
        long kk = z.Size(1);
        if (kk > ComponentCount) throw new ArgumentException($"Pca.InverseTransform: codes have {kk} columns but there are {ComponentCount} components.");
        var c = Components.Narrow(0, 0, kk).To(z.Device, z.DType);
        return scope.MoveOut(z.Mm(c) + Mean.To(z.Device, z.DType));
    }

    /// <summary>Frees the mean, components and variances.</summary>
    public void Dispose()
    {
        Mean.Dispose();
        Components.Dispose();
        ExplainedVariance.Dispose();
    }
}
