using System.Globalization;
using Dsl.Engine;
using FsCheck;
using FsCheck.Fluent;
using NUnit.Framework;
using PropertyAttribute = FsCheck.NUnit.PropertyAttribute;

namespace Dsl.Engine.Tests;

// Property tests of autograd against central finite differences, all in float64.
//
// Every property draws its case from a generator built with FsCheck's Gen combinators and a
// hand-written shrinker (FsCheck 3 does not shrink Gen-built values by itself), so a failure is
// reported as a small case: fewer/smaller dimensions, rounder values, seed 0.
//
// A case becomes a Problem: some float64 inputs (the ones marked Wrt are differentiated), and a
// scalar function of them. Constants the function needs (weights, targets, probe tensors) are
// derived from the case's seed with System.Random, so the case printed by FsCheck reproduces it.
//
// First order: the gradient from Backward() and from Autograd.Grad must agree with each other
// (to 1e-12) and with central differences (h = 1e-6) to 1e-6 absolute + 1e-6 relative.
// Second order: Autograd.Grad(createGraph: true) twice (and Backward(createGraph: true) followed by
// Autograd.Grad) gives Hessian-vector products, compared with central differences of the autograd
// gradient (h = 1e-5); full Hessians of small functions are compared with finite differences,
// with symmetry, and with closed forms where one exists.

public class AutogradProperties
{
    /// <summary>A tensor case: dims, row-major values and a seed for the auxiliary constants.</summary>
    public sealed record TensorSpec(long[] Dims, double[] Values, int Seed, bool Distinct)
    {
        public int Rank => Dims.Length;
        public override string ToString() =>
            $"TensorSpec(dims=[{string.Join(",", Dims)}], seed={Seed}, values=[{string.Join(", ", Values.Select(v => v.ToString("R", CultureInfo.InvariantCulture)))}])";
    }

    /// <summary>A conv2d case: sizes and hyper-parameters; the values come from the seed.</summary>
    public sealed record ConvSpec(int N, int Cin, int H, int W, int Cout, int KH, int KW, int Stride, int Pad, int Dilation, int Groups, int Seed)
    {
        public bool Valid =>
            N >= 1 && Cin >= 1 && Cout >= 1 && KH >= 1 && KW >= 1 && Stride >= 1 && Pad >= 0 && Dilation >= 1 && Groups >= 1 &&
            Cin % Groups == 0 && Cout % Groups == 0 &&
            H + 2 * Pad - Dilation * (KH - 1) - 1 >= 0 && W + 2 * Pad - Dilation * (KW - 1) - 1 >= 0;
    }

    /// <summary>A differentiable scalar function of some float64 inputs.</summary>
    public sealed class Problem
    {
        public required string Name;
        public required long[][] Shapes;
        public required double[][] Values;
        public required bool[] Wrt;
        public required Func<Tensor[], Tensor> F;
        public IEnumerable<int> WrtIndices => Enumerable.Range(0, Shapes.Length).Where(i => Wrt[i]);
    }

    const int Cases = 100;
    const double GradH = 1e-6, HessH = 1e-5;
    const double Atol = 1e-6, Rtol = 1e-6;

    // Every tensor here is tiny; libtorch's intra-op threads only add wake-up latency (10–100× on a
    // busy machine), so this fixture runs single-threaded and restores the setting afterwards.
    int savedThreads;
    [OneTimeSetUp] public void SingleThreaded() { savedThreads = Torch.NumThreads; Torch.NumThreads = 1; }
    [OneTimeTearDown] public void RestoreThreads() => Torch.NumThreads = savedThreads;

    // ------------------------------------------------------------------ generators and shrinkers

    static long Prod(long[] dims) => dims.Aggregate(1L, (a, b) => a * b);

    static Gen<long[]> DimsGen(int minRank, int maxRank, int minSize, int maxSize) =>
        Gen.Choose(minRank, maxRank).SelectMany(r => Gen.ArrayOf(Gen.Choose(minSize, maxSize).Select(i => (long)i), r));

    /// <summary>Values k/1000 in [−2, 2], or (distinct) a shuffled grid with spacing 1/8 so that max and variance are well away from ties.</summary>
    static Gen<double[]> ValuesGen(long n, bool distinct) =>
        distinct
            ? Gen.Shuffle(Enumerable.Range(0, (int)n).ToArray()).Select(p => p.Select(i => (i - n / 2) * 0.125).ToArray())
            : Gen.ArrayOf(Gen.Choose(-2000, 2000).Select(k => k / 1000.0), (int)n);

    static Arbitrary<TensorSpec> Specs(int minRank = 1, int maxRank = 3, int minSize = 1, int maxSize = 5, bool distinct = false,
                                       Func<long[], bool>? valid = null, Gen<long[]>? dimsGen = null)
    {
        var dims = dimsGen ?? DimsGen(minRank, maxRank, minSize, maxSize);
        if (valid is not null) dims = dims.Where(valid);
        var gen = from d in dims
                  from v in ValuesGen(Prod(d), distinct)
                  from s in Gen.Choose(0, 1_000_000)
                  select new TensorSpec(d, v, s, distinct);
        return Arb.From(gen, s => ShrinkSpec(s, minRank, minSize).Where(x => valid is null || valid(x.Dims)));
    }

    /// <summary>The values of the sub-block of sizes <paramref name="keep"/> starting at <paramref name="offset"/> (same rank).</summary>
    static double[] SubBlock(double[] values, long[] dims, long[] keep, long[]? offset = null)
    {
        var result = new double[Prod(keep)];
        var idx = new long[keep.Length];
        for (long n = 0; n < result.Length; n++)
        {
            long rem = n, flat = 0;
            for (int d = keep.Length - 1; d >= 0; d--) { idx[d] = rem % keep[d] + (offset?[d] ?? 0); rem /= keep[d]; }
            for (int d = 0; d < dims.Length; d++) flat = flat * dims[d] + idx[d];
            result[n] = values[flat];
        }
        return result;
    }

