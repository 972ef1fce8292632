namespace Dsl.Data.Tests.Pipeline;

/// <summary>
/// PCA: the exact fit against an independent float64 eigendecomposition of the covariance, the chunked
/// covariance and randomized fits against the exact SVD, reconstruction error against Eckart–Young, and
/// chunk ownership.
/// </summary>
public class PcaTests
{
    /// <summary>Rows [n, d] with a decaying spectrum: Z·diag(σ)·Qᵀ + μ + small noise (float32).</summary>
    static Tensor LowRankish(long n, long d, long seed, double decay = 0.7, double noise = 0.01)
    {
        using var scope = DisposeScope.Enter();
        using var g = new Generator(seed);
        long r = Math.Min(n, d);
        var z = Torch.Randn(new[] { n, r }, g, DType.Float64);
        var (q, _) = Linalg.Qr(Torch.Randn(new[] { d, r }, g, DType.Float64));
        var sigma = Torch.From(Enumerable.Range(0, (int)r).Select(i => 10 * Math.Pow(decay, i)).ToArray(), r);
        var mu = Torch.Randn(new[] { d }, g, DType.Float64) * 5.0;
        var x = (z * sigma).Mm(q.T) + mu + Torch.Randn(new[] { n, d }, g, DType.Float64) * noise;
        return scope.MoveOut(x.To(DType.Float32));
    }

    static double MaxAbs(Tensor a, Tensor b) { using var d = (a - b).Abs().Max(); return d.ToDouble(); }

    [Test]
    public void ExactFitMatchesTheCovarianceEigendecomposition()
    {
        using var scope = DisposeScope.Enter();
        var x = LowRankish(200, 12, seed: 1);
        using var pca = Pca.Fit(x, 5);
        // Reference in float64: eigenvalues of the sample covariance (an SVD of a symmetric PSD matrix).
        var x64 = x.To(DType.Float64);
        var c = x64 - x64.Mean(new[] { 0L });
        var cov = c.T.Mm(c) / 199.0;
        var (_, eig, vh) = Linalg.Svd(cov);
        Assert.That(pca.ExplainedVariance.ToArray<float>().Select(v => (double)v), Is.EqualTo(eig.Narrow(0, 0, 5).ToArray<double>()).Within(1e-3).Percent);
        var cos = (pca.Components.To(DType.Float64).Mm(vh.Narrow(0, 0, 5).T)).Abs();
        Assert.That(Linalg.Diagonal(cos).Min().ToDouble(), Is.GreaterThan(0.9999), "components agree up to sign");
        Assert.That(MaxAbs(pca.Mean.To(DType.Float64), x64.Mean(new[] { 0L })), Is.LessThan(1e-4));
        var ratio = pca.ExplainedVarianceRatio;
        Assert.That(ratio.Zip(ratio.Skip(1)).All(p => p.First >= p.Second), Is.True, "ratios decrease");
        Assert.That(ratio.Sum(), Is.LessThanOrEqualTo(1 + 1e-6));
        using var full = Pca.Fit(x, 12);
        Assert.That(full.ExplainedVarianceRatio.Sum(), Is.EqualTo(1).Within(1e-4), "all components explain all the variance");
        // Components are orthonormal and signed deterministically (largest entry positive).
        var gram = pca.Components.Mm(pca.Components.T);
        Assert.That(MaxAbs(gram, Torch.Eye(5)), Is.LessThan(1e-5));
        var comps = pca.Components.ToNDArray<float>() as float[,];
        for (int i = 0; i < 5; i++)
        {
            var row = Enumerable.Range(0, 12).Select(j => comps![i, j]).ToArray();
            Assert.That(row.MaxBy(Math.Abs), Is.GreaterThan(0));
        }
    }

    [TestCase(PcaMethod.Covariance, 1e-4, 1e-4)]
    [TestCase(PcaMethod.Randomized, 2e-3, 1e-3)]
    public void ChunkedFitsAgreeWithTheExactSvd(PcaMethod method, double varianceTol, double cosTol)
    {
        using var scope = DisposeScope.Enter();
        var x = LowRankish(300, 60, seed: 2);
        using var exact = Pca.Fit(x, 8);
        var chunks = x.Split(37);
        using var pca = Pca.Fit(chunks, 8, new PcaOptions { Method = method, DisposeChunks = false, Seed = 3 });
        Assert.That(pca.Samples, Is.EqualTo(300));
        var ev = pca.ExplainedVariance.ToArray<float>();
        var ee = exact.ExplainedVariance.ToArray<float>();
        for (int i = 0; i < 8; i++) Assert.That(Math.Abs(ev[i] - ee[i]) / ee[i], Is.LessThan(varianceTol), $"{method}: variance {i}: {ev[i]} vs {ee[i]}");
        var cos = Linalg.Diagonal(pca.Components.Mm(exact.Components.T));
        Assert.That(cos.Min().ToDouble(), Is.GreaterThan(1 - cosTol), $"{method}: components agree (same signs)");
        Assert.That(pca.TotalVariance, Is.EqualTo(exact.TotalVariance).Within(1e-3).Percent);
        Assert.That(pca.ExplainedVarianceRatio, Is.EqualTo(exact.ExplainedVarianceRatio).Within(2e-3));
        var zt = pca.Transform(x);
        var ze = exact.Transform(x);
        Assert.That(MaxAbs(zt, ze) / ze.Abs().Max().ToDouble(), Is.LessThan(5e-3), "the codes agree");
        var zc = pca.Transform(x.Split(50), disposeChunks: true);
        Assert.That(MaxAbs(zc, zt), Is.LessThan(1e-4), "chunked transform = whole transform");
    }

