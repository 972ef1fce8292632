namespace Dsl.Data;

/// <summary>
/// torch.utils.data.DistributedSampler's rule for one replica's share of an epoch's order: without drop-last the order
/// is padded to ⌈N / R⌉·R by repeating its start (cyclically when that is shorter than the padding), with drop-last it
/// is cut to ⌊N / R⌋·R (torch 1.13: ⌈(N − R) / R⌉·R); replica r takes positions r, r + R, r + 2R, ….
/// </summary>
public static class Shard
{
    /// <summary>The samples each replica takes per epoch (DistributedSampler.num_samples).</summary>
    public static long Length(long samples, int replicas, bool dropLast)
    {
        if (replicas < 1) throw new ArgumentOutOfRangeException(nameof(replicas), $"Shard: {replicas} replicas; there must be at least 1.");
        if (replicas == 1) return samples;
        return dropLast && samples % replicas != 0
            ? (long)Math.Ceiling((samples - replicas) / (double)replicas)
            : (samples + replicas - 1) / replicas;
    }

    /// <summary>Replica <paramref name="rank"/>'s share of <paramref name="order"/>, in order.</summary>
    public static long[] Of(long[] order, int rank, int replicas, bool dropLast)
    {
        ArgumentNullException.ThrowIfNull(order);
        if (rank < 0 || rank >= replicas) throw new ArgumentOutOfRangeException(nameof(rank), $"Shard: rank {rank} must lie in [0, {replicas}).");
        long n = order.LongLength;
        long each = Length(n, replicas, dropLast);
        long total = each * replicas;
        if (n == 0 && total > 0) throw new ArgumentException("Shard: an empty order cannot be padded.", nameof(order));
        var mine = new long[each];
        for (long i = 0; i < each; i++)
        {
            long position = rank + i * replicas;
            mine[i] = order[position % n];   // positions past N are the padding: the order repeated from its start
        }
        return mine;
    }
}
