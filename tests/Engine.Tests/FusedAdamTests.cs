using Dsl.Engine.Optim;
using FsCheck;
using FsCheck.Fluent;
using NUnit.Framework;
using PropertyAttribute = FsCheck.NUnit.PropertyAttribute;

namespace Dsl.Engine.Tests;

/// <summary>
/// Adam and AdamW have two native paths: one pass per parameter (float32, contiguous, no amsgrad) and the
/// ATen sequence that every other case takes. The fixtures in OptimizerTests check the one-pass path
/// against PyTorch; here the two paths are checked against each other on the same values, by giving one
/// copy of each parameter a transposed (non-contiguous) layout, which sends it down the ATen path.
/// </summary>
public class FusedAdamTests
{
    /// <summary>A case: parameter shape, values from a seed, and the optimizer's settings.</summary>
    public sealed record AdamCase(int Rows, int Cols, int Seed, bool Decoupled, double Lr, double WeightDecay, bool Maximize, double Eps)
    {
        public override string ToString() =>
            $"AdamCase(rows={Rows}, cols={Cols}, seed={Seed}, {(Decoupled ? "AdamW" : "Adam")}, lr={Lr}, wd={WeightDecay}, maximize={Maximize}, eps={Eps})";
    }

    static Arbitrary<AdamCase> Cases()
    {
        var gen = from rows in Gen.Choose(1, 40)
                  from cols in Gen.Choose(1, 40)
                  from seed in Gen.Choose(0, 100_000)
                  from decoupled in Gen.Elements(false, true)
                  from lr in Gen.Elements(1e-3, 0.05, 0.3)
                  from wd in Gen.Elements(0.0, 0.1)
                  from maximize in Gen.Elements(false, true)
                  from eps in Gen.Elements(1e-8, 1e-3)
                  select new AdamCase(rows, cols, seed, decoupled, lr, wd, maximize, eps);
        return Arb.From(gen, Shrink);
    }

    static IEnumerable<AdamCase> Shrink(AdamCase c)
    {
        if (c.Rows > 1) yield return c with { Rows = c.Rows / 2 };
        if (c.Cols > 1) yield return c with { Cols = c.Cols / 2 };
        if (c.Seed != 0) yield return c with { Seed = 0 };
        if (c.WeightDecay != 0) yield return c with { WeightDecay = 0 };
        if (c.Maximize) yield return c with { Maximize = false };
        if (c.Decoupled) yield return c with { Decoupled = false };
    }

    /// <summary>
    /// Runs five steps on a quadratic (gradients change every step) from the same start in both layouts; returns
    /// the largest difference as a multiple of what rounding allows. The two paths round differently (ATen's kernels
    /// may fuse multiply-adds; the one-pass loop does not), and Adam amplifies a rounding difference δ in a gradient g by
    /// lr / (|g| + eps): near-zero gradients with a large eps and rate turn one ulp into 1e-5. So each element may
    /// differ by 1e-6 (relative) plus the sum over the steps of lr · 4 ulp(G) / (|g| + eps), with G the size of the
    /// terms the gradient is made of; a wrong formula (bias correction, decay, eps placement) moves well-conditioned
    /// elements by a sizeable part of lr and fails.
    /// </summary>
    static double Diverge(AdamCase c)
    {
        using var scope = DisposeScope.Enter();
        var rng = new Random(c.Seed);
        var n = c.Rows * c.Cols;
        var start = Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray();
        var pull = Torch.From<float>(Enumerable.Range(0, n).Select(_ => (float)(rng.NextDouble() * 2 - 1)).ToArray().AsSpan(), new long[] { c.Rows, c.Cols });
        var contiguous = Torch.From<float>(start.AsSpan(), new long[] { c.Rows, c.Cols }).RequiresGrad_();
        // The same values, stored column-major: a transposed view of the transposed data.
        var strided = Torch.From<float>(start.AsSpan(), new long[] { c.Rows, c.Cols }).T.Contiguous().T.RequiresGrad_();
        Assume.That(c.Rows == 1 || c.Cols == 1 || !strided.IsContiguous, "the strided copy must take the ATen path");
        Optimizer Make(Tensor p) => c.Decoupled
            ? new AdamW(new[] { p }, lr: c.Lr, eps: c.Eps, weightDecay: c.WeightDecay, maximize: c.Maximize)
            : new Adam(new[] { p }, lr: c.Lr, eps: c.Eps, weightDecay: c.WeightDecay, maximize: c.Maximize);
        using var o1 = Make(contiguous);
        using var o2 = Make(strided);
        var slack = new double[n];
        foreach (var (p, o) in new[] { (contiguous, o1), (strided, o2) })
            for (int step = 0; step < 5; step++)
            {
                using var _ = DisposeScope.Enter();
                var loss = ((p * pull).Sum() + (p * p).Sum() * 0.5) * (c.Maximize ? -1.0 : 1.0);
                o.ZeroGrad();
                loss.Backward();
                if (p == contiguous)
                {
                    var g = p.Grad!.ToArray<float>();
                    var w = p.Detach().ToArray<float>();
                    var q = pull.ToArray<float>();
                    for (int i = 0; i < n; i++)
                    {
                        double terms = Math.Max(1.0, Math.Max(Math.Abs(w[i]), Math.Abs(q[i]))) * (1 + c.WeightDecay);
                        double effective = Math.Abs(g[i] + (c.Decoupled ? 0 : c.WeightDecay * w[i]));
                        slack[i] += c.Lr * 4 * terms * 1.2e-7 / (effective + c.Eps);
                    }
                }
                o.Step();
            }
        var a = contiguous.Detach().ToArray<float>();
        var b = strided.Detach().Contiguous().ToArray<float>();
        return Enumerable.Range(0, n).Max(i => Math.Abs(a[i] - b[i]) / (1e-6 * Math.Max(1.0, Math.Abs(b[i])) + slack[i]));
    }

