namespace Dsl.Data.Tests.Pipeline;

/// <summary>
/// Deterministic batch transforms: flips, the fixed pixel permutation (a bijection, the same for every
/// split), normalisation statistics, scaling, resizing, seeded Gaussian noise and seed 004's contrast curve.
/// </summary>
public class TransformTests
{
    int savedThreads;
    [OneTimeSetUp] public void SingleThreaded() { savedThreads = Torch.NumThreads; Torch.NumThreads = 1; }
    [OneTimeTearDown] public void RestoreThreads() => Torch.NumThreads = savedThreads;

    /// <summary>A small image batch: shape and a seed for its values.</summary>
    public sealed record ImageCase(int N, int C, int H, int W, int Seed)
    {
        public long[] Shape => new long[] { N, C, H, W };
        public Tensor Make() => Randn(Seed, Shape);
    }

    static Arbitrary<ImageCase> Images(int maxN = 6, int maxC = 3, int maxSide = 9) =>
        Arb(from n in Gen.Choose(1, maxN)
            from c in Gen.Choose(1, maxC)
            from h in Gen.Choose(1, maxSide)
            from w in Gen.Choose(1, maxSide)
            from s in Gen.Choose(0, 10_000)
            select new ImageCase(n, c, h, w, s),
            c => Smaller(c.N, 1).Select(v => c with { N = v })
                 .Concat(Smaller(c.C, 1).Select(v => c with { C = v }))
                 .Concat(Smaller(c.H, 1).Select(v => c with { H = v }))
                 .Concat(Smaller(c.W, 1).Select(v => c with { W = v }))
                 .Concat(c.Seed != 0 ? new[] { c with { Seed = 0 } } : Array.Empty<ImageCase>()));

    [Property(MaxTest = 100, QuietOnSuccess = true)]
    public Property FlippingTwiceIsTheIdentity() => Prop.ForAll(Images(), c =>
    {
        using var scope = DisposeScope.Enter();
        var x = c.Make();
        var flip = new HorizontalFlip();
        Require(flip.Apply(flip.Apply(x)).Equal(x), "HorizontalFlip twice changed the batch");
        // A random flip replayed with the same seed flips the same samples back.
        var random = new RandomHorizontalFlip(0.5);
        using var g1 = new Generator(c.Seed);
        using var g2 = new Generator(c.Seed);
        var once = random.Apply(x, g1);
        Require(random.Apply(once, g2).Equal(x), "RandomHorizontalFlip replayed with the same seed is not its own inverse");
        // Each sample is either untouched or mirrored.
        var mirrored = x.Flip(-1);
        for (int i = 0; i < c.N; i++)
            Require(once[i].Equal(x[i]) || once[i].Equal(mirrored[i]), $"sample {i} is neither itself nor its mirror");
    });

    public sealed record PermutationCase(int Pixels, int Seed, int N);

    static Arbitrary<PermutationCase> Permutations() =>
        Arb(from p in Gen.Choose(1, 400) from s in Gen.Choose(0, 10_000) from n in Gen.Choose(1, 5) select new PermutationCase(p, s, n),
            c => Smaller(c.Pixels, 1).Select(v => c with { Pixels = v })
                 .Concat(Smaller(c.N, 1).Select(v => c with { N = v }))
                 .Concat(c.Seed != 0 ? new[] { c with { Seed = 0 } } : Array.Empty<PermutationCase>()));

    [Property(MaxTest = 100, QuietOnSuccess = true)]
    public Property PixelPermutationIsABijectionSharedByTrainAndTest() => Prop.ForAll(Permutations(), c =>
    {
        using var scope = DisposeScope.Enter();
        var perm = new PixelPermutation(c.Pixels, c.Seed);
        var idx = perm.Indices;
        Require(idx.OrderBy(i => i).SequenceEqual(Enumerable.Range(0, c.Pixels).Select(i => (long)i)), "indices are not a permutation of 0 … P−1");
        Require(new PixelPermutation(c.Pixels, c.Seed).Indices.SequenceEqual(idx), "the same seed gave another permutation");
        // "Train" and "test" batches (different values, one as images [N, 1, P] and one as rows [N, P]) are permuted alike.
        var train = Randn(c.Seed + 1, c.N, 1, c.Pixels);
        var test = Randn(c.Seed + 2, c.N + 1, c.Pixels);
        foreach (var batch in new[] { train, test })
        {
            var y = perm.Apply(batch);
            Require(y.Shape.SequenceEqual(batch.Shape), "the shape changed");
            var xs = batch.Flatten(1).ToArray<float>();
            var ys = y.Flatten(1).ToArray<float>();
            long n = batch.Size(0);
            for (long r = 0; r < n; r++)
                for (int i = 0; i < c.Pixels; i++)
                    Require(ys[r * c.Pixels + i] == xs[r * c.Pixels + idx[i]], $"row {r}: output pixel {i} is not input pixel {idx[i]}");
            Require(perm.Inverse().Apply(y).Equal(batch), "the inverse does not undo the permutation");
            Require(perm.Apply(perm.Inverse().Apply(batch)).Equal(batch), "the permutation does not undo its inverse");
        }
        // uint8 images keep their dtype.
        var bytes = Torch.Arange(0, c.Pixels, 1, DType.UInt8).Unsqueeze(0);
        Require(perm.Apply(bytes).DType == DType.UInt8, "dtype changed");
    });

