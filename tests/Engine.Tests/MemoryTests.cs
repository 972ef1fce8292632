using System.Diagnostics;
using Dsl.Engine;
using NUnit.Framework;

namespace Dsl.Engine.Tests;

/// <summary>
/// DisposeScope semantics, a 10,000-step training loop that must not leak native tensor handles,
/// and scopes on two threads at once. Native handles are counted by <see cref="Tensor.LiveCount"/>,
/// which is process-wide, so each test first lets the finalizers of earlier tests' garbage run.
/// </summary>
public class MemoryTests
{
    /// <summary>Runs pending finalizers (of any test's abandoned tensors) and returns the live handle count.</summary>
    static long SettledLiveCount()
    {
        for (int i = 0; i < 2; i++) { GC.Collect(); GC.WaitForPendingFinalizers(); }
        return Tensor.LiveCount;
    }

    [Test]
    public void TensorsCreatedInAScopeAreDisposedWhenItEnds()
    {
        var baseline = SettledLiveCount();
        Tensor a, b, c;
        using (var scope = DisposeScope.Enter())
        {
            Assert.That(DisposeScope.Current, Is.SameAs(scope));
            a = Torch.Ones(2, 3);
            b = a * 2.0;
            c = b.Sum();
            Assert.That(scope.Count, Is.EqualTo(3));
            Assert.That(Tensor.LiveCount, Is.EqualTo(baseline + 3));
            Assert.That(c.ToDouble(), Is.EqualTo(12.0));
        }
        Assert.That(DisposeScope.Current, Is.Null);
        Assert.That(new[] { a.IsDisposed, b.IsDisposed, c.IsDisposed }, Is.All.True);
        Assert.That(Tensor.LiveCount, Is.EqualTo(baseline));
        var e = Assert.Throws<ObjectDisposedException>(() => a.Sum());
        Assert.That(e!.Message, Does.Contain("sum"), "the error names the op");
    }

    [Test]
    public void ResultsOfEveryKindOfOpAreOwnedByTheScope()
    {
        // Tensors come back from many native entry points (ops, tuples, arrays, .Grad, Alias, Autograd.Grad):
        // each must register with the scope.
        var baseline = SettledLiveCount();
        using (var scope = DisposeScope.Enter())
        {
            var x = Torch.Randn(new long[] { 4, 6 }, requiresGrad: true);
            var (values, indices) = x.Max(1);
            var (q, r) = Linalg.Qr(x.Detach());
            var parts = x.Chunk(3, 1);
            var y = (x * x).Sum();
            var g = Autograd.Grad(y, x, retainGraph: true);
            y.Backward();
            var grad = x.Grad!;
            var alias = x.Alias();
            var (tv, ti) = x.TopK(2);
            Assert.That(Tensor.LiveCount - baseline, Is.EqualTo(scope.Count));
            Assert.That(scope.Count, Is.GreaterThanOrEqualTo(15));
        }
        Assert.That(Tensor.LiveCount, Is.EqualTo(baseline));
    }

    [Test]
    public void IsSoleOwnerIsTrueOnlyWhenNothingElseSharesTheData()
    {
        // Inference overwrites an intermediate in place only when this says nobody else can see the change.
        using var scope = DisposeScope.Enter();
        var x = Torch.Randn(new long[] { 4, 6 });
        Assert.That(x.IsSoleOwner, Is.True, "a fresh tensor");
        var alias = x.Alias();
        Assert.That(x.IsSoleOwner, Is.False, "a second handle to it");
        alias.Dispose();
        Assert.That(x.IsSoleOwner, Is.True, "the second handle is gone");
        var view = x.Reshape(24);
        Assert.That(x.IsSoleOwner, Is.False, "a view shares the storage");
        Assert.That(view.IsSoleOwner, Is.False, "and the view is not the storage's only user");
        view.Dispose();
        Assert.That(x.IsSoleOwner, Is.True, "the view is gone");
        var p = Torch.Randn(new long[] { 3 }, requiresGrad: true);
        Assert.That(p.IsSoleOwner, Is.False, "a tensor that requires grad is never overwritten");
        var y = p * 2.0;
        Assert.That(y.IsSoleOwner, Is.False, "nor one on a recorded graph");
        using (Autograd.NoGrad())
        {
            var z = p * 2.0;
            Assert.That(z.IsSoleOwner, Is.True, "a result computed without recording");
        }
    }