    [Property(MaxTest = 60)]
    public Property OnePassMatchesTheAtenSequence() =>
        Prop.ForAll(Cases(), c => Diverge(c) <= 1.0);

    /// <summary>
    /// A case for the bit-exact check: parameter length, seed, decay mode (0 none, 1 Adam's coupled weight decay,
    /// 2 AdamW), maximize, and the rate, second-moment decay and eps.
    /// </summary>
    public sealed record ExactCase(int Length, int Seed, int Mode, bool Maximize, double Lr, double Beta2, double Eps)
    {
        public override string ToString() =>
            $"ExactCase(length={Length}, seed={Seed}, mode={Mode}, maximize={Maximize}, lr={Lr}, beta2={Beta2}, eps={Eps})";
    }

    static Arbitrary<ExactCase> ExactCases()
    {
        // Short parameters (vector-loop tails) and long ones (several chunks over the intra-op threads).
        var gen = from length in Gen.OneOf(Gen.Choose(1, 70), Gen.Choose(30_000, 90_000))
                  from seed in Gen.Choose(0, 100_000)
                  from mode in Gen.Choose(0, 2)
                  from maximize in Gen.Elements(false, true)
                  from lr in Gen.Elements(1e-3, 0.01, 0.3)
                  from beta2 in Gen.Elements(0.999, 0.9)
                  from eps in Gen.Elements(1e-8, 1e-3)
                  select new ExactCase(length, seed, mode, maximize, lr, beta2, eps);
        return Arb.From(gen, ShrinkExact);
    }

    static IEnumerable<ExactCase> ShrinkExact(ExactCase c)
    {
        if (c.Length > 1) yield return c with { Length = c.Length / 2 };
        if (c.Seed != 0) yield return c with { Seed = 0 };
        if (c.Mode != 0) yield return c with { Mode = 0 };
        if (c.Maximize) yield return c with { Maximize = false };
    }

    /// <summary>Values for the bit-exact check: mostly 1e-3 to 10 in size, one in eight a signed zero, a subnormal, or large enough that g² overflows.</summary>
    static readonly float[] Specials = { 0f, -0f, 1e-40f, -3e-39f, 1e-20f, 1e20f, -1e25f, 1e30f };

    /// <summary>
    /// The one-pass loop's formula in managed float32 arithmetic (IEEE single, no fused multiply-adds): the values the
    /// baseline build of the native loop computes.
    /// </summary>
    static void ReferenceStep(float[] p, float[] m, float[] v, float[] grad, int step, double lr, double b1, double b2, double eps, double wd, int mode, bool maximize)
    {
        double bc1 = 1 - Math.Pow(b1, step), bc2 = 1 - Math.Pow(b2, step);
        float b1f = (float)b1, a1 = (float)(1 - b1), b2f = (float)b2, a2 = (float)(1 - b2), decay = (float)(1 - lr * wd), wdf = (float)wd, epsf = (float)eps;
        float bc2Sqrt = (float)Math.Sqrt(bc2), stepSize = (float)(-lr / bc1);
        for (int j = 0; j < p.Length; j++)
        {
            float g = maximize ? -grad[j] : grad[j];
            float pj = p[j];
            if (mode == 2) pj *= decay;
            else if (mode == 1) g += wdf * pj;
            float mj = m[j] * b1f + a1 * g;
            float vj = v[j] * b2f + a2 * g * g;
            m[j] = mj;
            v[j] = vj;
            float denom = MathF.Sqrt(vj) / bc2Sqrt + epsf;
            p[j] = pj + stepSize * mj / denom;
        }
    }

