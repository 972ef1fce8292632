namespace Dsl.Data;

/// <summary>Seeded train/validation/test splits, optionally stratified by label, as int64 index tensors.</summary>
public static class Splits
{
    static long[][] Cut(long[] order, double[] fractions)
    {
        if (fractions.Length == 0 || fractions.Any(f => f < 0) || Math.Abs(fractions.Sum() - 1) > 1e-9)
            throw new ArgumentException($"splits: fractions [{string.Join(", ", fractions)}] must be non-negative and sum to 1.");
        var parts = new long[fractions.Length][];
        int start = 0;
        double acc = 0;
        for (int i = 0; i < fractions.Length; i++)
        {
            acc += fractions[i];
            int end = i == fractions.Length - 1 ? order.Length : (int)Math.Round(acc * order.Length);
            parts[i] = order[start..end];
            start = end;
        }
        return parts;
    }

    static long[] Permutation(long n, Generator g)
    {
        using var p = Torch.Randperm(n, g);
        return p.ToArray<long>();
    }

    /// <summary>Random splits of n samples in the given fractions (e.g. 0.7, 0.1, 0.2).</summary>
    public static Tensor[] Random(long n, double[] fractions, long seed)
    {
        using var g = new Generator(seed);
        return Cut(Permutation(n, g), fractions).Select(ix => Torch.From(ix, ix.Length)).ToArray();
    }

    /// <summary>
    /// Stratified splits: each class is shuffled and cut in the given fractions separately, so every split
    /// keeps the class proportions (within one sample per class); each split's indices are then shuffled.
    /// </summary>
    public static Tensor[] Stratified(Tensor labels, double[] fractions, long seed)
    {
        var y = labels.To(DType.Int64);
        var ys = y.ToArray<long>();
        y.Dispose();
        using var g = new Generator(seed);
        var parts = Enumerable.Range(0, fractions.Length).Select(_ => new List<long>()).ToArray();
        foreach (var cls in ys.Distinct().OrderBy(c => c))
        {
            var members = Enumerable.Range(0, ys.Length).Where(i => ys[i] == cls).Select(i => (long)i).ToArray();
            var perm = Permutation(members.Length, g);
            var shuffled = perm.Select(i => members[i]).ToArray();
            var cut = Cut(shuffled, fractions);
            for (int i = 0; i < cut.Length; i++) parts[i].AddRange(cut[i]);
        }
        return parts.Select(p =>
        {
            var perm = Permutation(p.Count, g);
            var ix = perm.Select(i => p[(int)i]).ToArray();
            return Torch.From(ix, ix.Length);
        }).ToArray();
    }
}
