using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Dsl.Engine.Distributed;
using NUnit.Framework;

namespace Dsl.Engine.Tests;

/// <summary>
/// The c10d collectives and the failures of forming a group, with the ranks as threads of this process on 127.0.0.1
/// (Gloo's pairs are TCP connections either way). Every test has a hard timeout, and every group a short one.
/// </summary>
[TestFixture]
public class DistributedTests
{
    static readonly TimeSpan Short = TimeSpan.FromSeconds(3);

    internal static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    /// <summary>Runs <paramref name="body"/> on each rank's thread with its group; returns the results by rank (or rethrows the first failure).</summary>
    static T[] OnRanks<T>(int world, Func<ProcessGroup, T> body, TimeSpan? timeout = null)
    {
        int port = FreePort();
        var results = new T[world];
        var failures = new Exception?[world];
        var threads = Enumerable.Range(0, world).Select(r => new Thread(() =>
        {
            try
            {
                using var scope = DisposeScope.Enter();
                using var g = ProcessGroup.Tcp("127.0.0.1", port, world, r, timeout ?? Short);
                results[r] = body(g);
            }
            catch (Exception e) { failures[r] = e; }
        })).ToArray();
        foreach (var t in threads) t.Start();
        foreach (var t in threads) Assert.That(t.Join(TimeSpan.FromSeconds(30)), Is.True, "a rank hung");
        foreach (var f in failures) if (f is not null) throw f;
        return results;
    }

    [Test, CancelAfter(30000)]
    public void AllReduceSumsAndAveragesAcrossRanks()
    {
        var before = Tensor.LiveCount;
        var sums = OnRanks(3, g =>
        {
            var t = Torch.From(new float[] { g.Rank + 1f, 10f * g.Rank }, 2);
            g.AllReduce(t, CollectiveOp.Sum);
            var m = Torch.From(new float[] { g.Rank }, 1);
            g.AllReduce(m, CollectiveOp.Mean);
            var mx = Torch.From(new double[] { g.Rank }, 1);
            g.AllReduce(mx, CollectiveOp.Max);
            return (t.ToArray<float>(), m.ToArray<float>()[0], mx.ToArray<double>()[0], g.AllReduce(new[] { 1.5, g.Rank }, CollectiveOp.Sum));
        });
        foreach (var (s, m, mx, d) in sums)
        {
            Assert.That(s, Is.EqualTo(new float[] { 6f, 30f }));
            Assert.That(m, Is.EqualTo(1f));
            Assert.That(mx, Is.EqualTo(2.0));
            Assert.That(d, Is.EqualTo(new[] { 4.5, 3.0 }));
        }
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.That(Tensor.LiveCount, Is.EqualTo(before), "every tensor of the ranks' scopes is freed");
    }

    [Test, CancelAfter(30000)]
    public void BroadcastAllGatherAndBarrier()
    {
        var got = OnRanks(2, g =>
        {
            var a = Torch.Full([2, 2], g.Rank == 0 ? 7.0 : -1.0);
            var b = Torch.From(new long[] { g.Rank * 100L }, 1);
            g.Broadcast([a, b], 0);
            var gathered = g.AllGather(Torch.From(new float[] { g.Rank, g.Rank * 2f }, 2));
            g.Barrier();
            return (a.ToArray<float>(), b.ToArray<long>()[0], gathered.Shape, gathered.ToArray<float>());
        });
        foreach (var (a, b, shape, gathered) in got)
        {
            Assert.That(a, Is.All.EqualTo(7f));
            Assert.That(b, Is.EqualTo(0L));
            Assert.That(shape, Is.EqualTo(new long[] { 2, 2 }));
            Assert.That(gathered, Is.EqualTo(new float[] { 0, 0, 1, 2 }));
        }
    }

    [Test, CancelAfter(30000)]
    public void AverageGradientsIsTheMeanOfTheRanksGradients()
    {
        var grads = OnRanks(2, g =>
        {
            var w = Torch.Zeros([3], DType.Float32, requiresGrad: true);
            var v = Torch.Zeros([2, 2], DType.Float32, requiresGrad: true);
            var x = Torch.From(new float[] { 1f + g.Rank, 2f, 3f * g.Rank }, 3);
            ((w * x).Sum() + v.Sum() * (g.Rank + 1.0)).Backward();
            long bytes = g.AverageGradients([w, v], bucketBytes: 8);   // 8 bytes: several buckets
            return (w.Grad!.ToArray<float>(), v.Grad!.ToArray<float>(), bytes);
        });
        foreach (var (w, v, bytes) in grads)
        {
            Assert.That(w, Is.EqualTo(new float[] { 1.5f, 2f, 1.5f }));
            Assert.That(v, Is.All.EqualTo(1.5f));
            Assert.That(bytes, Is.EqualTo(7 * 4));
        }
    }

