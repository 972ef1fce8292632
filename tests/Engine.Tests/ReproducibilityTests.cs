using Dsl.Engine;
using NUnit.Framework;

namespace Dsl.Engine.Tests;

/// <summary>
/// Bit-for-bit reproducibility on the CPU: the same seed (global, via Torch.ManualSeed, or explicit
/// Generator objects for init, data, batching and dropout) gives identical losses; different seeds
/// give different ones; explicit generators neither read nor advance the global one.
/// Losses are compared as IEEE bit patterns, not with a tolerance.
/// </summary>
public class ReproducibilityTests
{
    /// <summary>Which generator each random op draws from; null means the global generator.</summary>
    sealed record Rngs(Generator? Init, Generator? Data, Generator? Batch, Generator? Dropout);

    /// <summary>
    /// A short run: a 8→16→3 MLP with dropout, data drawn at random, 25 SGD steps on random
    /// minibatches (randperm). Every source of randomness goes through <paramref name="rng"/>.
    /// </summary>
    static double[] Train(Rngs rng, int steps = 25)
    {
        using var scope = DisposeScope.Enter();
        var w1 = Init.KaimingUniform(Torch.Empty(new long[] { 16, 8 }), a: Math.Sqrt(5), generator: rng.Init).RequiresGrad_();
        var b1 = Init.Uniform(Torch.Empty(new long[] { 16 }), -0.3, 0.3, rng.Init).RequiresGrad_();
        var w2 = Init.XavierNormal(Torch.Empty(new long[] { 3, 16 }), generator: rng.Init).RequiresGrad_();
        var b2 = Torch.Zeros(3).RequiresGrad_();
        var ps = new[] { w1, b1, w2, b2 };
        var x = Torch.Randn(new long[] { 40, 8 }, rng.Data);
        var y = Torch.Randint(0, 3, new long[] { 40 }, rng.Data);
        var losses = new double[steps];
        for (int step = 0; step < steps; step++)
        {
            using var stepScope = DisposeScope.Enter();
            var idx = Torch.Randperm(40, rng.Batch).Narrow(0, 0, 10);
            var xb = x.IndexSelect(0, idx);
            var yb = y.IndexSelect(0, idx);
            var h = Functional.Dropout(Functional.Relu(Functional.Linear(xb, w1, b1)), 0.3, training: true, rng.Dropout);
            var loss = Functional.CrossEntropy(Functional.Linear(h, w2, b2), yb);
            loss.Backward();
            using (Autograd.NoGrad())
                foreach (var p in ps) p.Sub_(0.1 * p.Grad!);
            foreach (var p in ps) p.ZeroGrad();
            losses[step] = loss.ToDouble();
        }
        return losses;
    }

    static double[] TrainGlobal(long seed)
    {
        Torch.ManualSeed(seed);
        return Train(new Rngs(null, null, null, null));
    }

    static double[] TrainExplicit(long seed)
    {
        using var gi = new Generator(seed);
        using var gd = new Generator(seed + 1);
        using var gb = new Generator(seed + 2);
        using var gp = new Generator(seed + 3);
        return Train(new Rngs(gi, gd, gb, gp));
    }

    static long[] Bits(double[] xs) => xs.Select(BitConverter.DoubleToInt64Bits).ToArray();

    static void DisturbGlobalGenerator(long seed)
    {
        Torch.ManualSeed(seed);
        using var junk = Torch.Randn(new long[] { 1000 });
        using var junk2 = Torch.Rand(new long[] { 7 });
    }

    [Test]
    public void SameGlobalSeedGivesBitIdenticalLosses()
    {
        var a = TrainGlobal(42);
        DisturbGlobalGenerator(999);
        var b = TrainGlobal(42);
        Assert.That(a.All(double.IsFinite), "losses are finite");
        Assert.That(a.Distinct().Count(), Is.GreaterThan(1), "the run really trains");
        Assert.That(Bits(b), Is.EqualTo(Bits(a)), $"run 1: {string.Join(", ", a)}\nrun 2: {string.Join(", ", b)}");
    }

    [Test]
    public void DifferentGlobalSeedsGiveDifferentLosses()
    {
        var a = TrainGlobal(42);
        var b = TrainGlobal(43);
        Assert.That(Bits(b), Is.Not.EqualTo(Bits(a)));
        Assert.That(a[0], Is.Not.EqualTo(b[0]), "already the first loss differs (different init and data)");
    }

    [Test]
    public void SameExplicitGeneratorsGiveBitIdenticalLossesWhateverTheGlobalState()
    {
        DisturbGlobalGenerator(1);
        var a = TrainExplicit(7);
        DisturbGlobalGenerator(2);
        using (var junk = Torch.Randn(new long[] { 33 })) { }
        var b = TrainExplicit(7);
        Assert.That(a.Distinct().Count(), Is.GreaterThan(1));
        Assert.That(Bits(b), Is.EqualTo(Bits(a)), $"run 1: {string.Join(", ", a)}\nrun 2: {string.Join(", ", b)}");
    }

    [Test]
    public void DifferentExplicitSeedsGiveDifferentLosses()
    {
        var a = TrainExplicit(7);
        var b = TrainExplicit(8);
        Assert.That(Bits(b), Is.Not.EqualTo(Bits(a)));
    }

