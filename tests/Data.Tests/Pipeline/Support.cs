namespace Dsl.Data.Tests.Pipeline;

/// <summary>Helpers shared by the data-pipeline tests.</summary>
static class Support
{
    /// <summary>Runs pending finalizers (of any test's abandoned tensors) and returns the live handle count.</summary>
    public static long SettledLiveCount()
    {
        for (int i = 0; i < 2; i++) { GC.Collect(); GC.WaitForPendingFinalizers(); }
        return Tensor.LiveCount;
    }

    public sealed class PropertyFailure(string message) : Exception(message);

    /// <summary>Fails the current property case with a message (FsCheck reports the shrunk case).</summary>
    public static void Require(bool ok, string message) { if (!ok) throw new PropertyFailure(message); }

    /// <summary>A float32 tensor with the given shape filled with seeded standard normals.</summary>
    public static Tensor Randn(long seed, params long[] shape)
    {
        using var g = new Generator(seed);
        return Torch.Randn(shape, g);
    }

    /// <summary>An arbitrary from a generator and a shrinker (FsCheck 3 does not shrink Gen-built values by itself).</summary>
    public static Arbitrary<T> Arb<T>(Gen<T> gen, Func<T, IEnumerable<T>> shrink) => FsCheck.Fluent.Arb.From(gen, shrink);

    /// <summary>Shrink candidates of an int towards <paramref name="min"/>: the minimum, halfway, one less.</summary>
    public static IEnumerable<int> Smaller(int v, int min)
    {
        if (v <= min) yield break;
        yield return min;
        if ((v + min) / 2 > min && (v + min) / 2 < v) yield return (v + min) / 2;
        if (v - 1 > min) yield return v - 1;
    }
}