    /// <summary>
    /// The one-pass loop runs in x86-64-v3 (AVX2 with FMA) or baseline code, whichever the machine has, in chunks over
    /// the intra-op threads; every clone must give the baseline's values bit for bit, which holds because each
    /// operation is correctly rounded and optim.cpp is compiled without multiply-add contraction (with contraction on,
    /// the x86-64-v3 clone fuses and this fails). Three steps with fresh gradients (the gradient of Σ p·q is q
    /// exactly) against the managed formula; NaN equals NaN.
    /// </summary>
    static bool MatchesBitForBit(ExactCase c)
    {
        using var scope = DisposeScope.Enter();
        var rng = new Random(c.Seed);
        float[] Draw() => Enumerable.Range(0, c.Length)
            .Select(_ => rng.Next(8) == 0 ? Specials[rng.Next(Specials.Length)] : (float)((rng.NextDouble() * 2 - 1) * Math.Pow(10, rng.Next(-3, 2))))
            .ToArray();
        double lr = c.Lr, b1 = 0.9, b2 = c.Beta2, eps = c.Eps;
        double wd = c.Mode == 0 ? 0 : 0.05;
        var start = Draw();
        var p = Torch.From<float>(start.AsSpan(), new long[] { c.Length }).RequiresGrad_();
        using Optimizer o = c.Mode == 2
            ? new AdamW(new[] { p }, lr: lr, beta1: b1, beta2: b2, eps: eps, weightDecay: wd, maximize: c.Maximize)
            : new Adam(new[] { p }, lr: lr, beta1: b1, beta2: b2, eps: eps, weightDecay: wd, maximize: c.Maximize);
        float[] rp = (float[])start.Clone(), rm = new float[c.Length], rv = new float[c.Length];
        for (int step = 1; step <= 3; step++)
        {
            using var _ = DisposeScope.Enter();
            var q = Draw();
            o.ZeroGrad();
            (p * Torch.From<float>(q.AsSpan(), new long[] { c.Length })).Sum().Backward();
            o.Step();
            ReferenceStep(rp, rm, rv, q, step, lr, b1, b2, eps, wd, c.Mode, c.Maximize);
        }
        var got = p.Detach().ToArray<float>();
        return Enumerable.Range(0, c.Length)
            .All(i => BitConverter.SingleToInt32Bits(got[i]) == BitConverter.SingleToInt32Bits(rp[i]) || (float.IsNaN(got[i]) && float.IsNaN(rp[i])));
    }

    [Property(MaxTest = 40)]
    public Property OnePassEqualsItsScalarFormulaBitForBit() =>
        Prop.ForAll(ExactCases(), MatchesBitForBit);

    [Test]
    public void AStepIsAnInPlaceUpdateToAutograd()
    {
        // Both paths must bump the parameter's version: reusing a graph that saved it is then an error
        // (as with torch.optim), not gradients silently taken at the updated weights.
        foreach (var strided in new[] { false, true })
        {
            using var scope = DisposeScope.Enter();
            var w = strided ? Torch.Randn(new long[] { 3, 4 }).T.Contiguous().T.RequiresGrad_() : Torch.Randn(new long[] { 4, 3 }).RequiresGrad_();
            using var adam = new Adam(new[] { w });
            var loss = (w * w).Sum();
            loss.Backward(retainGraph: true);
            adam.Step();
            var e = Assert.Throws<TorchException>(() => loss.Backward())!;
            Assert.That(e.Message, Does.Contain("inplace"), $"strided={strided}: {e.Message}");
        }
    }

    [Test]
    public void LargeParametersSplitAcrossThreads()
    {
        // 300 × 300 = 90,000 elements: above libtorch's grain size, so the one-pass loop runs in chunks.
        foreach (var decoupled in new[] { false, true })
            Assert.That(Diverge(new AdamCase(300, 300, 7, decoupled, 0.05, 0.1, false, 1e-8)), Is.LessThanOrEqualTo(1.0));
    }
}