    public sealed record ReconCase(int N, int D, int Seed);

    static Arbitrary<ReconCase> ReconCases() =>
        Arb(from n in Gen.Choose(2, 40) from d in Gen.Choose(1, 12) from s in Gen.Choose(0, 10_000) select new ReconCase(n, d, s),
            c => Smaller(c.N, 2).Select(v => c with { N = v }).Concat(Smaller(c.D, 1).Select(v => c with { D = v }))
                 .Concat(c.Seed != 0 ? new[] { c with { Seed = 0 } } : Array.Empty<ReconCase>()));

    [Property(MaxTest = 60, QuietOnSuccess = true)]
    public Property ReconstructionErrorDecreasesAsComponentsIncrease() => Prop.ForAll(ReconCases(), c =>
    {
        using var scope = DisposeScope.Enter();
        var x = LowRankish(c.N, c.D, c.Seed, decay: 0.8, noise: 0.1);
        int kmax = Math.Min(c.N, c.D);
        using var pca = Pca.Fit(x, kmax);
        var z = pca.Transform(x);
        var total = (x - pca.Mean).Square().Sum().ToDouble();
        var variances = pca.ExplainedVariance.ToArray<float>();
        double previous = double.PositiveInfinity;
        for (int k = 1; k <= kmax; k++)
        {
            var back = pca.InverseTransform(z.Narrow(1, 0, k));
            double err = (x - back).Square().Sum().ToDouble();
            Require(err <= previous * (1 + 1e-4) + 1e-4, $"error rose from {previous} to {err} at k = {k}");
            // Eckart–Young: the error is (n − 1)·(sum of the discarded variances).
            double discarded = (c.N - 1) * variances.Skip(k).Sum(v => (double)v);
            Require(Math.Abs(err - discarded) <= 1e-3 * total + 1e-3, $"k = {k}: error {err} but the discarded variance gives {discarded}");
            previous = err;
        }
        Require(previous <= 1e-6 * total + 1e-3, $"full rank leaves error {previous}");
    });

    [Test]
    public void ChunkOwnershipAndErrors()
    {
        var x = LowRankish(100, 20, seed: 4);
        var baseline = SettledLiveCount();
        // Chunks made on the fly are disposed after use (the default); nothing is left behind.
        IEnumerable<Tensor> Lazy() { for (int i = 0; i < 100; i += 30) { using var v = x.Narrow(0, i, Math.Min(30, 100 - i)); yield return v.Clone(); } }
        foreach (var method in new[] { PcaMethod.Covariance, PcaMethod.Randomized })
        {
            using var pca = Pca.Fit(Lazy(), 4, new PcaOptions { Method = method });
            Assert.That(Tensor.LiveCount, Is.EqualTo(baseline + 3), $"{method}: only the mean, components and variances remain");
        }
        Assert.That(Tensor.LiveCount, Is.EqualTo(baseline));
        // Kept chunks are left alone.
        var kept = x.Split(25);
        using (Pca.Fit(kept, 3, new PcaOptions { DisposeChunks = false })) { }
        Assert.That(kept.All(t => !t.IsDisposed), Is.True);
        // A source that changes between passes is caught.
        int calls = 0;
        IEnumerable<Tensor> Shrinking() { calls++; for (int i = 0; i < (calls == 1 ? 4 : 3); i++) { using var v = x.Narrow(0, i * 25, 25); yield return v.Clone(); } }
        var e = Assert.Throws<InvalidOperationException>(() => Pca.Fit(Shrinking(), 3, new PcaOptions { Method = PcaMethod.Randomized }));
        Assert.That(e!.Message, Does.Contain("same rows"));
        Assert.Throws<ArgumentOutOfRangeException>(() => Pca.Fit(x, 21));
        Assert.Throws<ArgumentException>(() => Pca.Fit(Array.Empty<Tensor>(), 2));
        foreach (var t in kept) t.Dispose();
        x.Dispose();
    }
}
