using FsCheck;
using FsCheck.Fluent;
using NUnit.Framework;
using PropertyAttribute = FsCheck.NUnit.PropertyAttribute;

namespace Dsl.Engine.Tests;

/// <summary>
/// Torch.CounterDropout (on by default) draws CPU dropout masks from SplitMix64 of (one draw from the generator,
/// element index): a mask must hold only 0 and 1/(1−p), keep a 1−p fraction, be the same on one and two threads and
/// on a rerun from the same seed, have independent neighbours (the two 32-bit halves of one 64-bit output sit side by
/// side), differ between consecutive calls, and leave no tensor behind; off, dropout goes back to libtorch's bernoulli_.
/// </summary>
[NonParallelizable]
public class CounterDropoutTests
{
    bool saved;
    int savedThreads;
    [OneTimeSetUp] public void Save() { saved = Torch.CounterDropout; savedThreads = Torch.NumThreads; }
    [OneTimeTearDown] public void Restore() { Torch.CounterDropout = saved; Torch.NumThreads = savedThreads; }

    /// <summary>A mask case: number of elements (odd sizes included), drop rate, element type, generator seed.</summary>
    public sealed record DropCase(int Size, double P, DType DType, int Seed)
    {
        public override string ToString() => $"DropCase(size={Size}, p={P}, dtype={DType}, seed={Seed})";
    }

    static Arbitrary<DropCase> Cases()
    {
        var gen = from size in Gen.Choose(1, 70_000)
                  from p in Gen.Elements(0.01, 0.1, 0.2, 0.25, 0.3, 0.5, 0.7, 0.9, 0.99)
                  from dtype in Gen.Elements(DType.Float32, DType.Float64, DType.Float16)
                  from seed in Gen.Choose(0, 100_000)
                  select new DropCase(size, p, dtype, seed);
        return Arb.From(gen, c => new[]
        {
            c with { Size = c.Size / 2 }, c with { Size = c.Size - 1 }, c with { P = 0.5 }, c with { DType = DType.Float32 }, c with { Seed = 0 },
        }.Where(x => x.Size >= 1 && x != c));
    }

    /// <summary>The mask dropout applies to ones of the case's size, as float64 values, on the given number of threads.</summary>
    static double[] Mask(DropCase c, int threads)
    {
        Torch.NumThreads = threads;
        using var x = Torch.Ones(new long[] { c.Size }, c.DType);
        using var g = new Generator(c.Seed);
        using var y = Functional.Dropout(x, c.P, training: true, g);
        using var d = y.To(DType.Float64);
        return d.ToArray<double>();
    }

    /// <summary>1/(1−p) rounded to the case's element type.</summary>
    static double Scale(DropCase c)
    {
        using var t = Torch.Full(new long[] { 1 }, 1.0 / (1.0 - c.P), c.DType);
        using var d = t.To(DType.Float64);
        return d.ToArray<double>()[0];
    }

    [Property(MaxTest = 60)]
    public Property MasksHoldZeroOrTheScaleKeepOneMinusPAndIgnoreTheThreadCount() =>
        Prop.ForAll(Cases(), c =>
        {
            Torch.CounterDropout = true;
            var baseline = Tensor.LiveCount;
            var one = Mask(c, 1);
            var two = Mask(c, 2);
            var again = Mask(c, 2);
            Torch.NumThreads = savedThreads;
            var scale = Scale(c);
            var kept = one.Count(v => v != 0);
            var q = 1.0 - c.P;
            var tolerance = 5.0 * Math.Sqrt(c.Size * q * (1 - q)) + 1;
            return one.SequenceEqual(two) && two.SequenceEqual(again) && one.All(v => v == 0 || v == scale) &&
                   Math.Abs(kept - c.Size * q) <= tolerance && Tensor.LiveCount == baseline;
        });

    /// <summary>
    /// Counts of (element i, element i + lag) being kept, over a 2^20 + 1 mask at p = 0.3, against independent draws:
    /// Pearson's χ² with 3 degrees of freedom below 30 (p ≈ 1e-6) for lags 1 (the two halves of one 64-bit output),
    /// 2 (consecutive outputs) and 64, and between two consecutive calls on one generator.
    /// </summary>
    [Test]
    public void NeighboursAndConsecutiveMasksAreIndependent()
    {
        Torch.CounterDropout = true;
        const int n = (1 << 20) + 1;
        const double q = 0.7;
        using var x = Torch.Ones(new long[] { n });
        using var g = new Generator(7);
        using var a = Functional.Dropout(x, 0.3, training: true, g);
        using var b = Functional.Dropout(x, 0.3, training: true, g);
        var ma = a.ToArray<float>().Select(v => v != 0).ToArray();
        var mb = b.ToArray<float>().Select(v => v != 0).ToArray();
        static double ChiSquare(IEnumerable<(bool, bool)> pairs, double q)
        {
            var counts = new double[4];
            var total = 0;
            foreach (var (u, v) in pairs) { counts[(u ? 2 : 0) + (v ? 1 : 0)]++; total++; }
            var expected = new[] { (1 - q) * (1 - q), (1 - q) * q, q * (1 - q), q * q }.Select(e => e * total).ToArray();
            return counts.Zip(expected, (o, e) => (o - e) * (o - e) / e).Sum();
        }
        foreach (var lag in new[] { 1, 2, 64 })
        {
            var chi = ChiSquare(Enumerable.Range(0, n - lag).Select(i => (ma[i], ma[i + lag])), q);
            Assert.That(chi, Is.LessThan(30.0), $"lag {lag}: χ² {chi:F1}");
        }
        var across = ChiSquare(Enumerable.Range(0, n).Select(i => (ma[i], mb[i])), q);
        Assert.That(across, Is.LessThan(30.0), $"two consecutive masks: χ² {across:F1}");
        Assert.That(ma.Count(k => k) / (double)n, Is.EqualTo(q).Within(5 * Math.Sqrt(q * (1 - q) / n)));
    }

    [Test]
    public void TheSwitchGoesBackToBernoulliWithTheSameDistribution()
    {
        using var x = Torch.Ones(new long[] { 20_000 });
        float[] Draw(bool counter)
        {
            Torch.CounterDropout = counter;
            Assert.That(Torch.CounterDropout, Is.EqualTo(counter));
            using var g = new Generator(3);
            using var y = Functional.Dropout(x, 0.5, training: true, g);
            return y.ToArray<float>();
        }
        var counter = Draw(true);
        var bernoulli = Draw(false);
        Torch.CounterDropout = true;
        Assert.That(bernoulli, Is.Not.EqualTo(counter), "the two generators give different masks");
        foreach (var m in new[] { counter, bernoulli })
        {
            Assert.That(m.Distinct().OrderBy(v => v), Is.EqualTo(new float[] { 0, 2 }));
            Assert.That(m.Count(v => v != 0), Is.EqualTo(10_000).Within(5 * Math.Sqrt(20_000 * 0.25)));
        }
    }
}