    static IEnumerable<TensorSpec> ShrinkSpec(TensorSpec s, int minRank, int minSize)
    {
        if (s.Rank > minRank)
        {
            var keep = (long[])s.Dims.Clone(); keep[0] = 1;
            yield return s with { Dims = s.Dims[1..], Values = SubBlock(s.Values, s.Dims, keep) };
        }
        for (int i = 0; i < s.Rank; i++)
            if (s.Dims[i] > minSize)
            {
                var nd = (long[])s.Dims.Clone(); nd[i]--;
                yield return s with { Dims = nd, Values = SubBlock(s.Values, s.Dims, nd) };
                var skipFirst = new long[s.Rank]; skipFirst[i] = 1;
                yield return s with { Dims = nd, Values = SubBlock(s.Values, s.Dims, nd, skipFirst) };
            }
        if (s.Seed != 0) yield return s with { Seed = 0 };
        if (!s.Distinct)
        {
            var rounded = s.Values.Select(v => Math.Round(v * 2) / 2).ToArray();
            if (!rounded.SequenceEqual(s.Values)) yield return s with { Values = rounded };
            for (int i = 0; i < Math.Min(s.Values.Length, 8); i++)
                if (s.Values[i] != 0) { var nv = (double[])s.Values.Clone(); nv[i] = 0; yield return s with { Values = nv }; }
        }
    }

    static Arbitrary<ConvSpec> ConvSpecs()
    {
        var gen = from n in Gen.Choose(1, 2)
                  from cin in Gen.Choose(1, 3)
                  from h in Gen.Choose(1, 5)
                  from w in Gen.Choose(1, 5)
                  from cout in Gen.Choose(1, 3)
                  from kh in Gen.Choose(1, 3)
                  from kw in Gen.Choose(1, 3)
                  from stride in Gen.Choose(1, 2)
                  from pad in Gen.Choose(0, 1)
                  from dil in Gen.Choose(1, 2)
                  from grouped in Gen.Elements(new[] { false, true })
                  from seed in Gen.Choose(0, 1_000_000)
                  select new ConvSpec(n, cin, h, w, cout, kh, kw, stride, pad, dil, grouped ? Gcd(cin, cout) : 1, seed);
        return Arb.From(gen.Where(c => c.Valid), ShrinkConv);
    }

