using FsCheck;
using FsCheck.Fluent;
using NUnit.Framework;
using PropertyAttribute = FsCheck.NUnit.PropertyAttribute;

namespace Dsl.Engine.Tests;

/// <summary>
/// Torch.TiledMaxPool (on by default) runs CPU max pooling whose windows tile the input with the engine's kernels. They
/// must agree with libtorch's kernels (the switch off) bit for bit: the pooled values, the gradient (which shows where
/// each window's index points: ties go to the window's first element, NaN wins), the double-backward gradient, on 3-D
/// and 4-D inputs, float32 and float64, sizes the windows do not divide, ceil mode, and inputs the fast path must leave
/// to libtorch (strided views, overlapping windows, padding); and leave no tensor behind.
/// </summary>
[NonParallelizable]
public class TiledMaxPoolTests
{
    bool saved;
    [OneTimeSetUp] public void Save() => saved = Torch.TiledMaxPool;
    [OneTimeTearDown] public void Restore() => Torch.TiledMaxPool = saved;

    /// <summary>
    /// A pooling case: input shape (Batch 0 means a 3-D input), window, stride (0: the window), padding, ceil mode,
    /// element type, the seed of the values (small integers, so windows tie, with NaN and ±∞ at the given rate), and a
    /// transposed (non-contiguous) input.
    /// </summary>
    public sealed record PoolCase(int Batch, int Channels, int Height, int Width, int Kh, int Kw, int Stride, int Pad, bool Ceil, DType DType,
                                  int Seed, double Special, bool Transposed)
    {
        public override string ToString() =>
            $"PoolCase(n={Batch}, c={Channels}, h={Height}, w={Width}, k={Kh}×{Kw}, stride={Stride}, pad={Pad}, ceil={Ceil}, {DType}, seed={Seed}, special={Special}, transposed={Transposed})";

        public long[] Shape => Batch == 0 ? new long[] { Channels, Height, Width } : new long[] { Batch, Channels, Height, Width };
    }

    static Arbitrary<PoolCase> Cases()
    {
        var gen = from n in Gen.Choose(0, 3)
                  from c in Gen.Choose(1, 5)
                  from kh in Gen.Choose(1, 4)
                  from kw in Gen.Choose(1, 4)
                  from h in Gen.Choose(kh, 13)
                  from w in Gen.Choose(kw, 13)
                  from stride in Gen.Frequency((6, Gen.Constant(0)), (1, Gen.Choose(1, 3)))
                  from pad in Gen.Frequency((6, Gen.Constant(0)), (1, Gen.Choose(0, Math.Min(kh, kw) / 2)))
                  from ceil in Gen.Frequency((4, Gen.Constant(false)), (1, Gen.Constant(true)))
                  from dtype in Gen.Elements(DType.Float32, DType.Float64)
                  from seed in Gen.Choose(0, 100_000)
                  from special in Gen.Elements(0.0, 0.0, 0.05, 0.3)
                  from transposed in Gen.Frequency((5, Gen.Constant(false)), (1, Gen.Constant(true)))
                  select new PoolCase(n, c, h, w, kh, kw, stride, pad, ceil, dtype, seed, special, transposed);
        return Arb.From(gen, c => new[]
        {
            c with { Batch = Math.Min(c.Batch, 1) }, c with { Channels = 1 }, c with { Height = Math.Max(c.Kh, c.Height - 1) },
            c with { Width = Math.Max(c.Kw, c.Width - 1) }, c with { Special = 0 }, c with { Transposed = false }, c with { Ceil = false },
            c with { Stride = 0 }, c with { Pad = 0 }, c with { DType = DType.Float32 }, c with { Seed = 0 },
        }.Where(x => x != c));
    }

    /// <summary>The case's input: small integers (ties in most windows), a fraction of them NaN, +∞ or −∞.</summary>
    static Tensor Input(PoolCase c)
    {
        var random = new Random(c.Seed);
        var shape = c.Shape;
        if (c.Transposed) (shape[^1], shape[^2]) = (shape[^2], shape[^1]);
        var values = new double[shape.Aggregate(1L, (a, b) => a * b)];
        double[] specials = { double.NaN, double.PositiveInfinity, double.NegativeInfinity };
        for (var i = 0; i < values.Length; i++)
            values[i] = random.NextDouble() < c.Special ? specials[random.Next(3)] : random.Next(-2, 3);
        using var t = Torch.From(values, shape);
        using var typed = t.To(c.DType);
        return c.Transposed ? typed.Transpose(-1, -2) : typed.Detach();
    }

