using FsCheck;
using FsCheck.Fluent;
using NUnit.Framework;
using PropertyAttribute = FsCheck.NUnit.PropertyAttribute;

namespace Dsl.Engine.Tests;

/// <summary>
/// Torch.ParallelGemm replaces libtorch's CPU mm/addmm kernels with ones that split the result into a
/// block per intra-op thread. Products and their gradients must agree with libtorch's own kernels (to
/// float rounding: OpenBLAS may round a block differently from the whole), errors must stay libtorch's,
/// and turning it off must restore the original kernels.
/// </summary>
[NonParallelizable]
public class ParallelGemmTests
{
    bool saved;
    int savedThreads;
    [OneTimeSetUp] public void Save() { saved = Torch.ParallelGemm; savedThreads = Torch.NumThreads; if (Torch.NumThreads < 2) Torch.NumThreads = 2; }
    [OneTimeTearDown] public void Restore() { Torch.ParallelGemm = saved; Torch.NumThreads = savedThreads; }

    /// <summary>A product case: [M, K] × [K, N], float32 or float64, with a bias of some broadcastable shape.</summary>
    public sealed record GemmCase(int M, int K, int N, bool Double, int Bias, int Seed)
    {
        public override string ToString() => $"GemmCase(M={M}, K={K}, N={N}, {(Double ? "float64" : "float32")}, bias={(Bias == 0 ? "[N]" : Bias == 1 ? "[M, N]" : "[1, N]")}, seed={Seed})";
    }

    static Arbitrary<GemmCase> Cases()
    {
        // Sizes from tiny (the original kernel) to a few hundred (split by rows or by columns).
        var size = Gen.OneOf(Gen.Choose(1, 8), Gen.Choose(30, 80), Gen.Choose(120, 300));
        var gen = from m in size
                  from k in size
                  from n in size
                  from dbl in Gen.Elements(false, true)
                  from bias in Gen.Choose(0, 2)
                  from seed in Gen.Choose(0, 10_000)
                  select new GemmCase(m, k, n, dbl, bias, seed);
        return Arb.From(gen, c => new[]
        {
            c with { M = c.M / 2 }, c with { K = c.K / 2 }, c with { N = c.N / 2 }, c with { Seed = 0 }, c with { Double = false }, c with { Bias = 0 },
        }.Where(x => x.M >= 1 && x.K >= 1 && x.N >= 1 && x != c));
    }

    /// <summary>Largest max|a − b| / (1 + max|b|) over the outputs and gradients of mm, addmm and linear, parallel against original.</summary>
    static double Disagreement(GemmCase c)
    {
        using var scope = DisposeScope.Enter();
        var dtype = c.Double ? DType.Float64 : DType.Float32;
        using var g = new Generator(c.Seed);
        var a0 = Torch.Randn(new long[] { c.M, c.K }, g, dtype);
        var b0 = Torch.Randn(new long[] { c.K, c.N }, g, dtype);
        var bias0 = Torch.Randn(c.Bias switch { 0 => new long[] { c.N }, 1 => new long[] { c.M, c.N }, _ => new long[] { 1, c.N } }, g, dtype);
        Tensor[] Run(bool parallel)
        {
            Torch.ParallelGemm = parallel;
            var a = a0.Detach().RequiresGrad_();
            var b = b0.Detach().RequiresGrad_();
            var bias = bias0.Detach().RequiresGrad_();
            var mm = a.Matmul(b);
            var addmm = bias + a.Matmul(b) * 1.0;                       // composite, through mm
            var lin = Functional.Linear(a, b.T, bias.Dim == 1 ? bias : null);   // addmm (bias [N]) or mm
            var loss = (mm * mm).Sum() + addmm.Sum() + (lin * lin).Mean();
            loss.Backward();
            return new[] { mm, addmm, lin, a.Grad!, b.Grad!, bias.Grad! };
        }
        var original = Run(false);
        var split = Run(true);
        double worst = 0;
        for (int i = 0; i < original.Length; i++)
        {
            var o = original[i].To(DType.Float64);
            // Relative to the tensor's scale: gradients are sums of many products, and elements near zero
            // after cancellation carry the rounding of the large terms.
            var d = (split[i].To(DType.Float64) - o).Abs().Max().ToDouble() / (o.Abs().Max().ToDouble() + 1.0);
            worst = Math.Max(worst, d);
        }
        return worst;
    }

    [Property(MaxTest = 40)]
    public Property SplitProductsAndGradientsMatchLibtorchsKernels() =>
        Prop.ForAll(Cases(), c => Disagreement(c) <= (c.Double ? 1e-13 : 1e-6));

    [Test]
    public void ErrorsAreLibtorchsAndTurningItOffRestoresTheOriginal()
    {
        using var scope = DisposeScope.Enter();
        var a = Torch.Randn(new long[] { 300, 200 });
        var b = Torch.Randn(new long[] { 300, 200 });
        Torch.ParallelGemm = true;
        var on = Assert.Throws<TorchException>(() => a.Matmul(b))!;
        Assert.That(on.Message, Does.Contain("300x200").And.Contain("matmul"), on.Message);
        Torch.ParallelGemm = false;
        Assert.That(Torch.ParallelGemm, Is.False);
        var off = Assert.Throws<TorchException>(() => a.Matmul(b))!;
        Assert.That(off.Message, Is.EqualTo(on.Message));
        Torch.ParallelGemm = true;
        Torch.ParallelGemm = true;   // idempotent
        Assert.That(Torch.ParallelGemm, Is.True);
    }
}