    [Test]
    public void OnlyTheDropoutGeneratorChangingChangesTheRunFromItsFirstStep()
    {
        using var gi1 = new Generator(10); using var gd1 = new Generator(11); using var gb1 = new Generator(12); using var gp1 = new Generator(13);
        using var gi2 = new Generator(10); using var gd2 = new Generator(11); using var gb2 = new Generator(12); using var gp2 = new Generator(14);
        var a = Train(new Rngs(gi1, gd1, gb1, gp1));
        var b = Train(new Rngs(gi2, gd2, gb2, gp2));
        Assert.That(a[0], Is.Not.EqualTo(b[0]), "a different dropout mask changes the first loss");
    }

    [Test]
    public void ExplicitGeneratorsDoNotAdvanceTheGlobalGenerator()
    {
        Torch.ManualSeed(5);
        var expected = Draw(null);
        Torch.ManualSeed(5);
        TrainExplicit(3);
        Assert.That(Bits(Draw(null)), Is.EqualTo(Bits(expected)), "the global stream is where ManualSeed(5) left it");
    }

    static double[] Draw(Generator? g)
    {
        // Small sizes (< 16) take libtorch's scalar normal path, which caches the second Box–Muller
        // sample in the generator; larger ones the vectorised path. Draw both.
        using var a = Torch.Randn(new long[] { 5 }, g, DType.Float64);
        using var b = Torch.Randn(new long[] { 20 }, g, DType.Float64);
        using var c = Torch.Rand(new long[] { 3 }, g, DType.Float64);
        using var d = Torch.Randint(0, 1000, new long[] { 4 }, g);
        using var e = Torch.Normal(2, 3, new long[] { 3 }, g, DType.Float64);
        return a.ToArray<double>().Concat(b.ToArray<double>()).Concat(c.ToArray<double>())
                .Concat(d.ToArray<long>().Select(v => (double)v)).Concat(e.ToArray<double>()).ToArray();
    }

    [Test]
    public void AGeneratorSeededLikeTheGlobalOneDrawsTheSameStream()
    {
        Torch.ManualSeed(77);
        var global = Draw(null);
        using var g = new Generator(77);
        Assert.That(Bits(Draw(g)), Is.EqualTo(Bits(global)));
    }

    [Test]
    public void GeneratorSeedRestartsTheStream()
    {
        using var g = new Generator(3);
        var a = Draw(g);
        var b = Draw(g);
        Assert.That(Bits(b), Is.Not.EqualTo(Bits(a)), "the stream advances");
        g.Seed(3);
        Assert.That(Bits(Draw(g)), Is.EqualTo(Bits(a)));
        using var h = new Generator(3);
        Assert.That(Bits(Draw(h)), Is.EqualTo(Bits(a)), "two generators with one seed give one stream");
    }

    [Test]
    public void GeneratorStateRoundTripsMidStream()
    {
        using var g = new Generator(11);
        using (var warm = Torch.Randn(new long[] { 3 }, g, DType.Float64)) { } // leaves a cached normal sample behind
        using var state = g.GetState();
        var a = Draw(g);
        Draw(g);
        g.SetState(state);
        Assert.That(Bits(Draw(g)), Is.EqualTo(Bits(a)));

        using var other = new Generator(999);
        other.SetState(state);
        Assert.That(Bits(Draw(other)), Is.EqualTo(Bits(a)), "a state moves between generators");
    }

    [Test]
    public void DropoutWithTheSameGeneratorSeedDropsTheSameUnits()
    {
        using var x = Torch.Ones(new long[] { 4, 50 });
        using var g1 = new Generator(21);
        using var g2 = new Generator(21);
        using var g3 = new Generator(22);
        using var a = Functional.Dropout(x, 0.5, training: true, g1);
        using var b = Functional.Dropout(x, 0.5, training: true, g2);
        using var c = Functional.Dropout(x, 0.5, training: true, g3);
        Assert.That(a.ToArray<float>(), Is.EqualTo(b.ToArray<float>()));
        Assert.That(c.ToArray<float>(), Is.Not.EqualTo(a.ToArray<float>()));
        Assert.That(a.ToArray<float>().Distinct().OrderBy(v => v), Is.EqualTo(new float[] { 0, 2 }), "kept units are scaled by 1/(1−p)");
    }

    [Test]
    public void MixedSeedsOfNearbyArgumentsNeverMeet()
    {
        // The loader seeds epoch e of a run with seed s by Mix(s, e, ·): runs with seeds 1, 2, 3 must not share an
        // epoch's order (an earlier Mix gave (2, 0) and (0, 2) the same stream), nor clock i of two seeds.
        var seen = new Dictionary<long, (long, long, long)>();
        for (long s = -4; s < 60; s++)
            for (long a = -1; a < 60; a++)
                for (long b = -1; b < 8; b++)
                {
                    long z = SplitMix.Mix(s, a, b);
                    Assert.That(z, Is.GreaterThanOrEqualTo(0));
                    Assert.That(seen.TryAdd(z, (s, a, b)), Is.True, $"Mix({s}, {a}, {b}) = Mix{seen.GetValueOrDefault(z)}");
                }
        Assert.That(SplitMix.Mix(1, 2, 3), Is.EqualTo(SplitMix.Mix(1, 2, 3)), "a pure function of its arguments");
    }
}