    [Test]
    public void MoveOutKeepsATensorAliveIntoTheEnclosingScope()
    {
        var baseline = SettledLiveCount();
        Tensor kept, dropped, viaMethod;
        using (var outer = DisposeScope.Enter())
        {
            using (var inner = DisposeScope.Enter())
            {
                kept = Torch.Full(new long[] { 3 }, 7.0);
                dropped = kept + 1.0;
                viaMethod = (kept * 2.0).MoveToOuterScope();
                Assert.That(inner.MoveOut(kept), Is.SameAs(kept));
                Assert.That(inner.Count, Is.EqualTo(1), "only `dropped` is still owned by the inner scope");
            }
            Assert.That(dropped.IsDisposed, Is.True);
            Assert.That(kept.IsDisposed, Is.False);
            Assert.That(viaMethod.IsDisposed, Is.False);
            Assert.That(kept.ToArray<float>(), Is.EqualTo(new float[] { 7, 7, 7 }));
            Assert.That(viaMethod.ToArray<float>(), Is.EqualTo(new float[] { 14, 14, 14 }));
            Assert.That(outer.Count, Is.EqualTo(2), "the moved tensors now belong to the outer scope");
            Assert.That(Tensor.LiveCount, Is.EqualTo(baseline + 2));
        }
        Assert.That(kept.IsDisposed && viaMethod.IsDisposed, Is.True, "the outer scope disposes what was moved into it");
        Assert.That(Tensor.LiveCount, Is.EqualTo(baseline));
    }

    [Test]
    public void MoveOutOfTheOutermostScopeLeavesTheTensorToTheCaller()
    {
        var baseline = SettledLiveCount();
        Tensor t, detached;
        using (var scope = DisposeScope.Enter())
        {
            t = scope.MoveOut(Torch.Ones(2));
            detached = Torch.Zeros(2).DetachFromScope();
            Assert.That(scope.Count, Is.EqualTo(0));
        }
        Assert.That(t.IsDisposed || detached.IsDisposed, Is.False);
        Assert.That(Tensor.LiveCount, Is.EqualTo(baseline + 2));
        t.Dispose();
        detached.Dispose();
        Assert.That(Tensor.LiveCount, Is.EqualTo(baseline));
    }

    [Test]
    public void MovingATensorTheScopeDoesNotOwnIsANoOp()
    {
        using var outer = DisposeScope.Enter();
        var a = Torch.Ones(1);
        using (var inner = DisposeScope.Enter())
        {
            Assert.That(inner.MoveOut(a), Is.SameAs(a));
        }
        Assert.That(a.IsDisposed, Is.False, "inner.MoveOut(a) must not have given the inner scope ownership");
        Assert.That(outer.Count, Is.EqualTo(1));
    }