    [Test]
    public void PixelPermutationChecksItsInput()
    {
        Assert.Throws<ArgumentException>(() => PixelPermutation.FromIndices(new long[] { 0, 0, 1 }));
        var p = new PixelPermutation(784, 4);
        using var x = Torch.Zeros(2, 10);
        var e = Assert.Throws<ArgumentException>(() => p.Apply(x));
        Assert.That(e!.Message, Does.Contain("784"));
        Assert.That(new PixelPermutation(784, 5).Indices, Is.Not.EqualTo(p.Indices), "different seeds, different permutations");
    }

    public sealed record NormalCase(int C, int N, int H, int W, double[] Means, double[] Stds, int Seed);

    static Arbitrary<NormalCase> NormalCases() =>
        Arb(from c in Gen.Choose(1, 3)
            from n in Gen.Choose(2, 40)
            from h in Gen.Choose(1, 12)
            from w in Gen.Choose(1, 12)
            from means in Gen.ArrayOf(Gen.Choose(-300, 300).Select(v => v / 100.0), c)
            from stds in Gen.ArrayOf(Gen.Choose(1, 500).Select(v => v / 100.0), c)
            from s in Gen.Choose(0, 10_000)
            select new NormalCase(c, n, h, w, means, stds, s),
            c => Smaller(c.N, 2).Select(v => c with { N = v })
                 .Concat(Smaller(c.H, 1).Select(v => c with { H = v }))
                 .Concat(Smaller(c.W, 1).Select(v => c with { W = v }))
                 .Concat(c.Means.Any(m => m != 0) ? new[] { c with { Means = new double[c.C] } } : Array.Empty<NormalCase>())
                 .Concat(c.Stds.Any(m => m != 1) ? new[] { c with { Stds = Enumerable.Repeat(1.0, c.C).ToArray() } } : Array.Empty<NormalCase>()));

    static Tensor Sample(NormalCase c, int seed)
    {
        var shape = new long[] { 1, c.C, 1, 1 };
        using var m = Torch.From(c.Means.Select(v => (float)v).ToArray(), shape);
        using var s = Torch.From(c.Stds.Select(v => (float)v).ToArray(), shape);
        using var z = Randn(seed, c.N, c.C, c.H, c.W);
        using var zs = z * s;
        return zs + m;
    }

    [Property(MaxTest = 100, QuietOnSuccess = true)]
    public Property NormalizeGivesZeroMeanUnitStdPerChannel() => Prop.ForAll(NormalCases(), c =>
    {
        using var scope = DisposeScope.Enter();
        var x = Sample(c, c.Seed);
        var norm = Normalize.Fit(x);
        long per = (long)c.N * c.H * c.W;
        var dims = new long[] { 0, 2, 3 };
        // On the data it was fitted on: exactly (to float32 rounding).
        var y = norm.Apply(x);
        var mean = y.Mean(dims).ToArray<float>();
        var std = y.Std(dims, unbiased: false).ToArray<float>();
        for (int ch = 0; ch < c.C; ch++)
        {
            Require(Math.Abs(mean[ch]) < 1e-4, $"channel {ch}: mean {mean[ch]} on the fitted data");
            Require(Math.Abs(std[ch] - 1) < 1e-3, $"channel {ch}: std {std[ch]} on the fitted data");
        }
        // On a fresh sample of the same distribution: within the sampling error of both samples
        // (mean: √(1/n + 1/m) standard deviations; std: √(1/2n + 1/2m)), at 6 sigma. These normal
        // approximations need the fitted std to be close to the true one, which fails for tiny samples
        // (with n = 2 the fitted std can be near 0 and the ratio is heavy-tailed), so they apply from n = 50.
        if (per < 50) return;
        var fresh = norm.Apply(Sample(c, c.Seed + 7919));
        var fm = fresh.Mean(dims).ToArray<float>();
        var fs = fresh.Std(dims, unbiased: false).ToArray<float>();
        double meanTol = 6 * Math.Sqrt(2.0 / per), stdTol = 6 * Math.Sqrt(1.0 / per) + 2.0 / per;
        for (int ch = 0; ch < c.C; ch++)
        {
            Require(Math.Abs(fm[ch]) < meanTol, $"channel {ch}: fresh mean {fm[ch]} beyond ±{meanTol:G3} (n = {per})");
            Require(Math.Abs(fs[ch] - 1) < stdTol, $"channel {ch}: fresh std {fs[ch]} beyond 1 ± {stdTol:G3} (n = {per})");
        }
    });