    static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);

    static IEnumerable<ConvSpec> ShrinkConv(ConvSpec c)
    {
        var candidates = new[]
        {
            c with { Groups = 1 },
            c with { N = c.N - 1 }, c with { Cin = c.Cin - 1 }, c with { Cout = c.Cout - 1 },
            c with { H = c.H - 1 }, c with { W = c.W - 1 }, c with { KH = c.KH - 1 }, c with { KW = c.KW - 1 },
            c with { Stride = c.Stride - 1 }, c with { Pad = c.Pad - 1 }, c with { Dilation = c.Dilation - 1 },
            c with { Seed = 0 },
        };
        return candidates.Where(x => x != c && x.Valid);
    }

    // ------------------------------------------------------------------ helpers

    static Tensor D(double[] v, long[] shape, bool requiresGrad = false) => Torch.From<double>(v, shape, requiresGrad: requiresGrad);

    /// <summary>Values k/1000 in [lo, hi] from a seeded stream (exactly reproducible).</summary>
    static double[] Rand(Random r, long n, double lo = -1, double hi = 1) =>
        Enumerable.Range(0, (int)n).Select(_ => Math.Round(lo + (hi - lo) * r.NextDouble(), 3)).ToArray();

    static long[] ShapeOf(Func<Tensor[], Tensor> op, long[][] shapes)
    {
        using var scope = DisposeScope.Enter();
        using var ng = Autograd.NoGrad();
        return op(shapes.Select(s => D(new double[Prod(s)], s)).ToArray()).Shape;
    }

    sealed class PropertyFailure(string message) : Exception(message);

    static void Close(double[] actual, double[] expected, double atol, double rtol, string what)
    {
        if (actual.Length != expected.Length) throw new PropertyFailure($"{what}: length {actual.Length} vs {expected.Length}");
        for (int i = 0; i < actual.Length; i++)
            if (!(Math.Abs(actual[i] - expected[i]) <= atol + rtol * Math.Abs(expected[i])))
                throw new PropertyFailure(
                    $"{what}: element {i}: {actual[i]:R} vs expected {expected[i]:R} (|diff| = {Math.Abs(actual[i] - expected[i]):E3})\n" +
                    $"  actual   = [{string.Join(", ", actual.Select(x => x.ToString("G8", CultureInfo.InvariantCulture)))}]\n" +
                    $"  expected = [{string.Join(", ", expected.Select(x => x.ToString("G8", CultureInfo.InvariantCulture)))}]");
    }

    static void Require(bool ok, string message) { if (!ok) throw new PropertyFailure(message); }

    static Tensor[] Leaves(Problem p, double[][] values) =>
        p.Shapes.Select((s, i) => D(values[i], s, p.Wrt[i])).ToArray();

    static Tensor Scalar(Problem p, Tensor[] inputs)
    {
        var y = p.F(inputs);
        Require(y.Dim == 0 && y.DType == DType.Float64, $"{p.Name}: the function must return a float64 scalar, got [{string.Join(",", y.Shape)}] {y.DType}");
        return y;
    }

    static double Eval(Problem p, double[][] values)
    {
        using var scope = DisposeScope.Enter();
        using var ng = Autograd.NoGrad();
        return Scalar(p, p.Shapes.Select((s, i) => D(values[i], s)).ToArray()).ToDouble();
    }

    static double[][] Clone(double[][] v) => v.Select(a => (double[])a.Clone()).ToArray();

    /// <summary>Central differences of f for every element of every Wrt input.</summary>
    static double[][] FiniteDiffGrad(Problem p, double h = GradH)
    {
        var result = new double[p.Shapes.Length][];
        foreach (var k in p.WrtIndices)
        {
            result[k] = new double[p.Values[k].Length];
            for (int j = 0; j < result[k].Length; j++)
            {
                var plus = Clone(p.Values); plus[k][j] += h;
                var minus = Clone(p.Values); minus[k][j] -= h;
                result[k][j] = (Eval(p, plus) - Eval(p, minus)) / (2 * h);
            }
        }
        return result;
    }

    /// <summary>The gradient from Backward(); also checks that a second Backward accumulates (exactly 2×).</summary>
    static double[][] BackwardGrad(Problem p)
    {
        using var scope = DisposeScope.Enter();
        var leaves = Leaves(p, p.Values);
        var y = Scalar(p, leaves);
        y.Backward(retainGraph: true);
        var result = new double[p.Shapes.Length][];
        foreach (var k in p.WrtIndices)
        {
            var g = leaves[k].Grad ?? throw new PropertyFailure($"{p.Name}: input {k} has no .Grad after Backward()");
            Require(g.Shape.SequenceEqual(p.Shapes[k]), $"{p.Name}: grad of input {k} has shape [{string.Join(",", g.Shape)}], expected [{string.Join(",", p.Shapes[k])}]");
            result[k] = g.ToArray<double>();
        }
        foreach (var k in Enumerable.Range(0, p.Shapes.Length).Except(p.WrtIndices))
            Require(leaves[k].Grad is null, $"{p.Name}: input {k} does not require grad but got a .Grad");
        y.Backward();
        foreach (var k in p.WrtIndices)
            Close(leaves[k].Grad!.ToArray<double>(), result[k].Select(x => 2 * x).ToArray(), 0, 1e-15, $"{p.Name}: second Backward() must accumulate (input {k})");
        return result;
    }

    /// <summary>The gradient from Autograd.Grad (which must leave .Grad untouched).</summary>
    static double[][] AutogradGrad(Problem p, double[][]? at = null)
    {
        using var scope = DisposeScope.Enter();
        var leaves = Leaves(p, at ?? p.Values);
        var y = Scalar(p, leaves);
        var ins = p.WrtIndices.ToArray();
        var gs = Autograd.Grad(new[] { y }, ins.Select(k => leaves[k]).ToArray());
        var result = new double[p.Shapes.Length][];
        for (int i = 0; i < ins.Length; i++)
        {
            var g = gs[i] ?? throw new PropertyFailure($"{p.Name}: Autograd.Grad returned null for input {ins[i]}");
            Require(leaves[ins[i]].Grad is null, $"{p.Name}: Autograd.Grad must not accumulate into .Grad");
            result[ins[i]] = g.ToArray<double>();
        }
        return result;
    }

    static void CheckGradient(Problem p)
    {
        var bw = BackwardGrad(p);
        var ag = AutogradGrad(p);
        var fd = FiniteDiffGrad(p);
        foreach (var k in p.WrtIndices)
        {
            Close(ag[k], bw[k], 1e-12, 1e-12, $"{p.Name}: Autograd.Grad vs Backward, input {k}");
            Close(bw[k], fd[k], Atol, Rtol, $"{p.Name}: Backward vs finite differences, input {k}");
        }
    }

    static double[][] Direction(Problem p, int seed)
    {
        var r = new Random(seed ^ 0x5bd1e995);
        return p.Shapes.Select((s, k) => p.Wrt[k] ? Rand(r, Prod(s)) : new double[Prod(s)]).ToArray();
    }

    /// <summary>H·v two ways: Autograd.Grad(createGraph) twice, and Backward(createGraph) then Autograd.Grad.</summary>
    static (double[][] ViaGrad, double[][] ViaBackward) Hvp(Problem p, double[][] v)
    {
        var ins = p.WrtIndices.ToArray();
        double[][] Run(bool viaBackward)
        {
            using var scope = DisposeScope.Enter();
            var leaves = Leaves(p, p.Values);
            var y = Scalar(p, leaves);
            var xs = ins.Select(k => leaves[k]).ToArray();
            Tensor?[] g;
            if (viaBackward)
            {
                y.Backward(createGraph: true);
                g = xs.Select(x => x.Grad).ToArray();
            }
            else g = Autograd.Grad(new[] { y }, xs, createGraph: true);
            Tensor? s = null;
            for (int i = 0; i < xs.Length; i++)
            {
                Require(g[i] is not null, $"{p.Name}: no first derivative for input {ins[i]}");
                var term = (g[i]! * D(v[ins[i]], p.Shapes[ins[i]])).Sum();
                s = s is null ? term : s + term;
            }
            Require(s!.RequiresGrad, $"{p.Name}: the first derivative (createGraph: true) does not require grad");
            var hv = Autograd.Grad(new[] { s }, xs, allowUnused: true);
            if (viaBackward) foreach (var x in xs) x.Grad = null; // break the grad ↔ graph cycle
            var result = new double[p.Shapes.Length][];
            for (int i = 0; i < xs.Length; i++) result[ins[i]] = hv[i]?.ToArray<double>() ?? new double[Prod(p.Shapes[ins[i]])];
            return result;
        }
        return (Run(false), Run(true));
    }

    static void CheckHvp(Problem p, int seed)
    {
        var v = Direction(p, seed);
        var (viaGrad, viaBackward) = Hvp(p, v);
        var plus = Clone(p.Values); var minus = Clone(p.Values);
        foreach (var k in p.WrtIndices)
            for (int j = 0; j < v[k].Length; j++) { plus[k][j] += HessH * v[k][j]; minus[k][j] -= HessH * v[k][j]; }
        var gp = AutogradGrad(p, plus); var gm = AutogradGrad(p, minus);
        foreach (var k in p.WrtIndices)
        {
            var fd = gp[k].Zip(gm[k], (a, b) => (a - b) / (2 * HessH)).ToArray();
            Close(viaBackward[k], viaGrad[k], 1e-12, 1e-12, $"{p.Name}: HVP via Backward(createGraph) vs via Autograd.Grad, input {k}");
            Close(viaGrad[k], fd, Atol, Rtol, $"{p.Name}: Hessian-vector product vs finite differences of the gradient, input {k}");
        }
    }

    /// <summary>The full joint Hessian over all Wrt inputs (flattened in order), row by row with gradOutputs = eᵢ and retainGraph.</summary>
    static double[,] FullHessian(Problem p)
    {
        using var scope = DisposeScope.Enter();
        var ins = p.WrtIndices.ToArray();
        var leaves = Leaves(p, p.Values);
        var xs = ins.Select(k => leaves[k]).ToArray();
        var sizes = ins.Select(k => (int)Prod(p.Shapes[k])).ToArray();
        int n = sizes.Sum();
        var g = Autograd.Grad(new[] { Scalar(p, leaves) }, xs, createGraph: true);
        var hess = new double[n, n];
        int row = 0;
        for (int a = 0; a < xs.Length; a++)
            for (int j = 0; j < sizes[a]; j++, row++)
            {
                var e = new double[sizes[a]]; e[j] = 1;
                var r = Autograd.Grad(new[] { g[a]! }, xs, new[] { D(e, p.Shapes[ins[a]]) }, retainGraph: true, allowUnused: true);
                int col = 0;
                for (int b = 0; b < xs.Length; b++)
                {
                    var vals = r[b]?.ToArray<double>() ?? new double[sizes[b]];
                    for (int c = 0; c < sizes[b]; c++) hess[row, col++] = vals[c];
                }
            }
        return hess;
    }

    /// <summary>Column i of the joint Hessian by central differences of the autograd gradient.</summary>
    static double[,] FiniteDiffHessian(Problem p)
    {
        var ins = p.WrtIndices.ToArray();
        var sizes = ins.Select(k => (int)Prod(p.Shapes[k])).ToArray();
        int n = sizes.Sum();
        var hess = new double[n, n];
        int col = 0;
        for (int a = 0; a < ins.Length; a++)
            for (int j = 0; j < sizes[a]; j++, col++)
            {
                var plus = Clone(p.Values); plus[ins[a]][j] += HessH;
                var minus = Clone(p.Values); minus[ins[a]][j] -= HessH;
                var gp = AutogradGrad(p, plus); var gm = AutogradGrad(p, minus);
                var flatP = ins.SelectMany(k => gp[k]).ToArray(); var flatM = ins.SelectMany(k => gm[k]).ToArray();
                for (int r = 0; r < n; r++) hess[r, col] = (flatP[r] - flatM[r]) / (2 * HessH);
            }
        return hess;
    }

    static double[] Flat(double[,] m) => m.Cast<double>().ToArray();
    static double[,] Transpose(double[,] m)
    {
        var t = new double[m.GetLength(1), m.GetLength(0)];
        for (int i = 0; i < m.GetLength(0); i++) for (int j = 0; j < m.GetLength(1); j++) t[j, i] = m[i, j];
        return t;
    }

    static void CheckFullHessian(Problem p, double[,]? analytic = null)
    {
        var h = FullHessian(p);
        Close(Flat(h), Flat(Transpose(h)), 1e-10, 1e-10, $"{p.Name}: Hessian symmetry");
        Close(Flat(h), Flat(FiniteDiffHessian(p)), Atol, Rtol, $"{p.Name}: Hessian vs finite differences of the gradient");
        if (analytic is not null) Close(Flat(h), Flat(analytic), 1e-10, 1e-10, $"{p.Name}: Hessian vs closed form");
    }

    // ------------------------------------------------------------------ problems

    static Problem TanhTimesSquare(TensorSpec s) => new()
    {
        Name = "sum(tanh(x)·x²)", Shapes = new[] { s.Dims }, Values = new[] { s.Values }, Wrt = new[] { true },
        F = t => (Functional.Tanh(t[0]) * t[0] * t[0]).Sum(),
    };

    static Problem Elementwise(TensorSpec s) => new()
    {
        Name = "sum(log(1+eˣ)/√(x²+1) + gelu·silu + softplus − logsigmoid + sigmoid·x³ + mish + erf(x)·sin(x))",
        Shapes = new[] { s.Dims }, Values = new[] { s.Values }, Wrt = new[] { true },
        F = t =>
        {
            var x = t[0];
            var a = (x.Exp() + 1.0).Log() / (x.Square() + 1.0).Sqrt();
            var b = Functional.Gelu(x) * Functional.Silu(x) + Functional.Softplus(x) - Functional.LogSigmoid(x);
            var c = Functional.Sigmoid(x) * x.Pow(3) + Functional.Mish(x) + x.Erf() * x.Sin();
            return (a + b + c).Sum();
        },
    };

    static Problem Broadcasting(TensorSpec s)
    {
        var r = new Random(s.Seed);
        var bShape = new[] { s.Dims[^1] };
        return new()
        {
            Name = "sum(tanh(x·b + c)) with b broadcast over leading dims and a 0-dim c",
            Shapes = new[] { s.Dims, bShape, Array.Empty<long>() },
            Values = new[] { s.Values, Rand(r, bShape[0]), Rand(r, 1) },
            Wrt = new[] { true, true, true },
            F = t => Functional.Tanh(t[0] * t[1] + t[2]).Sum(),
        };
    }

    /// <summary>The values of sort, topk, median and quantile along one dim, weighted (distinct inputs: no ties, so each is differentiable).</summary>
    static Problem OrderStatistics(TensorSpec s)
    {
        var r = new Random(s.Seed);
        int d = s.Seed % s.Rank;
        long n = s.Dims[d], k = Math.Min(2, n);
        long[] Without(long[] dims) => dims.Where((_, i) => i != d).ToArray();
        var topShape = s.Dims.Select((v, i) => i == d ? k : v).ToArray();
        var reduced = Without(s.Dims);
        var w = new[] { Rand(r, Prod(s.Dims)), Rand(r, Prod(topShape)), Rand(r, Prod(reduced)), Rand(r, Prod(reduced)) };
        bool descending = s.Seed % 2 == 1;
        return new()
        {
            Name = $"sum(sort(x, {d}, desc {descending})·w0 + topk(x, {k}, {d})·w1 + median(x, {d})·w2 + quantile(x, 0.3, {d})·w3)",
            Shapes = new[] { s.Dims }, Values = new[] { s.Values }, Wrt = new[] { true },
            F = t => (t[0].Sort(d, descending).Values * D(w[0], s.Dims)).Sum()
                     + (t[0].TopK(k, d).Values * D(w[1], topShape)).Sum()
                     + (t[0].Median(d).Values * D(w[2], reduced)).Sum()
                     + (t[0].Quantile(0.3, d) * D(w[3], reduced)).Sum(),
        };
    }

    static Problem LogSumExp(TensorSpec s)
    {
        var r = new Random(s.Seed);
        int d = s.Seed % (s.Rank + 1); // == rank: over every dimension
        long[]? dims = d == s.Rank ? null : new long[] { d };
        var outShape = dims is null ? Array.Empty<long>() : s.Dims.Where((_, i) => i != d).ToArray();
        var w = Rand(r, Prod(outShape));
        return new()
        {
            Name = $"sum(logsumexp(x, dim {(dims is null ? "all" : d.ToString())})·w)",
            Shapes = new[] { s.Dims }, Values = new[] { s.Values }, Wrt = new[] { true },
            F = t => (t[0].LogSumExp(dims) * D(w, outShape)).Sum(),
        };
    }

    static Problem SoftmaxDot(TensorSpec s)
    {
        var r = new Random(s.Seed);
        int d = s.Seed % s.Rank;
        bool log = (s.Seed / 7) % 2 == 1;
        var w = Rand(r, Prod(s.Dims));
        return new()
        {
            Name = $"sum({(log ? "log_softmax" : "softmax")}(x, {d})·w)",
            Shapes = new[] { s.Dims }, Values = new[] { s.Values }, Wrt = new[] { true },
            F = t => ((log ? Functional.LogSoftmax(t[0], d) : Functional.Softmax(t[0], d)) * D(w, s.Dims)).Sum(),
        };
    }

    static Problem MatmulChain(TensorSpec s)
    {
        var r = new Random(s.Seed);
        long n = s.Dims[^1], k = 1 + s.Seed % 4, m = 1 + (s.Seed / 4) % 4;
        return new()
        {
            Name = "½·sum((tanh(x @ W1ᵀ) @ W2)²), W1 stored [k, n] and used transposed",
            Shapes = new[] { s.Dims, new[] { k, n }, new[] { k, m } },
            Values = new[] { s.Values, Rand(r, k * n), Rand(r, k * m) },
            Wrt = new[] { true, true, true },
            F = t => (Functional.Tanh(t[0].Matmul(t[1].T)).Matmul(t[2]).Square().Sum()) * 0.5,
        };
    }

    static Problem Mse(TensorSpec s)
    {
        var r = new Random(s.Seed);
        var red = s.Seed % 2 == 0 ? Reduction.Mean : Reduction.Sum;
        return new()
        {
            Name = $"mse_loss(x, target, {red})",
            Shapes = new[] { s.Dims, s.Dims }, Values = new[] { s.Values, Rand(r, Prod(s.Dims), -2, 2) }, Wrt = new[] { true, true },
            F = t => Functional.MseLoss(t[0], t[1], red),
        };
    }

    static Problem CrossEntropy(TensorSpec s)
    {
        var r = new Random(s.Seed);
        long c = s.Dims[1];
        var tShape = s.Dims.Where((_, i) => i != 1).ToArray();
        var target = Enumerable.Range(0, (int)Prod(tShape)).Select(_ => (long)r.Next((int)c)).ToArray();
        if ((s.Seed / 8) % 2 == 1 && target.Length >= 2) target[0] = -100; // one ignored target
        var red = s.Seed % 2 == 0 ? Reduction.Mean : Reduction.Sum;
        double smoothing = (s.Seed / 2) % 2 == 0 ? 0 : 0.1;
        var weight = (s.Seed / 4) % 2 == 0 ? null : Rand(r, c, 0.5, 1.5);
        return new()
        {
            Name = $"cross_entropy(logits [{string.Join(",", s.Dims)}], {red}, smoothing {smoothing}, weight {(weight is null ? "none" : "given")}, ignored {target[0] == -100})",
            Shapes = new[] { s.Dims }, Values = new[] { s.Values }, Wrt = new[] { true },
            F = t => Functional.CrossEntropy(t[0], Torch.From(target, tShape), weight is null ? null : D(weight, new[] { c }), red, labelSmoothing: smoothing),
        };
    }

    static Problem Conv(ConvSpec c)
    {
        var r = new Random(c.Seed);
        var xs = new long[] { c.N, c.Cin, c.H, c.W };
        var ws = new long[] { c.Cout, c.Cin / c.Groups, c.KH, c.KW };
        var bs = new long[] { c.Cout };
        Tensor Op(Tensor[] t) => Functional.Conv2d(t[0], t[1], t[2], (c.Stride, c.Stride), (c.Pad, c.Pad), (c.Dilation, c.Dilation), c.Groups);
        var shapes = new[] { xs, ws, bs };
        var outShape = ShapeOf(Op, shapes);
        var probe = Rand(r, Prod(outShape));
        return new()
        {
            Name = $"sum(tanh(conv2d(x, w, b))·r) for {c}",
            Shapes = shapes, Values = new[] { Rand(r, Prod(xs)), Rand(r, Prod(ws)), Rand(r, Prod(bs)) }, Wrt = new[] { true, true, true },
            F = t => (Functional.Tanh(Op(t)) * D(probe, outShape)).Sum(),
        };
    }

    static Problem MaxPool(TensorSpec s)
    {
        var r = new Random(s.Seed);
        long k = Math.Min(s.Dims[2], s.Dims[3]) >= 3 && s.Seed % 2 == 1 ? 3 : 2;
        long stride = 1 + (s.Seed / 2) % k;
        long pad = (s.Seed / 8) % 2;
        bool ceil = (s.Seed / 16) % 2 == 1;
        Tensor Op(Tensor[] t) => Functional.MaxPool2d(t[0], (k, k), (stride, stride), (pad, pad), ceilMode: ceil);
        var outShape = ShapeOf(Op, new[] { s.Dims });
        var probe = Rand(r, Prod(outShape));
        return new()
        {
            Name = $"sum(max_pool2d(x, k {k}, stride {stride}, pad {pad}, ceil {ceil})²·r)",
            Shapes = new[] { s.Dims }, Values = new[] { s.Values }, Wrt = new[] { true },
            F = t => (Op(t).Square() * D(probe, outShape)).Sum(),
        };
    }

    static Problem LayerNorm(TensorSpec s)
    {
        var r = new Random(s.Seed);
        int nd = s.Rank >= 2 && s.Seed % 2 == 1 ? 2 : 1;
        var ns = s.Dims[^nd..];
        var probe = Rand(r, Prod(s.Dims));
        return new()
        {
            Name = $"sum(layer_norm(x, [{string.Join(",", ns)}], w, b)·r)",
            Shapes = new[] { s.Dims, ns, ns }, Values = new[] { s.Values, Rand(r, Prod(ns), 0.5, 1.5), Rand(r, Prod(ns)) },
            Wrt = new[] { true, true, true },
            F = t => (Functional.LayerNorm(t[0], ns, t[1], t[2]) * D(probe, s.Dims)).Sum(),
        };
    }

    // ------------------------------------------------------------------ first-order properties

    static Property Grad(Arbitrary<TensorSpec> specs, Func<TensorSpec, Problem> make) =>
        Prop.ForAll(specs, (TensorSpec s) => CheckGradient(make(s)));

    static Property Hvp(Arbitrary<TensorSpec> specs, Func<TensorSpec, Problem> make) =>
        Prop.ForAll(specs, (TensorSpec s) => CheckHvp(make(s), s.Seed));

    static bool CrossEntropyDims(long[] d) => d.Length >= 2;
    static bool PoolDims(long[] d) => d.Length == 4 && d[0] <= 2 && d[1] <= 2 && d[2] >= 2 && d[3] >= 2;
    static readonly Gen<long[]> PoolDimsGen =
        from n in Gen.Choose(1, 2) from c in Gen.Choose(1, 2) from h in Gen.Choose(2, 5) from w in Gen.Choose(2, 5)
        select new long[] { n, c, h, w };
    static Arbitrary<TensorSpec> PoolSpecs() => Specs(4, 4, 1, 5, distinct: true, valid: PoolDims, dimsGen: PoolDimsGen);

    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property Gradient_TanhTimesSquare() => Grad(Specs(), TanhTimesSquare);

    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property Gradient_Elementwise() => Grad(Specs(), Elementwise);

    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property Gradient_Broadcasting() => Grad(Specs(), Broadcasting);

    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property Gradient_LogSumExp() => Grad(Specs(), LogSumExp);

    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property Gradient_SoftmaxDotW() => Grad(Specs(), SoftmaxDot);

    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property Gradient_MatmulChain() => Grad(Specs(), MatmulChain);

    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property Gradient_Mse() => Grad(Specs(), Mse);

    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property Gradient_CrossEntropyWrtLogits() => Grad(Specs(2, 3, valid: CrossEntropyDims), CrossEntropy);

    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property Gradient_Conv2dWrtInputWeightBias() => Prop.ForAll(ConvSpecs(), (ConvSpec c) => CheckGradient(Conv(c)));

    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property Gradient_MaxPool2d() => Grad(PoolSpecs(), MaxPool);

    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property Gradient_LayerNorm() => Grad(Specs(distinct: true), LayerNorm);

    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property Gradient_SortTopKMedianQuantile() => Grad(Specs(distinct: true), OrderStatistics);

    // ------------------------------------------------------------------ second-order properties

    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property HessianVector_TanhTimesSquare() => Hvp(Specs(), TanhTimesSquare);

    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property HessianVector_Elementwise() => Hvp(Specs(), Elementwise);

    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property HessianVector_Broadcasting() => Hvp(Specs(), Broadcasting);

    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property HessianVector_LogSumExp() => Hvp(Specs(), LogSumExp);

    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property HessianVector_SoftmaxDotW() => Hvp(Specs(), SoftmaxDot);

    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property HessianVector_MatmulChain() => Hvp(Specs(), MatmulChain);

    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property HessianVector_Mse() => Hvp(Specs(), Mse);

    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property HessianVector_CrossEntropy() => Hvp(Specs(2, 3, valid: CrossEntropyDims), CrossEntropy);

    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property HessianVector_Conv2d() => Prop.ForAll(ConvSpecs(), (ConvSpec c) => CheckHvp(Conv(c), c.Seed));

    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property HessianVector_MaxPool2d() => Hvp(PoolSpecs(), MaxPool);

    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property HessianVector_LayerNorm() => Hvp(Specs(distinct: true), LayerNorm);

    // ------------------------------------------------------------------ full Hessians

    /// <summary>d²/dx² of tanh(x)·x² is −2·t·s·x² + 4·s·x + 2·t with t = tanh x, s = 1 − t²; the Hessian is diagonal.</summary>
    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property FullHessian_TanhTimesSquare_IsDiagonalClosedForm() =>
        Prop.ForAll(Specs(1, 2, 1, 3), (TensorSpec s) =>
        {
            int n = s.Values.Length;
            var analytic = new double[n, n];
            for (int i = 0; i < n; i++)
            {
                double x = s.Values[i], t = Math.Tanh(x), sech2 = 1 - t * t;
                analytic[i, i] = -2 * t * sech2 * x * x + 4 * sech2 * x + 2 * t;
            }
            CheckFullHessian(TanhTimesSquare(s), analytic);
        });

    /// <summary>The Hessian of logsumexp over a vector is diag(p) − p·pᵀ with p = softmax(x).</summary>
    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property FullHessian_LogSumExp_ClosedForm() =>
        Prop.ForAll(Specs(1, 1, 1, 6), (TensorSpec s) =>
        {
            int n = s.Values.Length;
            double mx = s.Values.Max();
            var e = s.Values.Select(v => Math.Exp(v - mx)).ToArray();
            var p = e.Select(v => v / e.Sum()).ToArray();
            var analytic = new double[n, n];
            for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) analytic[i, j] = (i == j ? p[i] : 0) - p[i] * p[j];
            CheckFullHessian(new Problem
            {
                Name = "logsumexp(x)", Shapes = new[] { s.Dims }, Values = new[] { s.Values }, Wrt = new[] { true },
                F = t => t[0].LogSumExp(),
            }, analytic);
        });

    /// <summary>f(x) = x·(A·x) + Σx³ has Hessian A + Aᵀ + diag(6x).</summary>
    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property FullHessian_QuadraticPlusCubic_ClosedForm() =>
        Prop.ForAll(Specs(1, 1, 1, 6), (TensorSpec s) =>
        {
            int n = s.Values.Length;
            var a = Rand(new Random(s.Seed), n * n, -2, 2);
            var analytic = new double[n, n];
            for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) analytic[i, j] = a[i * n + j] + a[j * n + i] + (i == j ? 6 * s.Values[i] : 0);
            CheckFullHessian(new Problem
            {
                Name = "x·(A x) + Σx³", Shapes = new[] { s.Dims }, Values = new[] { s.Values }, Wrt = new[] { true },
                F = t => t[0].Dot(D(a, new long[] { n, n }).Matmul(t[0])) + t[0].Pow(3).Sum(),
            }, analytic);
        });

    /// <summary>The joint Hessian over (x, W, b) of sum(tanh(W·x + b)²): mixed blocks included.</summary>
    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property FullHessian_TwoLayerJoint_MatchesFiniteDifferences() =>
        Prop.ForAll(Specs(1, 1, 1, 3), (TensorSpec s) =>
        {
            var r = new Random(s.Seed);
            long n = s.Dims[0], m = 1 + s.Seed % 3;
            CheckFullHessian(new Problem
            {
                Name = "sum(tanh(W x + b)²) over (x, W, b)",
                Shapes = new[] { s.Dims, new[] { m, n }, new[] { m } },
                Values = new[] { s.Values, Rand(r, m * n), Rand(r, m) },
                Wrt = new[] { true, true, true },
                F = t => Functional.Tanh(t[1].Matmul(t[0]) + t[2]).Square().Sum(),
            });
        });

    /// <summary>The Hessian of the mean cross-entropy w.r.t. logits [N, C] is (1/N)·blockdiag(diag(pᵢ) − pᵢpᵢᵀ).</summary>
    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property FullHessian_CrossEntropy_ClosedForm() =>
        Prop.ForAll(Specs(2, 2, 1, 3), (TensorSpec s) =>
        {
            int rows = (int)s.Dims[0], c = (int)s.Dims[1], n = rows * c;
            var r = new Random(s.Seed);
            var target = Enumerable.Range(0, rows).Select(_ => (long)r.Next(c)).ToArray();
            var analytic = new double[n, n];
            for (int i = 0; i < rows; i++)
            {
                var row = s.Values.Skip(i * c).Take(c).ToArray();
                double mx = row.Max();
                var e = row.Select(v => Math.Exp(v - mx)).ToArray();
                var p = e.Select(v => v / e.Sum()).ToArray();
                for (int a = 0; a < c; a++) for (int b = 0; b < c; b++)
                    analytic[i * c + a, i * c + b] = ((a == b ? p[a] : 0) - p[a] * p[b]) / rows;
            }
            CheckFullHessian(new Problem
            {
                Name = "cross_entropy(logits, target)", Shapes = new[] { s.Dims }, Values = new[] { s.Values }, Wrt = new[] { true },
                F = t => Functional.CrossEntropy(t[0], Torch.From(target, rows)),
            }, analytic);
        });

    // ------------------------------------------------------------------ non-scalar outputs (vector-Jacobian products)

    /// <summary>
    /// For y = tanh(x)·x² + softmax(x) (non-scalar) and a random v: Backward(v), Autograd.Grad with
    /// gradOutputs v, and Autograd.Grad over two outputs [y1, y2] with [v1, v2] all equal the finite
    /// differences of Σ y·v (resp. Σ y1·v1 + Σ y2·v2).
    /// </summary>
    [Property(MaxTest = Cases, QuietOnSuccess = true)]
    public Property VectorJacobianProducts() =>
        Prop.ForAll(Specs(), (TensorSpec s) =>
        {
            var r = new Random(s.Seed);
            int last = s.Rank - 1;
            var v1 = Rand(r, s.Values.Length); var v2 = Rand(r, s.Values.Length);
            Tensor Y1(Tensor x) => Functional.Tanh(x) * x * x;
            Tensor Y2(Tensor x) => Functional.Softmax(x, last);
            var scalar = new Problem
            {
                Name = "Σ y1·v1 + Σ y2·v2", Shapes = new[] { s.Dims }, Values = new[] { s.Values }, Wrt = new[] { true },
                F = t => (Y1(t[0]) * D(v1, s.Dims)).Sum() + (Y2(t[0]) * D(v2, s.Dims)).Sum(),
            };
            var fd = FiniteDiffGrad(scalar)[0];
            using var scope = DisposeScope.Enter();

            var x = D(s.Values, s.Dims, requiresGrad: true);
            var y = Y1(x) + Y2(x);
            y.Backward(D(v1, s.Dims), retainGraph: true);
            y.Backward(D(v2, s.Dims)); // accumulates Jᵀv1 + Jᵀv2 = Jᵀ(v1 + v2) for y = y1 + y2
            var viaBackward = x.Grad!.ToArray<double>();

            var x2 = D(s.Values, s.Dims, requiresGrad: true);
            var twoOutputs = Autograd.Grad(new[] { Y1(x2), Y2(x2) }, new[] { x2 }, new[] { D(v1, s.Dims), D(v2, s.Dims) })[0]!.ToArray<double>();

            var x3 = D(s.Values, s.Dims, requiresGrad: true);
            var sumV = v1.Zip(v2, (a, b) => a + b).ToArray();
            var sumProblem = new Problem
            {
                Name = "Σ (y1 + y2)·(v1 + v2)", Shapes = new[] { s.Dims }, Values = new[] { s.Values }, Wrt = new[] { true },
                F = t => ((Y1(t[0]) + Y2(t[0])) * D(sumV, s.Dims)).Sum(),
            };
            var oneOutput = Autograd.Grad(Y1(x3) + Y2(x3), x3, D(sumV, s.Dims)).ToArray<double>();

            Close(twoOutputs, fd, Atol, Rtol, "Autograd.Grad over [y1, y2] with [v1, v2] vs finite differences");
            var fdSum = FiniteDiffGrad(sumProblem)[0];
            Close(viaBackward, fdSum, Atol, Rtol, "Backward(v1) + Backward(v2) on y1 + y2 vs finite differences");
            Close(oneOutput, fdSum, Atol, Rtol, "Autograd.Grad(y, x, gradOutput) vs finite differences");
        });

    // ------------------------------------------------------------------ autograd API contracts

    [Test]
    public void GradOfAnUnusedInputIsNullOnlyWhenAllowed()
    {
        using var scope = DisposeScope.Enter();
        var x = Torch.From<double>(new[] { 1.0, 2.0 }, new long[] { 2 }, requiresGrad: true);
        var unused = Torch.From<double>(new[] { 3.0 }, new long[] { 1 }, requiresGrad: true);
        var y = (x * x).Sum();
        var g = Autograd.Grad(new[] { y }, new[] { x, unused }, retainGraph: true, allowUnused: true);
        Assert.That(g[0]!.ToArray<double>(), Is.EqualTo(new[] { 2.0, 4.0 }));
        Assert.That(g[1], Is.Null);
        var e = Assert.Throws<TorchException>(() => Autograd.Grad(new[] { y }, new[] { x, unused }));
        Assert.That(e!.Op, Is.EqualTo("autograd.grad"));
    }

    [Test]
    public void BackwardTwiceWithoutRetainGraphFailsWithATorchException()
    {
        using var scope = DisposeScope.Enter();
        var x = Torch.From<double>(new[] { 1.0, 2.0 }, new long[] { 2 }, requiresGrad: true);
        var y = (x.Exp() * x).Sum();
        y.Backward();
        var e = Assert.Throws<TorchException>(() => y.Backward());
        Assert.That(e!.Op, Is.EqualTo("backward"));
        Assert.That(x.Grad, Is.Not.Null, "the first gradient is kept");
    }

    [Test]
    public void NoGradStopsRecordingAndRestoresTheMode()
    {
        using var scope = DisposeScope.Enter();
        var x = Torch.From<double>(new[] { 1.0, 2.0 }, new long[] { 2 }, requiresGrad: true);
        Assert.That(Autograd.IsGradEnabled, Is.True);
        Tensor inside, reenabled;
        using (Autograd.NoGrad())
        {
            Assert.That(Autograd.IsGradEnabled, Is.False);
            inside = x * 2.0;
            using (Autograd.EnableGrad()) reenabled = x * 2.0;
            Assert.That(Autograd.IsGradEnabled, Is.False);
        }
        Assert.That(Autograd.IsGradEnabled, Is.True);
        Assert.That(inside.RequiresGrad, Is.False);
        Assert.That(reenabled.RequiresGrad, Is.True);
        Assert.That(x.Detach().RequiresGrad, Is.False);

        bool otherThread = false;
        using (Autograd.NoGrad())
        {
            var th = new Thread(() => otherThread = Autograd.IsGradEnabled);
            th.Start(); th.Join();
        }
        Assert.That(otherThread, Is.True, "grad mode is per thread");
    }

    [Test]
    public void ZeroGradDropsOrZeroesTheGradient()
    {
        using var scope = DisposeScope.Enter();
        var x = Torch.From<double>(new[] { 1.0, 2.0 }, new long[] { 2 }, requiresGrad: true);
        (x * x).Sum().Backward();
        x.ZeroGrad(setToNone: false);
        Assert.That(x.Grad!.ToArray<double>(), Is.EqualTo(new[] { 0.0, 0.0 }));
        (x * x).Sum().Backward();
        Assert.That(x.Grad!.ToArray<double>(), Is.EqualTo(new[] { 2.0, 4.0 }), "accumulates onto the zeroed gradient");
        x.ZeroGrad();
        Assert.That(x.Grad, Is.Null);
        x.Grad = Torch.From<double>(new[] { 5.0, 6.0 }, new long[] { 2 });
        (x * x).Sum().Backward();
        Assert.That(x.Grad!.ToArray<double>(), Is.EqualTo(new[] { 7.0, 10.0 }), "accumulates onto an assigned gradient");
    }

    [Test]
    public void InPlaceUpdateOfALeafThatRequiresGradFailsOutsideNoGrad()
    {
        using var scope = DisposeScope.Enter();
        var x = Torch.From<double>(new[] { 1.0, 2.0 }, new long[] { 2 }, requiresGrad: true);
        Assert.Throws<TorchException>(() => x.Sub_(1.0));
        using (Autograd.NoGrad()) x.Sub_(1.0);
        Assert.That(x.ToArray<double>(), Is.EqualTo(new[] { 0.0, 1.0 }));
        Assert.That(x.IsLeaf && x.RequiresGrad, Is.True);
    }

    // ------------------------------------------------------------------ self-checks of the harness

    /// <summary>
    /// Every creation function's requiresGrad: true must give a leaf that requires grad (the properties
    /// above use Torch.From, which does). libtorch's at:: factories do not accept requires_grad in their
    /// TensorOptions, so the flag has to be set after creation, as the random factories and From do.
    /// </summary>
    [Test]
    public void FactoriesHonourRequiresGrad()
    {
        using var scope = DisposeScope.Enter();
        var factories = new (string Name, Func<Tensor> Make)[]
        {
            ("Zeros", () => Torch.Zeros(new long[] { 2 }, DType.Float64, requiresGrad: true)),
            ("Ones", () => Torch.Ones(new long[] { 2 }, DType.Float64, requiresGrad: true)),
            ("Empty", () => Torch.Empty(new long[] { 2 }, DType.Float64, requiresGrad: true)),
            ("Full", () => Torch.Full(new long[] { 2 }, 3.0, DType.Float64, requiresGrad: true)),
            ("Scalar", () => Torch.Scalar(3.0, DType.Float64, requiresGrad: true)),
            ("Eye", () => Torch.Eye(2, dtype: DType.Float64, requiresGrad: true)),
            ("Arange", () => Torch.Arange(0, 3, dtype: DType.Float64, requiresGrad: true)),
            ("Linspace", () => Torch.Linspace(0, 1, 3, DType.Float64, requiresGrad: true)),
            ("Rand", () => Torch.Rand(new long[] { 2 }, dtype: DType.Float64, requiresGrad: true)),
            ("Randn", () => Torch.Randn(new long[] { 2 }, dtype: DType.Float64, requiresGrad: true)),
            ("Normal", () => Torch.Normal(0, 1, new long[] { 2 }, dtype: DType.Float64, requiresGrad: true)),
            ("From", () => Torch.From<double>(new[] { 1.0, 2.0 }, new long[] { 2 }, requiresGrad: true)),
        };
        var wrong = new List<string>();
        foreach (var (name, make) in factories)
        {
            try
            {
                var t = make();
                if (!t.RequiresGrad || !t.IsLeaf) { wrong.Add($"{name}: RequiresGrad={t.RequiresGrad}, IsLeaf={t.IsLeaf}"); continue; }
                (t * t).Sum().Backward();
                if (t.Grad is null) wrong.Add($"{name}: no .Grad after Backward()");
            }
            catch (Exception e) { wrong.Add($"{name}: throws {e.GetType().Name}: {e.Message}"); }
        }
        Assert.That(wrong, Is.Empty, "creation functions given requiresGrad: true");
    }

    [Test]
    public void Shrinker_ReducesDimsAndKeepsTheMatchingValues()
    {
        var s = new TensorSpec(new long[] { 2, 3 }, new double[] { 1, 2, 3, 4, 5, 6 }, 7, false);
        var shrunk = ShrinkSpec(s, 1, 1).ToList();
        Assert.That(shrunk.Any(x => x.Dims.SequenceEqual(new long[] { 3 }) && x.Values.SequenceEqual(new double[] { 1, 2, 3 })));
        Assert.That(shrunk.Any(x => x.Dims.SequenceEqual(new long[] { 1, 3 }) && x.Values.SequenceEqual(new double[] { 1, 2, 3 })));
        Assert.That(shrunk.Any(x => x.Dims.SequenceEqual(new long[] { 2, 2 }) && x.Values.SequenceEqual(new double[] { 1, 2, 4, 5 })));
        Assert.That(shrunk.Any(x => x.Dims.SequenceEqual(new long[] { 2, 2 }) && x.Values.SequenceEqual(new double[] { 2, 3, 5, 6 })));
        Assert.That(shrunk.Any(x => x.Dims.SequenceEqual(new long[] { 1, 3 }) && x.Values.SequenceEqual(new double[] { 4, 5, 6 })));
        Assert.That(shrunk.Any(x => x.Seed == 0));
        Assert.That(ShrinkConv(new ConvSpec(1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 0)), Is.Empty);
    }

    [Test]
    public void Harness_DetectsAWrongGradient()
    {
        // A function whose autograd gradient differs from its value's derivative (detach hides a term):
        // the harness must notice, or every property above would be vacuous.
        var p = new Problem
        {
            Name = "x·detach(x)", Shapes = new[] { new long[] { 3 } }, Values = new[] { new[] { 0.5, -1.0, 2.0 } }, Wrt = new[] { true },
            F = t => (t[0] * t[0].Detach()).Sum(),
        };
        Assert.Throws<PropertyFailure>(() => CheckGradient(p));
    }
}
