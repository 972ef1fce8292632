namespace Dsl.Data.Tests.Pipeline;

/// <summary>
/// Per-sample augmentations: the gather-based bilinear affine warp against exact rotations and shifts,
/// crops against a brute-force window search, and seeded reproducibility.
/// </summary>
public class AugmentTests
{
    int savedThreads;
    [OneTimeSetUp] public void SingleThreaded() { savedThreads = Torch.NumThreads; Torch.NumThreads = 1; }
    [OneTimeTearDown] public void RestoreThreads() => Torch.NumThreads = savedThreads;

    public sealed record SquareCase(int N, int C, int Side, int Quarter, int Seed);

    static Arbitrary<SquareCase> Squares() =>
        Arb(from n in Gen.Choose(1, 4) from c in Gen.Choose(1, 2) from s in Gen.Choose(1, 12)
            from q in Gen.Choose(-2, 2) from seed in Gen.Choose(0, 10_000)
            select new SquareCase(n, c, s, q, seed),
            c => Smaller(c.N, 1).Select(v => c with { N = v })
                 .Concat(Smaller(c.C, 1).Select(v => c with { C = v }))
                 .Concat(Smaller(c.Side, 1).Select(v => c with { Side = v }))
                 .Concat(c.Quarter != 1 ? new[] { c with { Quarter = 1 } } : Array.Empty<SquareCase>())
                 .Concat(c.Seed != 0 ? new[] { c with { Seed = 0 } } : Array.Empty<SquareCase>()));

    // Counter-clockwise (on screen) rotation by 90°·q of every [side, side] plane, computed by index.
    static float[] Rot90(float[] x, int planes, int side, int q)
    {
        q = ((q % 4) + 4) % 4;
        var y = (float[])x.Clone();
        for (int turn = 0; turn < q; turn++)
        {
            var src = (float[])y.Clone();
            for (int p = 0; p < planes; p++)
                for (int i = 0; i < side; i++)
                    for (int j = 0; j < side; j++)
                        y[p * side * side + i * side + j] = src[p * side * side + j * side + (side - 1 - i)];
        }
        return y;
    }

    [Property(MaxTest = 100, QuietOnSuccess = true)]
    public Property AffineSampleRotatesByQuarterTurnsExactly() => Prop.ForAll(Squares(), c =>
    {
        using var scope = DisposeScope.Enter();
        var x = Randn(c.Seed, c.N, c.C, c.Side, c.Side);
        var theta = Enumerable.Range(0, c.N).SelectMany(_ => Augment.AffineTheta(90.0 * c.Quarter)).ToArray();
        var y = Augment.AffineSample(x, theta).ToArray<float>();
        var expected = Rot90(x.ToArray<float>(), c.N * c.C, c.Side, c.Quarter);
        for (int i = 0; i < y.Length; i++)
            Require(Math.Abs(y[i] - expected[i]) < 1e-4, $"element {i}: {y[i]} vs {expected[i]}");
        var identity = Enumerable.Range(0, c.N).SelectMany(_ => new[] { 1.0, 0, 0, 0, 1, 0 }).ToArray();
        Require(Augment.AffineSample(x, identity).Sub(x).Abs().Max().ToDouble() < 1e-6, "the identity matrix changed the image");
    });

    public sealed record ShiftCase(int H, int W, int Dx, int Dy, int Seed);

    static Arbitrary<ShiftCase> Shifts() =>
        Arb(from h in Gen.Choose(1, 10) from w in Gen.Choose(1, 10) from dx in Gen.Choose(-4, 4) from dy in Gen.Choose(-4, 4) from s in Gen.Choose(0, 1000)
            select new ShiftCase(h, w, dx, dy, s),
            c => Smaller(c.H, 1).Select(v => c with { H = v }).Concat(Smaller(c.W, 1).Select(v => c with { W = v }))
                 .Concat(c.Dx != 0 ? new[] { c with { Dx = 0 } } : Array.Empty<ShiftCase>())
                 .Concat(c.Dy != 0 ? new[] { c with { Dy = 0 } } : Array.Empty<ShiftCase>()));

    [Property(MaxTest = 100, QuietOnSuccess = true)]
    public Property AffineShiftMovesPixelsAndFillsTheRest() => Prop.ForAll(Shifts(), c =>
    {
        using var scope = DisposeScope.Enter();
        var x = Randn(c.Seed, 1, c.H, c.W);                    // [N, H, W] is accepted too
        const double fill = 7.5;
        var y = Augment.AffineSample(x, Augment.AffineTheta(0, c.Dx, c.Dy), fill);
        Require(y.Shape.SequenceEqual(x.Shape), "shape changed");
        var xs = x.ToArray<float>(); var ys = y.ToArray<float>();
        for (int i = 0; i < c.H; i++)
            for (int j = 0; j < c.W; j++)
            {
                int si = i - c.Dy, sj = j - c.Dx;
                double expected = si >= 0 && si < c.H && sj >= 0 && sj < c.W ? xs[si * c.W + sj] : fill;
                Require(Math.Abs(ys[i * c.W + j] - expected) < 1e-4, $"pixel ({i}, {j}): {ys[i * c.W + j]} vs {expected}");
            }
    });

    public sealed record CropCase(int N, int H, int W, int Pad, int CropH, int CropW, int Seed);

