using System.Text.Json;
using Dsl.Engine.Optim;
using NUnit.Framework;

namespace Dsl.Engine.Tests;

/// <summary>
/// L-BFGS (Dsl.Engine.Optim.LBFGS) against torch.optim.LBFGS 1.13 trajectories in tests/fixtures/lbfgs.json (made by
/// tests/fixtures/make_lbfgs_fixtures.py): per step the returned loss, every parameter (within 1e-5) and the
/// evaluation and iteration counters (exactly); plus argument checks, a closure without gradients, and that the
/// optimizer's history is freed.
/// </summary>
[TestFixture]
public class LbfgsTests
{
    const double Tol = 1e-5;   // |actual - expected| ≤ Tol · max(1, |expected|)

    static readonly Lazy<JsonDocument> doc = new(() =>
        JsonDocument.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "fixtures", "lbfgs.json"))));

    static JsonElement Root => doc.Value.RootElement;

    static float[] Floats(JsonElement t) => t.GetProperty("data").EnumerateArray().Select(x => (float)x.GetDouble()).ToArray();
    static long[] ShapeOf(JsonElement t) => t.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray();
    static double[] Doubles(JsonElement t) => t.GetProperty("data").EnumerateArray().Select(x => x.GetDouble()).ToArray();
    static Tensor ToTensor(JsonElement t, DType dtype, bool requiresGrad = false) => dtype == DType.Float64
        ? Torch.From<double>(Doubles(t).AsSpan(), ShapeOf(t).AsSpan(), requiresGrad: requiresGrad)
        : Torch.From<float>(Floats(t).AsSpan(), ShapeOf(t).AsSpan(), requiresGrad: requiresGrad);

    public static IEnumerable<TestCaseData> Cases() =>
        Root.GetProperty("lbfgs_cases").EnumerateArray().Select(c => new TestCaseData(c.GetProperty("name").GetString()!).SetName("lbfgs_" + c.GetProperty("name").GetString()));

    /// <summary>The fixture's problem in <paramref name="dtype"/>: its data and fresh parameters, and its loss (the same ops as the script).</summary>
    static (Tensor[] Params, Func<Tensor> Loss) Problem(string name, DType dtype = DType.Float32)
    {
        var p = Root.GetProperty("problems").GetProperty(name);
        var data = p.GetProperty("data");
        var ps = p.GetProperty("params").EnumerateArray().Select(e => ToTensor(e, dtype, requiresGrad: true)).ToArray();
        var x = ToTensor(data.GetProperty("x"), dtype);
        Tensor Logistic()
        {
            var y = ToTensor(data.GetProperty("y"), dtype);
            var z = x.Matmul(ps[0]) + ps[1];
            return (Functional.Softplus(z) - y * z).Mean() + 0.005 * ps[0].Pow(2).Sum();
        }
        Tensor TanhMlp()
        {
            var t = ToTensor(data.GetProperty("t"), dtype);
            return (Functional.Tanh(x.Matmul(ps[0]) + ps[1]).Matmul(ps[2]) - t).Pow(2).Mean();
        }
        Func<Tensor> loss = name switch
        {
            "logistic" => Logistic,
            "tanh_mlp" => TanhMlp,
            _ => throw new NotSupportedException(name),
        };
        return (ps, loss);
    }

    static LBFGS Make(JsonElement options, IEnumerable<Tensor> ps)
    {
        var o = options.EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
        var known = new[] { "lr", "max_iter", "max_eval", "tolerance_grad", "tolerance_change", "history_size", "line_search_fn" };
        var unknown = o.Keys.Except(known).ToArray();
        if (unknown.Length > 0) throw new NotSupportedException($"LBFGS: option(s) {string.Join(", ", unknown)} not mapped by the test");
        double D(string k, double dflt) => o.TryGetValue(k, out var v) ? v.GetDouble() : dflt;
        int I(string k, int dflt) => o.TryGetValue(k, out var v) ? v.GetInt32() : dflt;
        var ls = o.TryGetValue("line_search_fn", out var l) && l.GetString() == "strong_wolfe" ? LineSearch.StrongWolfe : LineSearch.None;
        return new LBFGS(ps, lr: D("lr", 1), maxIter: I("max_iter", 20), maxEval: o.TryGetValue("max_eval", out var me) ? me.GetInt32() : null,
                         toleranceGrad: D("tolerance_grad", 1e-7), toleranceChange: D("tolerance_change", 1e-9), historySize: I("history_size", 100), lineSearch: ls);
    }

    static void ForceFinalizers()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    [TestCaseSource(nameof(Cases))]
    public void Trajectory(string name)
    {
        var c = Root.GetProperty("lbfgs_cases").EnumerateArray().Single(e => e.GetProperty("name").GetString() == name);
        var steps = c.GetProperty("trajectory").EnumerateArray().ToArray();
        var errors = new List<string>();
        var perStep = new List<string>();
        ForceFinalizers();
        long before = Tensor.LiveCount;
        using (var scope = DisposeScope.Enter())
        {
            var dtype = c.GetProperty("dtype").GetString() == "float64" ? DType.Float64 : DType.Float32;
            var (ps, lossFn) = Problem(c.GetProperty("problem").GetString()!, dtype);
            using var opt = Make(c.GetProperty("options"), ps);
            double Closure()
            {
                opt.ZeroGrad();
                var loss = lossFn();
                loss.Backward();
                return loss.ToDouble();
            }
            for (int s = 0; s < steps.Length; s++)
            {
                var e = steps[s];
                double loss = opt.Step(Closure);
                double expectedLoss = e.GetProperty("loss").GetDouble();
                double lossErr = Math.Abs(loss - expectedLoss) / Math.Max(1, Math.Abs(expectedLoss));
                if (lossErr > Tol) errors.Add($"step {s + 1}: loss {loss:R} vs PyTorch {expectedLoss:R}");
                int evals = e.GetProperty("func_evals").GetInt32(), iters = e.GetProperty("n_iter").GetInt32();
                if (opt.FuncEvals != evals || opt.Iterations != iters)
                    errors.Add($"step {s + 1}: func_evals {opt.FuncEvals}, n_iter {opt.Iterations}; PyTorch {evals}, {iters}");
                var expected = e.GetProperty("params").EnumerateArray().ToArray();
                double worst = 0;
                for (int k = 0; k < ps.Length; k++)
                {
                    Assert.That(ps[k].Shape, Is.EqualTo(ShapeOf(expected[k])));
                    var a = ps[k].To(DType.Float64).ToArray<double>();
                    var x = Doubles(expected[k]);
                    for (int i = 0; i < a.Length; i++)
                    {
                        double rel = Math.Abs(a[i] - x[i]) / Math.Max(1, Math.Abs(x[i]));
                        if (double.IsNaN(rel)) rel = double.PositiveInfinity;
                        worst = Math.Max(worst, rel);
                        if (rel > Tol) errors.Add($"step {s + 1}: param {k}[{i}] = {a[i]:R}, PyTorch {x[i]:R}");
                    }
                }
                perStep.Add($"step {s + 1}: max rel. diff {worst:G3}, evals {opt.FuncEvals}, iters {opt.Iterations}");
            }
        }
        ForceFinalizers();
        long after = Tensor.LiveCount;
        if (after != before) errors.Add($"leak: Tensor.LiveCount {before} before the case, {after} after");
        TestContext.Out.WriteLine($"{name}: " + string.Join("; ", perStep));
        if (errors.Count > 0)
            Assert.Fail($"{name} {c.GetProperty("options").GetRawText()}:\n  " + string.Join("\n  ", errors.Take(20)) + "\n  per step: " + string.Join("; ", perStep));
    }

    [Test]
    public void HistoryIsOwnedAndFreed()
    {
        ForceFinalizers();
        long baseline = Tensor.LiveCount;
        using (var scope = DisposeScope.Enter())
        {
            var (ps, lossFn) = Problem("tanh_mlp");
            long withProblem = Tensor.LiveCount;
            var opt = new LBFGS(ps, historySize: 3, maxIter: 6, lineSearch: LineSearch.StrongWolfe);
            for (int s = 0; s < 3; s++)
                opt.Step(() => { opt.ZeroGrad(); var l = lossFn(); l.Backward(); return l.ToDouble(); });
            // between steps only the kept state lives: d, the previous gradient, ≤ 3 pairs (and the parameters' grads)
            long kept = Tensor.LiveCount - withProblem;
            Assert.That(kept, Is.LessThanOrEqualTo(2 + 2 * 3 + ps.Length), $"tensors alive between steps: {kept}");
            opt.Dispose();
            foreach (var p in ps) p.ZeroGrad();
            Assert.That(Tensor.LiveCount, Is.EqualTo(withProblem), "Dispose frees the optimizer's state");
        }
        ForceFinalizers();
        Assert.That(Tensor.LiveCount, Is.EqualTo(baseline));
    }

    [Test]
    public void BadArgumentsAndClosureWithoutBackward()
    {
        using var scope = DisposeScope.Enter();
        var w = Torch.Ones(new long[] { 3 }, DType.Float32, requiresGrad: true);
        Assert.That(() => new LBFGS(new[] { w }, lr: 0), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("learning rate"));
        Assert.That(() => new LBFGS(new[] { w }, maxIter: 0), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("maxIter"));
        Assert.That(() => new LBFGS(new[] { w }, historySize: 0), Throws.InstanceOf<ArgumentOutOfRangeException>().With.Message.Contains("historySize"));
        Assert.That(() => new LBFGS(new[] { Torch.Ones(3) }), Throws.ArgumentException.With.Message.Contains("requires grad"));
        using var opt = new LBFGS(new[] { w });
        var ex = Assert.Throws<InvalidOperationException>(() => opt.Step(() => w.Pow(2).Sum().ToDouble()))!;
        Assert.That(ex.Message, Does.Contain("Backward()"));
        // the same quadratic with backward converges to 0 in one step
        double first = opt.Step(() => { opt.ZeroGrad(); var l = w.Pow(2).Sum(); l.Backward(); return l.ToDouble(); });
        Assert.That(first, Is.EqualTo(3.0));
        Assert.That(w.Abs().Max().ToDouble(), Is.LessThan(1e-5));
    }
}