    /// <summary>The pooled values, the input's gradient for a random output gradient, and the double-backward gradient.</summary>
    static (double[] Y, double[] Gx, double[] Ggy) Pool(PoolCase c, bool tiled)
    {
        Torch.TiledMaxPool = tiled;
        using var x = Input(c);
        x.RequiresGrad = true;
        var stride = c.Stride == 0 ? (c.Kh, c.Kw) : ((long)c.Stride, (long)c.Stride);
        using var y = Functional.MaxPool2d(x, (c.Kh, c.Kw), stride, (c.Pad, c.Pad), ceilMode: c.Ceil);
        using var g = new Generator(c.Seed + 1);
        using var gy = Torch.Randn(y.Shape, g, c.DType, requiresGrad: true);
        using var yg = y * gy;
        using var s = yg.Sum();
        var gx = Autograd.Grad(s, x, createGraph: true);
        using var v = Torch.Randn(x.Shape, g, c.DType);
        using var gxv = gx * v;
        using var s2 = gxv.Sum();
        var ggy = Autograd.Grad(s2, gy);
        var result = (Array(y), Array(gx), Array(ggy));
        gx.Dispose();
        ggy.Dispose();
        return result;
    }

    static double[] Array(Tensor t)
    {
        using var detached = t.Detach();
        using var d = detached.To(DType.Float64);
        using var c = d.Contiguous();
        return c.ToArray<double>();
    }

    /// <summary>Bit-for-bit equality, NaN equal to NaN.</summary>
    static bool Same(double[] a, double[] b) =>
        a.Length == b.Length && a.Zip(b).All(p => BitConverter.DoubleToInt64Bits(p.First) == BitConverter.DoubleToInt64Bits(p.Second));

    [Property(MaxTest = 150)]
    public Property TiledKernelsAgreeWithLibtorchsBitForBit() =>
        Prop.ForAll(Cases(), c =>
        {
            var baseline = Tensor.LiveCount;
            var ours = Pool(c, true);
            var theirs = Pool(c, false);
            return (Same(ours.Y, theirs.Y) && Same(ours.Gx, theirs.Gx) && Same(ours.Ggy, theirs.Ggy) && Tensor.LiveCount == baseline)
                .Label($"values {Same(ours.Y, theirs.Y)}, gradient {Same(ours.Gx, theirs.Gx)}, double backward {Same(ours.Ggy, theirs.Ggy)}, live {Tensor.LiveCount - baseline}");
        });

    /// <summary>A Keras-sized activation (128×64×24×24 after ReLU: a quarter of the values tie at zero) through both kernels.</summary>
    [Test]
    public void AKerasCnnActivationPoolsTheSameWayAndTheSwitchRoundTrips()
    {
        using var g = new Generator(7);
        using var r = Torch.Randn(new long[] { 16, 64, 24, 24 }, g);
        using var x = Functional.Relu(r);
        Torch.TiledMaxPool = true;
        Assert.That(Torch.TiledMaxPool, Is.True);
        using var a = Functional.MaxPool2d(x, 2);
        Torch.TiledMaxPool = false;
        Assert.That(Torch.TiledMaxPool, Is.False);
        using var b = Functional.MaxPool2d(x, 2);
        Assert.That(a.Equal(b), Is.True);
        Assert.That(a.Shape, Is.EqualTo(new long[] { 16, 64, 12, 12 }));
    }

    /// <summary>Bad windows still get libtorch's error, named by the engine's op.</summary>
    [Test]
    public void AWindowLargerThanTheInputIsReportedAsBefore()
    {
        Torch.TiledMaxPool = true;
        using var x = Torch.Zeros(new long[] { 1, 1, 3, 3 });
        var e = Assert.Throws<TorchException>(() => Functional.MaxPool2d(x, 4).Dispose());
        Assert.That(e!.Message, Does.Contain("max_pool2d"));
    }
}
