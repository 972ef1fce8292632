namespace Dsl.Engine;

/// <summary>
/// SplitMix64 (Steele, Lea and Flood 2014): a small, fast, seedable random stream and the mixer it is built
/// on. Its output is fixed by its definition, so it never changes across .NET versions or machines; the data
/// pipeline derives per-epoch and per-batch seeds with <see cref="Mix"/>, the F# DSL derives its random keys
/// from <see cref="Finalize"/>, and seeded generators of data draw from the stream.
/// </summary>
public struct SplitMix
{
    /// <summary>The stream's increment: 2⁶⁴ divided by the golden ratio, odd.</summary>
    public const ulong Gamma = 0x9E3779B97F4A7C15UL;

    ulong state;
    double spare;
    bool hasSpare;

    /// <summary>A stream that starts from <paramref name="seed"/>.</summary>
    public SplitMix(long seed)
    {
        state = (ulong)seed;
        spare = 0;
        hasSpare = false;
    }

    /// <summary>SplitMix64's output function: a bijection of 64-bit words with full avalanche.</summary>
    public static ulong Finalize(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>
    /// A non-negative seed mixed from a seed and two more numbers (an epoch and a batch, say): independent
    /// streams per (seed, a, b). Each number enters after the ones before it are mixed, so nearby arguments do
    /// not collide: adding the seed and a number before mixing, (1, 2) and (3, 0) would meet.
    /// </summary>
    public static long Mix(long seed, long a, long b = 0)
    {
        ulong z = Finalize((ulong)seed + Gamma);
        z = Finalize(z + (ulong)a * Gamma);
        z = Finalize(z + (ulong)b * Gamma);
        return (long)(z & 0x7FFF_FFFF_FFFF_FFFFUL);
    }

    /// <summary>The next 64 random bits.</summary>
    public ulong NextULong() => Finalize(state += Gamma);

    /// <summary>The next non-negative 63-bit number.</summary>
    public long NextLong() => (long)(NextULong() >> 1);

    /// <summary>Uniform in [0, 1) (53 random bits).</summary>
    public double Next() => (NextULong() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform in [<paramref name="lo"/>, <paramref name="hi"/>).</summary>
    public double Uniform(double lo, double hi) => lo + (hi - lo) * Next();

    /// <summary>Uniform in 0 … <paramref name="n"/> − 1.</summary>
    public int Int(int n) => (int)(Next() * n);

    /// <summary>Standard normal (Box–Muller, in pairs).</summary>
    public double Normal()
    {
        if (hasSpare) { hasSpare = false; return spare; }
        double u1 = 1.0 - Next(), u2 = Next();
        double r = Math.Sqrt(-2 * Math.Log(u1)), a = 2 * Math.PI * u2;
        spare = r * Math.Sin(a);
        hasSpare = true;
        return r * Math.Cos(a);
    }
}