    [Test]
    public void NestedScopesDisposeInnermostFirstAndOuterTensorsSurviveTheInnerScope()
    {
        var baseline = SettledLiveCount();
        using (var outer = DisposeScope.Enter())
        {
            var a = Torch.Ones(2);
            Tensor b, c;
            using (var inner = DisposeScope.Enter())
            {
                Assert.That(DisposeScope.Current, Is.SameAs(inner));
                b = a + 1.0;
                using (var innermost = DisposeScope.Enter()) { c = b + 1.0; }
                Assert.That(c.IsDisposed, Is.True);
                Assert.That(b.IsDisposed, Is.False);
            }
            Assert.That(DisposeScope.Current, Is.SameAs(outer));
            Assert.That(b.IsDisposed, Is.True);
            Assert.That(a.IsDisposed, Is.False);
            var d = a * 3.0; // created after the inner scope closed: owned by the outer one
            Assert.That(outer.Count, Is.EqualTo(2));
            Assert.That(Tensor.LiveCount, Is.EqualTo(baseline + 2));
            Assert.That(d.ToArray<float>(), Is.EqualTo(new float[] { 3, 3 }));
        }
        Assert.That(Tensor.LiveCount, Is.EqualTo(baseline));
    }

    [Test]
    public void ATensorCreatedWithNoScopeIsNotDisposedByALaterScope()
    {
        var baseline = SettledLiveCount();
        Assert.That(DisposeScope.Current, Is.Null);
        using var free = Torch.Ones(3);
        Tensor alias;
        using (var scope = DisposeScope.Enter())
        {
            var used = free * 2.0 + free; // used as an argument inside the scope
            alias = free.Alias();          // a second handle to it, created in the scope
            Assert.That(scope.Count, Is.EqualTo(3));
        }
        Assert.That(alias.IsDisposed, Is.True);
        Assert.That(free.IsDisposed, Is.False);
        Assert.That(free.ToArray<float>(), Is.EqualTo(new float[] { 1, 1, 1 }), "disposing an alias leaves the original's data alone");
        Assert.That(Tensor.LiveCount, Is.EqualTo(baseline + 1));
    }

    [Test]
    public void DisposingTwiceIsHarmless()
    {
        var baseline = SettledLiveCount();
        var t = Torch.Ones(4);
        Assert.That(Tensor.LiveCount, Is.EqualTo(baseline + 1));
        t.Dispose();
        t.Dispose();
        Assert.That(t.IsDisposed, Is.True);
        Assert.That(t.ToString(), Is.EqualTo("Tensor(<disposed>)"));
        Assert.That(Tensor.LiveCount, Is.EqualTo(baseline), "a second Dispose must not free (or count) again");

        // Disposed by hand inside a scope, then by the scope; and the scope itself disposed twice.
        var scope = DisposeScope.Enter();
        var u = Torch.Zeros(2);
        var v = Torch.Zeros(2);
        u.Dispose();
        Assert.That(scope.Count, Is.EqualTo(1));
        scope.Dispose();
        scope.Dispose();
        Assert.That(u.IsDisposed && v.IsDisposed, Is.True);
        Assert.That(DisposeScope.Current, Is.Null);
        Assert.That(Tensor.LiveCount, Is.EqualTo(baseline));
    }

    [Test]
    public void ScopesMustBeDisposedInnermostFirst()
    {
        var outer = DisposeScope.Enter();
        var inner = DisposeScope.Enter();
        try
        {
            Assert.Throws<InvalidOperationException>(() => outer.Dispose());
            Assert.That(DisposeScope.Current, Is.SameAs(inner), "a refused Dispose changes nothing");
        }
        finally
        {
            inner.Dispose();
            outer.Dispose();
        }
        Assert.That(DisposeScope.Current, Is.Null);
    }

    [Test]
    public void AScopeMustBeDisposedOnTheThreadThatEnteredIt()
    {
        var scope = DisposeScope.Enter();
        try
        {
            Exception? error = null;
            var th = new Thread(() => { try { scope.Dispose(); } catch (Exception e) { error = e; } });
            th.Start();
            th.Join();
            Assert.That(error, Is.InstanceOf<InvalidOperationException>());
        }
        finally { scope.Dispose(); }
        Assert.That(DisposeScope.Current, Is.Null);
    }