    [Property(MaxTest = 100, QuietOnSuccess = true)]
    public Property NormalizeFitOverChunksEqualsTheOneShotFit() => Prop.ForAll(NormalCases(), c =>
    {
        using var scope = DisposeScope.Enter();
        var x = Sample(c, c.Seed);
        var whole = Normalize.Fit(x);
        // Uneven chunks (1, 2, 3, … samples), images and their [N, C·H·W] rows both.
        IEnumerable<Tensor> Chunks(Tensor t)
        {
            for (long start = 0, size = 1; start < c.N; start += size, size++)
                yield return t.Narrow(0, start, Math.Min(size, c.N - start)).Clone();
        }
        var chunked = Normalize.Fit(Chunks(x));
        for (int ch = 0; ch < c.C; ch++)
        {
            Require(Math.Abs(chunked.Mean[ch] - whole.Mean[ch]) < 1e-5 * (1 + Math.Abs(whole.Mean[ch])), $"channel {ch}: mean {chunked.Mean[ch]} vs {whole.Mean[ch]}");
            Require(Math.Abs(chunked.Std[ch] - whole.Std[ch]) < 1e-5 * whole.Std[ch], $"channel {ch}: std {chunked.Std[ch]} vs {whole.Std[ch]}");
        }
        var rows = x.Flatten(1);
        var perFeature = Normalize.Fit(rows);
        var perFeatureChunked = Normalize.Fit(Chunks(rows));
        Require(perFeature.Mean.Count == c.C * c.H * c.W && perFeatureChunked.Mean.Count == perFeature.Mean.Count, "one statistic per feature of [N, F] rows");
        for (int f = 0; f < perFeature.Mean.Count; f++)
            Require(Math.Abs(perFeatureChunked.Std[f] - perFeature.Std[f]) < 1e-5 * perFeature.Std[f] + 1e-9, $"feature {f}: std {perFeatureChunked.Std[f]} vs {perFeature.Std[f]}");
    });

    [Test]
    public void NormalizeFitOverChunksRefusesMismatchedAndEmptyChunks()
    {
        using var scope = DisposeScope.Enter();
        var e = Assert.Throws<ArgumentException>(() => Normalize.Fit(new[] { Torch.Zeros(2, 3), Torch.Zeros(2, 4) }))!;
        Assert.That(e.Message, Does.Contain("Normalize.Fit").And.Contain("[2, 4]").And.Contain("3 channels"));
        Assert.That(Assert.Throws<ArgumentException>(() => Normalize.Fit(Array.Empty<Tensor>()))!.Message, Does.Contain("empty"));
        Assert.That(Assert.Throws<ArgumentException>(() => Normalize.Fit(new[] { Torch.Zeros(2, 3, 4) }))!.Message, Does.Contain("[N, F] or images [N, C, H, W]"));
    }

    [Test]
    public void NormalizeHandlesRowsSingleChannelImagesAndBytes()
    {
        using var scope = DisposeScope.Enter();
        var rows = Torch.From(new float[] { 1, 10, 3, 30, 5, 50 }, 3, 2);
        var n = Normalize.Fit(rows);
        Assert.That(n.Mean, Is.EqualTo(new[] { 3.0, 30.0 }).Within(1e-9));
        Assert.That(n.Std[0], Is.EqualTo(Math.Sqrt(8.0 / 3)).Within(1e-6));
        var images = Torch.From(new byte[] { 0, 255, 0, 255, 0, 255, 0, 255 }, 2, 2, 2);
        var m = Normalize.Fit(images);
        Assert.That(m.Mean, Is.EqualTo(new[] { 0.5 }).Within(1e-9), "uint8 images are measured on [0, 1]");
        Assert.That(m.Apply(images).Abs().Max().ToDouble(), Is.EqualTo(1).Within(1e-6));
        Assert.Throws<ArgumentException>(() => new Normalize(new[] { 0.0, 0.0 }, new[] { 1.0, 1.0 }).Apply(Torch.Zeros(2, 3, 4, 4)));
        Assert.Throws<ArgumentException>(() => new Normalize(0, 0));
    }

