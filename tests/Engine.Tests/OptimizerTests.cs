using System.Text.Json;
using Dsl.Engine.Optim;
using NUnit.Framework;

namespace Dsl.Engine.Tests;

/// <summary>
/// The optimizers (Dsl.Engine.Optim) against PyTorch 1.13 trajectories in tests/fixtures/optim.json
/// (made by tests/fixtures/make_optim_fixtures.py; NAdam follows PyTorch 2.0's rule, see there), plus
/// gradient clipping, checkpoint state, parameter selection, argument checks and state-tensor lifetime.
/// </summary>
[TestFixture]
public class OptimizerTests
{
    const double Tol = 1e-5;   // |actual - expected| ≤ Tol · max(1, |expected|)

    // ---- the fixture ----

    static readonly Lazy<JsonDocument> doc = new(() =>
        JsonDocument.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "fixtures", "optim.json"))));

    static JsonElement Root => doc.Value.RootElement;
    static JsonElement Problem => Root.GetProperty("problem");

    static float[] Floats(JsonElement t) => t.GetProperty("data").EnumerateArray().Select(x => (float)x.GetDouble()).ToArray();
    static long[] ShapeOf(JsonElement t) => t.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray();
    static Tensor ToTensor(JsonElement t, bool requiresGrad = false) => Torch.From<float>(Floats(t).AsSpan(), ShapeOf(t).AsSpan(), requiresGrad: requiresGrad);

    public static IEnumerable<TestCaseData> OptimCases() =>
        Root.GetProperty("optim_cases").EnumerateArray().Select(c =>
            new TestCaseData(c.GetProperty("name").GetString()!).SetName("optim_" + c.GetProperty("name").GetString()).SetCategory(c.GetProperty("optimizer").GetString()!));

    public static IEnumerable<TestCaseData> ClipCases() =>
        Root.GetProperty("clip_cases").EnumerateArray().Select(c => new TestCaseData(c.GetProperty("name").GetString()!).SetName(c.GetProperty("name").GetString()!));

    static JsonElement Case(string section, string name) =>
        Root.GetProperty(section).EnumerateArray().Single(c => c.GetProperty("name").GetString() == name);

    /// <summary>Builds the optimizer named in the fixture, passing only the options the fixture passed to torch.optim (so C#'s defaults are in play).</summary>
    static Optimizer Make(string optimizer, JsonElement options, IEnumerable<Tensor> ps)
    {
        var o = options.EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
        double D(string k, double dflt) => o.TryGetValue(k, out var v) ? v.GetDouble() : dflt;
        bool B(string k) => o.TryGetValue(k, out var v) && v.GetBoolean();
        double Beta(int i, double dflt) => o.TryGetValue("betas", out var v) ? v[i].GetDouble() : dflt;
        var known = optimizer switch
        {
            "SGD" => new[] { "lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize" },
            "Adam" or "AdamW" => new[] { "lr", "betas", "eps", "weight_decay", "amsgrad", "maximize" },
            "RMSprop" => new[] { "lr", "alpha", "eps", "weight_decay", "momentum", "centered", "maximize" },
            "Adadelta" => new[] { "lr", "rho", "eps", "weight_decay", "maximize" },
            "Adagrad" => new[] { "lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize" },
            "NAdam" => new[] { "lr", "betas", "eps", "weight_decay", "momentum_decay" },
            _ => throw new NotSupportedException(optimizer),
        };
        var unknown = o.Keys.Except(known).ToArray();
        if (unknown.Length > 0) throw new NotSupportedException($"{optimizer}: option(s) {string.Join(", ", unknown)} not mapped by the test");
        return optimizer switch
        {
            "SGD" => o.ContainsKey("lr")
                ? new SGD(ps, D("lr", 0), momentum: D("momentum", 0), dampening: D("dampening", 0), weightDecay: D("weight_decay", 0), nesterov: B("nesterov"), maximize: B("maximize"))
                : throw new NotSupportedException("SGD needs lr"),
            "Adam" => o.Count == 0 ? new Adam(ps)
                : new Adam(ps, lr: D("lr", 1e-3), beta1: Beta(0, 0.9), beta2: Beta(1, 0.999), eps: D("eps", 1e-8), weightDecay: D("weight_decay", 0), amsgrad: B("amsgrad"), maximize: B("maximize")),
            "AdamW" => o.Count == 0 ? new AdamW(ps)
                : new AdamW(ps, lr: D("lr", 1e-3), beta1: Beta(0, 0.9), beta2: Beta(1, 0.999), eps: D("eps", 1e-8), weightDecay: D("weight_decay", 1e-2), amsgrad: B("amsgrad"), maximize: B("maximize")),
            "RMSprop" => o.Count == 0 ? new RMSprop(ps)
                : new RMSprop(ps, lr: D("lr", 1e-2), alpha: D("alpha", 0.99), eps: D("eps", 1e-8), weightDecay: D("weight_decay", 0), momentum: D("momentum", 0), centered: B("centered"), maximize: B("maximize")),
            "Adadelta" => o.Count == 0 ? new Adadelta(ps)
                : new Adadelta(ps, lr: D("lr", 1.0), rho: D("rho", 0.9), eps: D("eps", 1e-6), weightDecay: D("weight_decay", 0), maximize: B("maximize")),
            "Adagrad" => o.Count == 0 ? new Adagrad(ps)
                : new Adagrad(ps, lr: D("lr", 1e-2), lrDecay: D("lr_decay", 0), weightDecay: D("weight_decay", 0), initialAccumulatorValue: D("initial_accumulator_value", 0), eps: D("eps", 1e-10), maximize: B("maximize")),
            "NAdam" => o.Count == 0 ? new NAdam(ps)
                : new NAdam(ps, lr: D("lr", 2e-3), beta1: Beta(0, 0.9), beta2: Beta(1, 0.999), eps: D("eps", 1e-8), weightDecay: D("weight_decay", 0), momentumDecay: D("momentum_decay", 4e-3)),
            _ => throw new NotSupportedException(optimizer),
        };
    }

    /// <summary>The fixture's "resolved" hyper-parameters flattened in the native layout order (betas split, flags as 0/1).</summary>
    static double[] ResolvedHyper(JsonElement resolved)
    {
        var list = new List<double>();
        foreach (var p in resolved.EnumerateObject())
            switch (p.Value.ValueKind)
            {
                case JsonValueKind.Array: list.AddRange(p.Value.EnumerateArray().Select(x => x.GetDouble())); break;
                case JsonValueKind.True: list.Add(1); break;
                case JsonValueKind.False: list.Add(0); break;
                default: list.Add(p.Value.GetDouble()); break;
            }
        return list.ToArray();
    }

    /// <summary>The fixed problem: x, t and fresh copies of the start parameters W0 [3, 4] and b0 [4].</summary>
    static (Tensor x, Tensor t, Tensor w, Tensor b) Start() =>
        (ToTensor(Problem.GetProperty("x")), ToTensor(Problem.GetProperty("t")),
         ToTensor(Problem.GetProperty("W0"), requiresGrad: true), ToTensor(Problem.GetProperty("b0"), requiresGrad: true));

    /// <summary>sum((x @ W + b − t)²) + 0.1 · sum(W³), as in the fixture script.</summary>
    static Tensor Loss(Tensor x, Tensor t, Tensor w, Tensor b) => (x.Matmul(w) + b - t).Pow(2).Sum() + 0.1 * w.Pow(3).Sum();

    /// <summary>One training step on the fixed problem: drop grads, loss, backward, step. Temporaries are freed.</summary>
    static double TrainStep(Optimizer opt, Tensor x, Tensor t, Tensor w, Tensor b)
    {
        using var scope = DisposeScope.Enter();
        opt.ZeroGrad();
        var loss = Loss(x, t, w, b);
        loss.Backward();
        opt.Step();
        return loss.ToDouble();
    }

    static void ForceFinalizers()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
    }

    /// <summary>Largest |a − e| / max(1, |e|) and where it is; a shape mismatch is reported as +∞.</summary>
    static (double rel, double abs, int at) Worst(Tensor actual, JsonElement expected)
    {
        if (!actual.Shape.SequenceEqual(ShapeOf(expected))) return (double.PositiveInfinity, double.PositiveInfinity, -1);
        var a = actual.ToArray<float>();
        var e = Floats(expected);
        double worst = 0, worstAbs = 0;
        int at = -1;
        for (int i = 0; i < a.Length; i++)
        {
            double d = Math.Abs((double)a[i] - e[i]);
            double r = double.IsNaN(d) ? double.PositiveInfinity : d / Math.Max(1, Math.Abs((double)e[i]));
            if (r > worst || at < 0) { worst = r; worstAbs = d; at = i; }
        }
        return (worst, worstAbs, at);
    }

    // ---- fixture trajectories ----

    [TestCaseSource(nameof(OptimCases))]
    public void Trajectory(string name)
    {
        var c = Case("optim_cases", name);
        var optimizer = c.GetProperty("optimizer").GetString()!;
        var losses = c.GetProperty("losses").EnumerateArray().Select(x => x.GetDouble()).ToArray();
        var steps = c.GetProperty("params").EnumerateArray().ToArray();
        var errors = new List<string>();
        var perStep = new List<string>();

        ForceFinalizers();
        long before = Tensor.LiveCount;
        using (var scope = DisposeScope.Enter())
        {
            var (x, t, w, b) = Start();
            using var opt = Make(optimizer, c.GetProperty("options"), new[] { w, b });
            Assert.That(opt.Name, Is.EqualTo(optimizer));

            // the hyper-parameters (explicit options + defaults) match torch.optim's resolved param group
            var expectedHyper = ResolvedHyper(c.GetProperty("resolved"));
            var hyper = opt.GetState().Scalars.Where(kv => kv.Key.StartsWith("hyper.")).OrderBy(kv => int.Parse(kv.Key[6..])).Select(kv => kv.Value).ToArray();
            if (!hyper.SequenceEqual(expectedHyper))
                errors.Add($"hyper-parameters [{string.Join(", ", hyper)}] differ from torch.optim's [{string.Join(", ", expectedHyper)}] " +
                           $"({string.Join(", ", c.GetProperty("resolved").EnumerateObject().Select(p => p.Name))})");

            for (int s = 0; s < steps.Length; s++)
            {
                double loss = TrainStep(opt, x, t, w, b);
                double lossErr = Math.Abs(loss - losses[s]) / Math.Max(1, Math.Abs(losses[s]));
                if (lossErr > Tol) errors.Add($"step {s + 1}: loss {loss:R} vs PyTorch {losses[s]:R} (rel. diff {lossErr:G3})");
                var expected = steps[s].EnumerateArray().ToArray();
                var parts = new List<string>();
                foreach (var (p, label, k) in new[] { (w, "W", 0), (b, "b", 1) })
                {
                    var (rel, abs, at) = Worst(p, expected[k]);
                    parts.Add($"{label} {abs:G3}");
                    if (rel > Tol)
                        errors.Add(at < 0
                            ? $"step {s + 1}: {label} has shape [{string.Join(", ", p.Shape)}], expected [{string.Join(", ", ShapeOf(expected[k]))}]"
                            : $"step {s + 1}: {label}[{at}] = {p.ToArray<float>()[at]:R}, PyTorch {Floats(expected[k])[at]:R} (|diff| {abs:G3}, rel. {rel:G3} > {Tol})");
                }
                perStep.Add($"step {s + 1}: max |diff| {string.Join(", ", parts)}");
            }
        }
        ForceFinalizers();
        long after = Tensor.LiveCount;
        if (after != before) errors.Add($"leak: Tensor.LiveCount {before} before the case, {after} after disposing the optimizer and the scope");

        TestContext.Out.WriteLine($"{name} ({optimizer}, reference {c.GetProperty("reference").GetString()}): " + string.Join("; ", perStep));
        if (errors.Count > 0)
            Assert.Fail($"{name} ({optimizer} {c.GetProperty("options").GetRawText()}, reference {c.GetProperty("reference").GetString()}):\n  "
                        + string.Join("\n  ", errors) + "\n  per step: " + string.Join("; ", perStep));
    }

    // ---- gradient clipping ----

    [TestCaseSource(nameof(ClipCases))]
    public void Clip(string name)
    {
        var c = Case("clip_cases", name);
        var args = c.GetProperty("args");
        var grads = c.GetProperty("grads").EnumerateArray().ToArray();
        var clipped = c.GetProperty("clipped").EnumerateArray().ToArray();

        // both entry points: the static GradClip and the optimizer's methods
        foreach (var viaOptimizer in new[] { false, true })
        {
            using var scope = DisposeScope.Enter();
            var ps = grads.Select(g => Torch.Zeros(ShapeOf(g), DType.Float32, requiresGrad: true)).ToArray();
            for (int i = 0; i < ps.Length; i++) ps[i].Grad = ToTensor(grads[i]);
            using var opt = new SGD(ps, lr: 0.1);
            string how = viaOptimizer ? "Optimizer" : "GradClip";

            if (c.GetProperty("kind").GetString() == "norm")
            {
                double maxNorm = args.GetProperty("max_norm").GetDouble();
                var nt = args.GetProperty("norm_type");
                double normType = nt.ValueKind == JsonValueKind.String && nt.GetString() == "inf" ? double.PositiveInfinity : nt.GetDouble();
                double total = viaOptimizer ? opt.ClipGradNorm(maxNorm, normType) : GradClip.Norm(ps, maxNorm, normType);
                double expected = c.GetProperty("total_norm").GetDouble();
                Assert.That(total, Is.EqualTo(expected).Within(Tol * Math.Max(1, Math.Abs(expected))), $"{how}: total norm");
            }
            else
            {
                double clip = args.GetProperty("clip_value").GetDouble();
                if (viaOptimizer) opt.ClipGradValue(clip); else GradClip.Value(ps, clip);
            }

            for (int i = 0; i < ps.Length; i++)
            {
                var (rel, abs, at) = Worst(ps[i].Grad!, clipped[i]);
                Assert.That(rel, Is.LessThanOrEqualTo(Tol), $"{how}: clipped grad {i}: worst element {at}, |diff| {abs:G3}");
            }
        }
    }

    [Test]
    public void ClipWithoutGradsReturnsZero()
    {
        using var scope = DisposeScope.Enter();
        var ps = new[] { Torch.Zeros(new long[] { 3 }, DType.Float32, requiresGrad: true) };
        Assert.That(GradClip.Norm(ps, 1.0), Is.EqualTo(0.0));
        Assert.That(ps[0].Grad, Is.Null);
        Assert.DoesNotThrow(() => GradClip.Value(ps, 0.1));
    }

    // ---- every optimizer, set up so that every state slot is used ----

    public static readonly string[] Kinds = ["SGD", "Adam", "AdamW", "RMSprop", "Adadelta", "Adagrad", "NAdam"];

    static Optimizer Full(string kind, IEnumerable<Tensor> ps) => kind switch
    {
        "SGD" => new SGD(ps, lr: 0.01, momentum: 0.9, weightDecay: 1e-2, nesterov: true),
        "Adam" => new Adam(ps, lr: 0.05, beta2: 0.5, weightDecay: 0.1, amsgrad: true),
        "AdamW" => new AdamW(ps, lr: 0.05, beta2: 0.5, amsgrad: true),
        "RMSprop" => new RMSprop(ps, momentum: 0.5, centered: true, weightDecay: 0.1),
        "Adadelta" => new Adadelta(ps, weightDecay: 0.1),
        "Adagrad" => new Adagrad(ps, lr: 0.1, lrDecay: 0.01, initialAccumulatorValue: 0.1, weightDecay: 0.1),
        "NAdam" => new NAdam(ps, lr: 0.01, weightDecay: 0.1),
        _ => throw new NotSupportedException(kind),
    };

    static Tensor Copy(Tensor p) => p.Detach().To(p.DType, copy: true);

    [TestCaseSource(nameof(Kinds))]
    public void StateRoundTripContinuesBitIdentically(string kind)
    {
        using var scope = DisposeScope.Enter();
        var (x, t, w, b) = Start();
        using var uninterrupted = Full(kind, new[] { w, b });
        for (int s = 0; s < 2; s++) TrainStep(uninterrupted, x, t, w, b);

        // a checkpoint: parameter values + optimizer state, restored into fresh tensors and a fresh optimizer
        var (tensors, scalars) = uninterrupted.GetState();
        Assert.That(tensors, Is.Not.Empty, "state tensors after two steps");
        var w2 = Copy(w).RequiresGrad_();
        var b2 = Copy(b).RequiresGrad_();
        using var restored = Full(kind, new[] { w2, b2 });
        restored.SetState(tensors, scalars);
        foreach (var (_, st) in tensors) st.Dispose();   // SetState keeps its own copies

        var (tensors2, scalars2) = restored.GetState();
        Assert.That(tensors2.Select(kv => kv.Key), Is.EqualTo(tensors.Select(kv => kv.Key)), "state tensor names after SetState");
        Assert.That(scalars2, Is.EquivalentTo(scalars), "scalar state after SetState");

        for (int s = 0; s < 3; s++)
        {
            TrainStep(uninterrupted, x, t, w, b);
            TrainStep(restored, x, t, w2, b2);
            Assert.That(w2.Equal(w), Is.True, $"{kind}: W differs from the uninterrupted run after restored step {s + 1}");
            Assert.That(b2.Equal(b), Is.True, $"{kind}: b differs from the uninterrupted run after restored step {s + 1}");
        }
    }

    [TestCaseSource(nameof(Kinds))]
    public void SetStateRejectsForeignNames(string kind)
    {
        using var scope = DisposeScope.Enter();
        var (_, _, w, b) = Start();
        using var opt = Full(kind, new[] { w, b });
        var junk = Torch.Zeros(3, 4);
        Assert.That(() => opt.SetState(new[] { new KeyValuePair<string, Tensor>("0.no_such_slot", junk) }, new Dictionary<string, double>()),
            Throws.InstanceOf<ArgumentException>().With.Message.Contains(kind));
        Assert.That(() => opt.SetState(new[] { new KeyValuePair<string, Tensor>("7." + (kind == "SGD" ? "momentum_buffer" : "exp_avg_sq"), junk) }, new Dictionary<string, double>()),
            Throws.InstanceOf<ArgumentException>().With.Message.Contains(kind));
    }

    [TestCaseSource(nameof(Kinds))]
    public void FrozenParametersAreExcluded(string kind)
    {
        using var scope = DisposeScope.Enter();
        var (x, t, w, b) = Start();
        b.RequiresGrad = false;
        var b0 = Copy(b);
        using var opt = Full(kind, new[] { w, b });
        Assert.That(opt.Parameters, Has.Count.EqualTo(1));
        Assert.That(opt.Parameters[0], Is.SameAs(w));
        var w0 = Copy(w);
        TrainStep(opt, x, t, w, b);
        Assert.That(b.Equal(b0), Is.True, "the frozen parameter must not change");
        Assert.That(w.Equal(w0), Is.False, "the trainable parameter must change");
        Assert.That(opt.GetState().Tensors.Select(kv => kv.Key).All(k => k.StartsWith("0.")), Is.True, "state only for parameter 0");
    }

    [TestCaseSource(nameof(Kinds))]
    public void ParameterWithoutGradIsLeftUnchanged(string kind)
    {
        using var scope = DisposeScope.Enter();
        var (x, t, w, b) = Start();
        using var opt = Full(kind, new[] { w, b });   // every Full(...) has weight decay, which must not touch b either
        var w0 = Copy(w);
        var b0 = Copy(b);
        for (int s = 0; s < 2; s++)
        {
            using var inner = DisposeScope.Enter();
            opt.ZeroGrad();
            ((x.Matmul(w) - t).Pow(2).Sum() + 0.1 * w.Pow(3).Sum()).Backward();   // b unused: no grad
            Assert.That(b.Grad, Is.Null);
            opt.Step();
        }
        Assert.That(b.Equal(b0), Is.True, "a parameter without a gradient must be left unchanged");
        Assert.That(w.Equal(w0), Is.False, "the parameter with a gradient must change");
        var names = opt.GetState().Tensors.Select(kv => kv.Key).ToArray();
        Assert.That(names.All(k => k.StartsWith("0.")), Is.True, $"no state for the skipped parameter: {string.Join(", ", names)}");
        Assert.That(opt.GetState().Scalars.Where(kv => kv.Key.StartsWith("1.") && kv.Key.EndsWith(".step")).All(kv => kv.Value == 0), Is.True,
            "the skipped parameter's step count stays 0");
    }

    [Test]
    public void ZeroGradDropsOrZeroes()
    {
        using var scope = DisposeScope.Enter();
        var (x, t, w, b) = Start();
        using var opt = new SGD(new[] { w, b }, lr: 0.01);
        Loss(x, t, w, b).Backward();
        opt.ZeroGrad(setToNone: false);
        Assert.That(w.Grad!.Equal(Torch.Zeros(3, 4)), Is.True);
        Assert.That(b.Grad!.Equal(Torch.Zeros(4)), Is.True);
        opt.ZeroGrad();
        Assert.That(w.Grad, Is.Null);
        Assert.That(b.Grad, Is.Null);
    }

    // ---- argument checks ----

    static readonly Func<IEnumerable<Tensor>, Optimizer>[] NegativeLr =
    [
        ps => new SGD(ps, lr: -0.1),
        ps => new Adam(ps, lr: -1e-3),
        ps => new AdamW(ps, lr: -1e-3),
        ps => new RMSprop(ps, lr: -1e-2),
        ps => new Adadelta(ps, lr: -1),
        ps => new Adagrad(ps, lr: -1e-2),
        ps => new NAdam(ps, lr: -2e-3),
    ];

    /// <summary>
    /// Whether an optimizer whose constructor threw can be finalized. The hyper-parameter checks run while
    /// the base constructor's arguments are evaluated, so a rejected optimizer is an allocated object
    /// whose constructor body never ran; the GC later runs its finalizer. If that finalizer throws, the
    /// exception is unhandled on the finalizer thread and the whole test host dies. The probe reproduces
    /// that state without a crash: an uninitialized instance, its finalizer invoked by reflection, then
    /// finalization suppressed.
    /// </summary>
    static Exception? FinalizerFailureOnUnconstructedOptimizer()
    {
        var obj = System.Runtime.CompilerServices.RuntimeHelpers.GetUninitializedObject(typeof(Adam));
        try
        {
            var fin = typeof(Optimizer).GetMethod("Finalize", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.DeclaredOnly);
            if (fin is null) return null;   // no finalizer, nothing to crash
            fin.Invoke(obj, null);
            return null;
        }
        catch (System.Reflection.TargetInvocationException e) { return e.InnerException ?? e; }
        finally { GC.SuppressFinalize(obj); }
    }

    [Test]
    public void RejectedOptimizerCanBeFinalized()
    {
        var e = FinalizerFailureOnUnconstructedOptimizer();
        Assert.That(e, Is.Null,
            "Optimizer's finalizer throws when the constructor did not finish (an invalid hyper-parameter is rejected while the " +
            "base constructor's arguments are evaluated, before `state` is assigned): ~Optimizer -> FreeState -> " +
            "Interlocked.Exchange(ref state, ...) returns null and `foreach` over it throws " + e?.GetType().Name +
            ". On the finalizer thread that kills the process (seen as \"Test host process crashed: NullReferenceException at " +
            "Optimizer.FreeState\"). Fix: make FreeState tolerate state == null (a field initializer on Optimizer would not help: " +
            "base-class initializers run only when the base constructor is entered, after the arguments that threw).");
    }

    [Test]
    public void BadHyperParametersThrowNamingTheOptimizer()
    {
        using var scope = DisposeScope.Enter();
        var ps = new[] { Torch.Zeros(new long[] { 2 }, DType.Float32, requiresGrad: true) };

        void Bad(string name, Func<Optimizer> make, string what) =>
            Assert.That(() => make(), Throws.InstanceOf<ArgumentException>().With.Message.Contains(name), $"{name}: {what}");

        // rejected after the base constructor finished: safe in any case
        Bad("SGD", () => new SGD(ps, lr: 0.1, nesterov: true), "nesterov without momentum");
        Bad("SGD", () => new SGD(ps, lr: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true), "nesterov with dampening");
        using (var opt = new Adam(ps))
        {
            Assert.That(() => opt.LearningRate = -1, Throws.InstanceOf<ArgumentException>().With.Message.Contains("Adam"), "LearningRate setter");
            opt.LearningRate = 0.5;
            Assert.That(opt.LearningRate, Is.EqualTo(0.5));
            Assert.That(opt.GetState().Scalars["hyper.0"], Is.EqualTo(0.5), "LearningRate is hyper-parameter 0");
        }

        // rejected while the base constructor's arguments are evaluated: leaves an unconstructed object for the finalizer
        if (FinalizerFailureOnUnconstructedOptimizer() is { } e)
            Assert.Fail($"not run: the remaining checks (negative lr, beta ≥ 1, ...) would leave rejected optimizers whose finalizer throws {e.GetType().Name} " +
                        "and crashes the test host; see RejectedOptimizerCanBeFinalized.");

        for (int i = 0; i < Kinds.Length; i++)
        {
            var make = NegativeLr[i];
            Bad(Kinds[i], () => make(ps), "negative lr");
        }
        foreach (var beta in new[] { 1.0, 1.5, -0.1 })
        {
            Bad("Adam", () => new Adam(ps, beta1: beta), $"beta1 = {beta}");
            Bad("Adam", () => new Adam(ps, beta2: beta), $"beta2 = {beta}");
            Bad("AdamW", () => new AdamW(ps, beta1: beta), $"beta1 = {beta}");
            Bad("AdamW", () => new AdamW(ps, beta2: beta), $"beta2 = {beta}");
            Bad("NAdam", () => new NAdam(ps, beta1: beta), $"beta1 = {beta}");
            Bad("NAdam", () => new NAdam(ps, beta2: beta), $"beta2 = {beta}");
        }
        Bad("SGD", () => new SGD(ps, lr: 0.1, momentum: -0.9), "negative momentum");
        Bad("SGD", () => new SGD(ps, lr: 0.1, weightDecay: -1e-2), "negative weight decay");
        Bad("Adam", () => new Adam(ps, eps: -1e-8), "negative eps");
        Bad("RMSprop", () => new RMSprop(ps, momentum: -0.5), "negative momentum");
        Bad("Adadelta", () => new Adadelta(ps, rho: -0.1), "negative rho");
        Bad("Adagrad", () => new Adagrad(ps, lrDecay: -0.1), "negative lr decay");
        Bad("NAdam", () => new NAdam(ps, momentumDecay: -1), "negative momentum decay");

        // the rejected optimizers must be finalizable (this would crash the host if they were not)
        ForceFinalizers();
    }

    [Test]
    public void LearningRateChangeTakesEffect()
    {
        using var scope = DisposeScope.Enter();
        var (x, t, w, b) = Start();
        using var opt = new SGD(new[] { w, b }, lr: 0.01);
        opt.LearningRate = 0;
        var w0 = Copy(w);
        TrainStep(opt, x, t, w, b);
        Assert.That(w.Equal(w0), Is.True, "lr 0 leaves the parameters unchanged");
        opt.LearningRate = 0.01;
        TrainStep(opt, x, t, w, b);
        Assert.That(w.Equal(w0), Is.False);
    }

    // ---- state lifetime ----

    [TestCaseSource(nameof(Kinds))]
    public void DisposingTheOptimizerFreesItsState(string kind)
    {
        using var scope = DisposeScope.Enter();
        var (x, t, w, b) = Start();
        ForceFinalizers();
        long baseline = Tensor.LiveCount;

        var opt = Full(kind, new[] { w, b });
        for (int s = 0; s < 3; s++) TrainStep(opt, x, t, w, b);
        long withState = Tensor.LiveCount;
        Assert.That(withState, Is.GreaterThan(baseline), "the optimizer holds state tensors after stepping");

        var (tensors, _) = opt.GetState();   // copies: they belong to the caller
        Assert.That(Tensor.LiveCount - withState, Is.EqualTo(tensors.Count));
        Assert.That(withState - baseline, Is.EqualTo(tensors.Count), "every live state tensor is reported by GetState");
        foreach (var (_, st) in tensors) st.Dispose();

        opt.Dispose();
        Assert.That(Tensor.LiveCount, Is.EqualTo(baseline), "LiveCount returns to the baseline once the optimizer is disposed");
        opt.Dispose();   // twice is harmless
        Assert.That(Tensor.LiveCount, Is.EqualTo(baseline));
    }
}