    /// <summary>
    /// 10,000 SGD steps of a 10→32→2 MLP on a batch of 16, each step in its own scope, must leave the
    /// live handle count exactly at its baseline (parameters and data excluded) after every step.
    /// Checking after each step (not only at the end) keeps a finalizer from hiding a leak.
    /// </summary>
    [Test]
    public void TenThousandTrainingStepsLeakNoTensors()
    {
        const int steps = 10_000;
        const double lr = 0.05;
        int savedThreads = Torch.NumThreads;
        Torch.NumThreads = 1; // tiny tensors: intra-op threads only add latency
        try
        {
            using var gen = new Generator(1234);
            using var w1 = Init.KaimingUniform(Torch.Empty(new long[] { 32, 10 }), a: Math.Sqrt(5), generator: gen).RequiresGrad_();
            // (.RequiresGrad_() keeps this test independent of the factories' requiresGrad flag, covered by AutogradProperties.FactoriesHonourRequiresGrad)
            using var b1 = Torch.Zeros(32).RequiresGrad_();
            using var w2 = Init.KaimingUniform(Torch.Empty(new long[] { 2, 32 }), a: Math.Sqrt(5), generator: gen).RequiresGrad_();
            using var b2 = Torch.Zeros(2).RequiresGrad_();
            using var x = Torch.Randn(new long[] { 16, 10 }, gen);
            using var y = Torch.Randint(0, 2, new long[] { 16 }, gen);
            var ps = new[] { w1, b1, w2, b2 };

            var baseline = SettledLiveCount();
            double first = double.NaN, last = double.NaN;
            var sw = Stopwatch.StartNew();
            for (int step = 0; step < steps; step++)
            {
                using (DisposeScope.Enter())
                {
                    var h = Functional.Relu(Functional.Linear(x, w1, b1));
                    var logits = Functional.Linear(h, w2, b2);
                    var loss = Functional.CrossEntropy(logits, y);
                    loss.Backward();
                    using (Autograd.NoGrad())
                        foreach (var p in ps) p.Sub_(lr * p.Grad!);
                    foreach (var p in ps) p.ZeroGrad();
                    if (step == 0) first = loss.ToDouble();
                    if (step == steps - 1) last = loss.ToDouble();
                }
                var live = Tensor.LiveCount;
                if (live != baseline)
                    Assert.Fail($"after step {step} LiveCount is {live}, baseline {baseline}: {live - baseline} handle(s) leaked per step");
            }
            TestContext.Out.WriteLine($"{steps} steps in {sw.Elapsed.TotalSeconds:F2} s; loss {first:F4} → {last:F6}");
            Assert.That(ps.All(p => p.Grad is null), "ZeroGrad() drops the gradients");
            Assert.That(last, Is.LessThan(first * 0.5), "the loop really trained");
            Assert.That(SettledLiveCount(), Is.EqualTo(baseline));
        }
        finally { Torch.NumThreads = savedThreads; }
    }

