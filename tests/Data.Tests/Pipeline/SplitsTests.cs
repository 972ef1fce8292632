namespace Dsl.Data.Tests.Pipeline;

/// <summary>Data.Splits: stratified splits partition the samples and keep every class's proportion within one sample.</summary>
public class SplitsTests
{
    /// <summary>Class sizes, split weights (normalised to fractions) and a seed.</summary>
    public sealed record SplitCase(int[] ClassSizes, int[] Weights, int Seed)
    {
        public double[] Fractions
        {
            get
            {
                var f = Weights.Select(w => (double)w / Weights.Sum()).ToArray();
                f[^1] = 1 - f[..^1].Sum();                      // sums to 1 exactly
                return f;
            }
        }

        // Labels grouped then interleaved, so that classes are not contiguous.
        public long[] Labels()
        {
            var ys = ClassSizes.SelectMany((n, c) => Enumerable.Repeat((long)c, n)).ToArray();
            var r = new Random(Seed);
            return ys.OrderBy(_ => r.Next()).ToArray();
        }
    }

    static Arbitrary<SplitCase> Cases() =>
        Arb(from k in Gen.Choose(1, 5)
            from sizes in Gen.ArrayOf(Gen.Choose(1, 80), k)
            from parts in Gen.Choose(1, 4)
            from weights in Gen.ArrayOf(Gen.Choose(1, 10), parts)
            from seed in Gen.Choose(0, 10_000)
            select new SplitCase(sizes, weights, seed),
            c => ShrinkSizes(c).Concat(ShrinkWeights(c)).Concat(c.Seed != 0 ? new[] { c with { Seed = 0 } } : Array.Empty<SplitCase>()));

    static IEnumerable<SplitCase> ShrinkSizes(SplitCase c)
    {
        if (c.ClassSizes.Length > 1) yield return c with { ClassSizes = c.ClassSizes[1..] };
        for (int i = 0; i < c.ClassSizes.Length; i++)
            foreach (var v in Smaller(c.ClassSizes[i], 1)) { var s = (int[])c.ClassSizes.Clone(); s[i] = v; yield return c with { ClassSizes = s }; }
    }

    static IEnumerable<SplitCase> ShrinkWeights(SplitCase c)
    {
        if (c.Weights.Length > 1) yield return c with { Weights = c.Weights[1..] };
        if (c.Weights.Any(w => w != 1)) yield return c with { Weights = c.Weights.Select(_ => 1).ToArray() };
    }

    [Property(MaxTest = 200, QuietOnSuccess = true)]
    public Property StratifiedSplitsKeepClassProportionsWithinOneSample() => Prop.ForAll(Cases(), c =>
    {
        using var scope = DisposeScope.Enter();
        var ys = c.Labels();
        var fractions = c.Fractions;
        var parts = Splits.Stratified(Torch.From(ys, ys.Length), fractions, c.Seed).Select(t => t.ToArray<long>()).ToArray();
        Require(parts.Length == fractions.Length, $"{parts.Length} splits for {fractions.Length} fractions");
        var all = parts.SelectMany(p => p).ToArray();
        Require(all.Length == ys.Length && all.Distinct().Count() == ys.Length, "the splits do not partition the samples");
        Require(all.All(i => i >= 0 && i < ys.Length), "an index is out of range");
        for (int s = 0; s < parts.Length; s++)
            for (int cls = 0; cls < c.ClassSizes.Length; cls++)
            {
                int got = parts[s].Count(i => ys[i] == cls);
                double want = fractions[s] * c.ClassSizes[cls];
                Require(Math.Abs(got - want) <= 1 + 1e-9, $"split {s} holds {got} of class {cls}'s {c.ClassSizes[cls]} samples; fraction {fractions[s]:F3} wants {want:F2}");
            }
        var again = Splits.Stratified(Torch.From(ys, ys.Length), fractions, c.Seed).Select(t => t.ToArray<long>()).ToArray();
        Require(again.Zip(parts).All(p => p.First.SequenceEqual(p.Second)), "the same seed gave other splits");
    });

    [Test]
    public void RandomSplitsHaveTheRequestedSizes()
    {
        var parts = Splits.Random(1000, new[] { 0.7, 0.1, 0.2 }, seed: 3);
        try
        {
            Assert.That(parts.Select(p => p.Size(0)), Is.EqualTo(new long[] { 700, 100, 200 }));
            Assert.That(parts.SelectMany(p => p.ToArray<long>()).Distinct().Count(), Is.EqualTo(1000));
        }
        finally { foreach (var p in parts) p.Dispose(); }
    }
}