    static Arbitrary<CropCase> Crops() =>
        Arb(from n in Gen.Choose(1, 4) from h in Gen.Choose(1, 8) from w in Gen.Choose(1, 8) from p in Gen.Choose(0, 3)
            from ch in Gen.Choose(1, h + 2 * p) from cw in Gen.Choose(1, w + 2 * p) from s in Gen.Choose(0, 1000)
            select new CropCase(n, h, w, p, ch, cw, s),
            c => new[] { c with { N = 1 }, c with { Pad = 0, CropH = Math.Min(c.CropH, c.H), CropW = Math.Min(c.CropW, c.W) },
                         c with { CropH = 1 }, c with { CropW = 1 }, c with { Seed = 0 } }.Where(v => v != c));

    [Property(MaxTest = 100, QuietOnSuccess = true)]
    public Property RandomCropTakesAWindowOfThePaddedImage() => Prop.ForAll(Crops(), c =>
    {
        using var scope = DisposeScope.Enter();
        // Distinct positive values so that a window is identified by its contents.
        var x = (Torch.Arange(1, 1 + c.N * c.H * c.W, 1, DType.Float32)).Reshape(c.N, 1, c.H, c.W);
        var crop = new RandomCrop(c.CropH, c.CropW, c.Pad, seed: c.Seed);
        var y = crop.Apply(x);
        Require(y.Shape.SequenceEqual(new long[] { c.N, 1, c.CropH, c.CropW }), $"shape [{string.Join(", ", y.Shape)}]");
        var padded = Functional.Pad(x, new long[] { c.Pad, c.Pad, c.Pad, c.Pad });
        for (int n = 0; n < c.N; n++)
        {
            bool found = false;
            for (int top = 0; top + c.CropH <= c.H + 2 * c.Pad && !found; top++)
                for (int left = 0; left + c.CropW <= c.W + 2 * c.Pad && !found; left++)
                    found = padded[n].Narrow(1, top, c.CropH).Narrow(2, left, c.CropW).Equal(y[n]);
            Require(found, $"sample {n} is not a {c.CropH}×{c.CropW} window of the padded image");
        }
        if (c.Pad == 0 && c.CropH == c.H && c.CropW == c.W) Require(y.Equal(x), "a full-size crop without padding is not the identity");
    });

    [Test]
    public void RandomAugmentationsAreSeededAndPerSample()
    {
        using var scope = DisposeScope.Enter();
        // 16 copies of one asymmetric image: any per-sample augmentation makes them differ.
        var one = Torch.Zeros(1, 1, 20, 20);
        one.Narrow(2, 3, 4).Narrow(3, 2, 12).Fill_(1);
        one.Narrow(2, 5, 12).Narrow(3, 11, 3).Fill_(1);
        var x = one.Expand(16, 1, 20, 20).Contiguous();
        var augs = new Transform[]
        {
            new RandomRotation(30, seed: 1), new RandomAffine(10, 0.1, 0.9, 1.1, 10, seed: 1),
            new RandomCrop(20, 20, 3, seed: 1), new RandomHorizontalFlip(0.5, seed: 1), new ColorJitter(0.3, 0.3, seed: 1),
        };
        foreach (var a in augs)
        {
            using var g1 = new Generator(42);
            using var g2 = new Generator(42);
            using var g3 = new Generator(43);
            var y1 = a.Apply(x, g1);
            Assert.That(y1.Shape, Is.EqualTo(x.Shape), a.ToString());
            Assert.That(y1.Equal(a.Apply(x, g2)), Is.True, $"{a}: same generator seed, same output");
            Assert.That(y1.Equal(a.Apply(x, g3)), Is.False, $"{a}: another seed, another output");
            int distinct = Enumerable.Range(0, 16).Count(i => !y1[i].Equal(y1[0]));
            Assert.That(distinct, Is.GreaterThan(0), $"{a}: the samples were all augmented alike");
        }
    }

    [Test]
    public void AffineWithZeroRangesIsTheIdentityAndKeepsUInt8()
    {
        using var scope = DisposeScope.Enter();
        var x = Randn(3, 4, 3, 9, 7);
        var none = new RandomAffine();
        Assert.That(none.Apply(x).Sub(x).Abs().Max().ToDouble(), Is.LessThan(1e-5));
        var bytes = Torch.Randint(0, 256, new long[] { 2, 1, 10, 10 }, dtype: DType.UInt8);
        var rot = new RandomRotation(20, fill: 255);
        var r = rot.Apply(bytes);
        Assert.That(r.DType, Is.EqualTo(DType.UInt8));
        var jitter = new ColorJitter(0.5, 0.5);
        var j = jitter.Apply(Functional.Sigmoid(x));
        Assert.That(j.Min().ToDouble() >= 0 && j.Max().ToDouble() <= 1, Is.True, "jitter stays in [0, 1]");
        var still = new ColorJitter();
        var s = Functional.Sigmoid(x);
        Assert.That(still.Apply(s).Sub(s).Abs().Max().ToDouble(), Is.LessThan(1e-6));
    }

    [Test]
    public void ComposedPipelineFreesItsIntermediates()
    {
        var x = Randn(1, 8, 1, 28, 28);
        var pipeline = Transform.Compose(new RandomAffine(15, 0.1, seed: 2), new RandomCrop(28, 28, 2, seed: 2), new Normalize(0.5, 0.25), new Flatten());
        var before = SettledLiveCount();
        var y = pipeline.Apply(x);
        Assert.That(y.Shape, Is.EqualTo(new long[] { 8, 784 }));
        y.Dispose();
        x.Dispose();
        Assert.That(Tensor.LiveCount, Is.EqualTo(before - 1));
    }
}