    /// <summary>
    /// A gradient is scaled by 1 / world size as it is copied into its bucket; an integer tensor cannot hold that and is
    /// refused on every rank before any collective (not multiplied by a scale rounded to 0), and the group stays usable.
    /// </summary>
    [Test, CancelAfter(30000)]
    public void AverageGradientsRefusesIntegerTensorsAndTheGroupGoesOn()
    {
        var got = OnRanks(3, g =>
        {
            var counts = Torch.From(new long[] { 1, 2, 3 }, 3);
            var e = Assert.Throws<DistributedException>(() => g.AverageGradients([counts]))!;
            var w = Torch.Zeros([2], DType.Float32, requiresGrad: true);
            (w * (g.Rank + 1.0)).Sum().Backward();
            g.AverageGradients([w]);
            return (e.Message, w.Grad!.ToArray<float>());
        });
        foreach (var (message, w) in got)
        {
            Assert.That(message, Does.Contain("average_grads").And.Contain("Long"));
            Assert.That(w, Is.All.EqualTo(2f));
        }
    }

    [Test, CancelAfter(30000)]
    public void ARankThatNeverJoinsFailsWithinTheTimeoutNamingIt()
    {
        var watch = Stopwatch.StartNew();
        var e = Assert.Throws<DistributedException>(() => ProcessGroup.Tcp("127.0.0.1", FreePort(), 2, 0, TimeSpan.FromSeconds(2)))!;
        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)));
        Assert.That(e.Message, Does.Contain("rank 0 of 2").And.Contain("rank 1 never joined"));
        Assert.That(e.Op, Is.EqualTo("init"));
    }

    [Test, CancelAfter(30000)]
    public void RankZeroThatNeverComesFailsWithinTheTimeout()
    {
        var watch = Stopwatch.StartNew();
        var e = Assert.Throws<DistributedException>(() => ProcessGroup.Tcp("127.0.0.1", FreePort(), 2, 1, TimeSpan.FromSeconds(2)))!;
        Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)));
        Assert.That(e.Message, Does.Contain("rank 1 of 2"));
        TestContext.Out.WriteLine(e.Message);
    }

    [Test, CancelAfter(30000)]
    public void APortInUseIsAClearError()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        try
        {
            int port = ((IPEndPoint)l.LocalEndpoint).Port;
            var watch = Stopwatch.StartNew();
            var e = Assert.Throws<DistributedException>(() => ProcessGroup.Tcp("127.0.0.1", port, 2, 0, TimeSpan.FromSeconds(2)))!;
            Assert.That(watch.Elapsed, Is.LessThan(TimeSpan.FromSeconds(10)));
            Assert.That(e.Message, Does.Contain("rank 0 of 2").And.Contain(port.ToString()).And.Contain("in use").IgnoreCase);
            TestContext.Out.WriteLine(e.Message);
        }
        finally { l.Stop(); }
    }

    [Test, CancelAfter(30000)]
    public void AWrongWorldSizeIsAClearErrorOnBothSides()
    {
        int port = FreePort();
        Exception? e0 = null, e1 = null;
        var t0 = new Thread(() => { try { using var g = ProcessGroup.Tcp("127.0.0.1", port, 2, 0, Short); } catch (Exception e) { e0 = e; } });
        var t1 = new Thread(() => { try { using var g = ProcessGroup.Tcp("127.0.0.1", port, 3, 1, Short); } catch (Exception e) { e1 = e; } });
        t0.Start();
        t1.Start();
        Assert.That(t0.Join(TimeSpan.FromSeconds(20)) && t1.Join(TimeSpan.FromSeconds(20)), Is.True, "a rank hung");
        Assert.That(e0?.Message, Does.Contain("rank 1 was started with world size 3 but this rank with 2"));
        Assert.That(e1?.Message, Does.Contain("this rank was started with world size 3 but rank 0 with 2"));
    }

    [Test]
    public void BadArgumentsAreRefusedBeforeAnyConnection()
    {
        Assert.That(Assert.Throws<DistributedException>(() => ProcessGroup.Tcp("127.0.0.1", 29500, 2, 2, Short))!.Message, Does.Contain("[0, 2)"));
        Assert.That(Assert.Throws<DistributedException>(() => ProcessGroup.Tcp("127.0.0.1", 0, 2, 0, Short))!.Message, Does.Contain("port"));
        Assert.Throws<ArgumentOutOfRangeException>(() => ProcessGroup.Tcp("127.0.0.1", 29500, 1, 0, TimeSpan.Zero));
    }

    [Test]
    public void EnvironmentFollowsTorchrunsVariables()
    {
        // Not launched in the test run: a job of one.
        if (!DistributedEnvironment.IsLaunched)
            Assert.That(DistributedEnvironment.FromEnvironment(), Is.EqualTo(new DistributedEnvironment(0, 1, 0, "127.0.0.1", 29500)));
    }
}