    /// <summary>
    /// Two threads, each with nested scopes, interleaved by a barrier: a scope only owns tensors created
    /// on its own thread, closing one thread's scope never touches the other's tensors, and a thread
    /// with no open scope owns nothing even while another thread has one open.
    /// </summary>
    [Test]
    public void ScopesOnTwoThreadsDoNotInterfere()
    {
        var baseline = SettledLiveCount();
        const int rounds = 200;
        using var barrier = new Barrier(2);
        var errors = new System.Collections.Concurrent.ConcurrentQueue<string>();

        void Sync() { if (!barrier.SignalAndWait(TimeSpan.FromSeconds(30))) throw new TimeoutException("the other thread stopped"); }

        void Worker(int id)
        {
            try
            {
                for (int round = 0; round < rounds; round++)
                {
                    Tensor mine, moved, inner;
                    using (var scope = DisposeScope.Enter())
                    {
                        Sync();                                    // both threads now have a scope open
                        if (DisposeScope.Current != scope) errors.Enqueue($"thread {id}: Current is not its own scope");
                        mine = Torch.Full(new long[] { 8 }, id);
                        using (var nested = DisposeScope.Enter())
                        {
                            inner = mine + 1.0;
                            moved = nested.MoveOut(mine * 10.0);
                            Sync();                                // both inside nested scopes
                        }
                        if (!inner.IsDisposed || moved.IsDisposed) errors.Enqueue($"thread {id}: the nested scope disposed the wrong tensors");
                        if (scope.Count != 2) errors.Enqueue($"thread {id} round {round}: scope owns {scope.Count}, expected 2");
                        Sync();
                        if (id == 1)
                        {
                            Sync();                                // thread 0 has closed its scope meanwhile
                            if (mine.IsDisposed || moved.IsDisposed) errors.Enqueue("thread 1: the other thread's scope disposed my tensors");
                            else if (mine.ToArray<float>().Any(v => v != 1) || moved.ToArray<float>().Any(v => v != 10))
                                errors.Enqueue("thread 1: my tensors changed");
                        }
                    }
                    if (id == 0) Sync();
                    if (!mine.IsDisposed || !moved.IsDisposed) errors.Enqueue($"thread {id}: tensors survived their scope");
                    if (DisposeScope.Current is not null) errors.Enqueue($"thread {id}: a scope is still current");
                }
            }
            catch (Exception e) { errors.Enqueue($"thread {id}: {e}"); }
        }

        var t0 = new Thread(() => Worker(0));
        var t1 = new Thread(() => Worker(1));
        t0.Start(); t1.Start();
        t0.Join(); t1.Join();
        Assert.That(errors, Is.Empty);
        Assert.That(Tensor.LiveCount, Is.EqualTo(baseline));
    }

    [Test]
    public void AThreadWithoutAScopeOwnsNothingWhileAnotherThreadHasOne()
    {
        var baseline = SettledLiveCount();
        Tensor? fromOther = null;
        using (var scope = DisposeScope.Enter())
        {
            var local = Torch.Ones(2);
            var th = new Thread(() => { using var ones = Torch.Ones(2); fromOther = ones * 5.0; });
            th.Start();
            th.Join();
            Assert.That(scope.Count, Is.EqualTo(1), "the other thread's tensors are not owned by this thread's scope");
        }
        Assert.That(fromOther!.IsDisposed, Is.False);
        Assert.That(fromOther.ToArray<float>(), Is.EqualTo(new float[] { 5, 5 }), "usable from another thread");
        Assert.That(Tensor.LiveCount, Is.EqualTo(baseline + 1));
        fromOther.Dispose();
        Assert.That(Tensor.LiveCount, Is.EqualTo(baseline));
    }

    /// <summary>Both threads create and drop thousands of tensors in scopes concurrently; nothing is lost or double-freed.</summary>
    [Test]
    public void ConcurrentScopedWorkOnTwoThreadsBalancesTheLiveCount()
    {
        var baseline = SettledLiveCount();
        var sums = new double[2];
        var errors = new System.Collections.Concurrent.ConcurrentQueue<Exception>();
        var threads = Enumerable.Range(0, 2).Select(id => new Thread(() =>
        {
            try
            {
                using var acc = Torch.Zeros(new long[] { 4 }, DType.Float64);
                for (int i = 0; i < 2000; i++)
                    using (DisposeScope.Enter())
                    {
                        var t = Torch.Full(new long[] { 4 }, id + 1, DType.Float64);
                        using (Autograd.NoGrad()) acc.Add_((t * t).Sqrt());
                    }
                sums[id] = acc.Sum().ToDouble();
            }
            catch (Exception e) { errors.Enqueue(e); }
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) t.Join();
        Assert.That(errors, Is.Empty);
        Assert.That(sums, Is.EqualTo(new double[] { 2000 * 4 * 1, 2000 * 4 * 2 }));
        Assert.That(SettledLiveCount(), Is.EqualTo(baseline));
    }
}