    [Test]
    public void ToFloatFlattenAndResize()
    {
        using var scope = DisposeScope.Enter();
        var bytes = Torch.From(new byte[] { 0, 51, 255, 102 }, 1, 2, 2);
        Assert.That(new ToFloat().Apply(bytes).ToArray<float>(), Is.EqualTo(new[] { 0f, 0.2f, 1f, 0.4f }).Within(1e-6));
        Assert.That(new Flatten().Apply(Torch.Zeros(5, 1, 28, 28)).Shape, Is.EqualTo(new long[] { 5, 784 }));
        var r = new Resize(14, 7).Apply(Torch.Full(new long[] { 3, 2, 28, 28 }, 0.25));
        Assert.That(r.Shape, Is.EqualTo(new long[] { 3, 2, 14, 7 }));
        Assert.That((r - 0.25).Abs().Max().ToDouble(), Is.LessThan(1e-6), "a constant image stays constant");
        var rb = new Resize(56, 56, InterpolationMode.Nearest).Apply(Torch.Full(new long[] { 2, 28, 28 }, 200, DType.UInt8));
        Assert.That(rb.Shape, Is.EqualTo(new long[] { 2, 56, 56 }));
        Assert.That(rb.DType, Is.EqualTo(DType.UInt8));
        Assert.That(rb.Eq(200).All().ToDouble(), Is.EqualTo(1));
    }

    [Test]
    public void GaussianNoiseIsSeededAndHasTheRequestedScale()
    {
        using var scope = DisposeScope.Enter();
        var x = Torch.Full(new long[] { 64, 1, 28, 28 }, 0.5);
        var a = new GaussianNoise(0.05, seed: 3);
        var b = new GaussianNoise(0.05, seed: 3);
        var ya = a.Apply(x);
        Assert.That(ya.Equal(b.Apply(x)), Is.True, "same seed, same noise");
        Assert.That(ya.Equal(a.Apply(x)), Is.False, "the transform's own stream moves on");
        a.Reset();
        Assert.That(a.Apply(x).Equal(ya), Is.True, "Reset replays the stream");
        var z = (ya - x) / 0.05;
        long n = z.Numel;
        Assert.That(z.Mean().ToDouble(), Is.EqualTo(0).Within(5 / Math.Sqrt(n)));
        Assert.That(z.Std().ToDouble(), Is.EqualTo(1).Within(5 / Math.Sqrt(2.0 * n)));
        foreach (var amp in new[] { 0.05, 0.01, 0.005 })   // seed 000's Task 3.4 levels
        {
            var noise = new GaussianNoise(amp, seed: 1, min: 0, max: 1);
            var y = noise.Apply(x);
            Assert.That(y.Min().ToDouble() >= 0 && y.Max().ToDouble() <= 1, Is.True);
        }
        var none = new GaussianNoise(0);
        Assert.That(none.Apply(x).Equal(x), Is.True);
    }

    public sealed record ContrastCase(double Threshold, double Strength, float[] Values);

    static Arbitrary<ContrastCase> ContrastCases() =>
        Arb(from t in Gen.Choose(1, 100).Select(v => v / 100.0)
            from s in Gen.Choose(0, 400).Select(v => v / 100.0)
            from vs in Gen.ArrayOf(Gen.Choose(0, 1000).Select(v => v / 1000f), 20)
            select new ContrastCase(t, s, vs),
            c => new[] { c with { Strength = 1 }, c with { Threshold = 0.5 }, c with { Values = c.Values.Take(c.Values.Length / 2).ToArray() } }
                 .Where(x => x != c && x.Values.Length > 0));

    [Property(MaxTest = 100, QuietOnSuccess = true)]
    public Property DarkContrastDarkensDarkPixelsMore() => Prop.ForAll(ContrastCases(), c =>
    {
        using var scope = DisposeScope.Enter();
        var dc = new DarkContrast(c.Threshold, c.Strength);
        var y = dc.Apply(Torch.From(c.Values, c.Values.Length)).ToArray<float>();
        var sorted = c.Values.Select((v, i) => (v, i)).OrderBy(p => p.v).ToArray();
        for (int k = 0; k < sorted.Length; k++)
        {
            var (v, i) = sorted[k];
            Require(Math.Abs(y[i] - dc.Map(v)) < 1e-5, $"tensor {y[i]} vs curve {dc.Map(v)} at {v}");
            Require(y[i] <= v + 1e-6, $"{v} got brighter ({y[i]})");
            if (v >= c.Threshold) Require(Math.Abs(y[i] - v) < 1e-6, $"{v} is above the threshold but changed to {y[i]}");
            if (k > 0) Require(y[i] >= y[sorted[k - 1].i] - 1e-6, "the curve is not monotone");
            // The darker the pixel, the more is subtracted (until it reaches black).
            if (k > 0 && y[i] > 0 && v < c.Threshold)
            {
                var (pv, pi) = sorted[k - 1];
                Require(pv - y[pi] >= v - y[i] - 1e-5 || y[pi] == 0, $"{pv} lost less than the brighter {v}");
            }
        }
    });
}
