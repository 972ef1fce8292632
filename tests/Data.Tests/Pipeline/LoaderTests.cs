using System.Diagnostics;

namespace Dsl.Data.Tests.Pipeline;

/// <summary>
/// The DataLoader: every sample exactly once per epoch (or all but the remainder with drop-last), rows of
/// inputs and targets kept together, seeded and prefetch-independent batches, and no leaked tensors
/// whoever owns the batches, on early exit and on producer errors.
/// </summary>
public class LoaderTests
{
    public sealed record LoaderCase(int N, int BatchSize, bool DropLast, bool Shuffle, int Prefetch, int Seed);

    static Arbitrary<LoaderCase> Cases()
    {
        var gen = from n in Gen.Choose(1, 150)
                  from b in Gen.Choose(1, 40)
                  from drop in Gen.Elements(false, true)
                  from shuffle in Gen.Elements(false, true)
                  from prefetch in Gen.Elements(0, 1, 3)
                  from seed in Gen.Choose(0, 1000)
                  select new LoaderCase(n, b, drop, shuffle, prefetch, seed);
        return Arb(gen, c =>
            Smaller(c.N, 1).Select(n => c with { N = n })
            .Concat(Smaller(c.BatchSize, 1).Select(b => c with { BatchSize = b }))
            .Concat(c.DropLast ? new[] { c with { DropLast = false } } : Array.Empty<LoaderCase>())
            .Concat(c.Shuffle ? new[] { c with { Shuffle = false } } : Array.Empty<LoaderCase>())
            .Concat(c.Prefetch != 0 ? new[] { c with { Prefetch = 0 } } : Array.Empty<LoaderCase>())
            .Concat(c.Seed != 0 ? new[] { c with { Seed = 0 } } : Array.Empty<LoaderCase>()));
    }

    // Row i of the inputs is (i, −i); the labels are 7·i, so every batch can be checked for alignment.
    static (Tensor X, Tensor Y) Indexed(int n)
    {
        var x = new float[n * 2];
        var y = new long[n];
        for (int i = 0; i < n; i++) { x[2 * i] = i; x[2 * i + 1] = -i; y[i] = 7L * i; }
        return (Torch.From(x, n, 2), Torch.From(y, n));
    }

    [Property(MaxTest = 60, QuietOnSuccess = true)]
    public Property EveryEpochVisitsEachSampleOnceWithAlignedTargets() => Prop.ForAll(Cases(), c =>
    {
        var (x, y) = Indexed(c.N);
        using (x) using (y)
        {
            var live = Tensor.LiveCount;
            var loader = new DataLoader(x, y, new LoaderOptions
            {
                BatchSize = c.BatchSize, DropLast = c.DropLast, Shuffle = c.Shuffle, Prefetch = c.Prefetch,
                Seed = c.Seed, Ownership = BatchOwnership.Consumer,
            });
            var seen = new List<long>();
            int batches = 0;
            foreach (var batch in loader)
            {
                using (batch)
                {
                    Require(batch.Index == batches, $"batch {batches} reports index {batch.Index}");
                    var xs = batch.Inputs.ToArray<float>();
                    var ys = batch.Labels.ToArray<long>();
                    Require(xs.Length == 2 * ys.Length, "inputs and labels differ in rows");
                    for (int i = 0; i < ys.Length; i++)
                    {
                        Require(ys[i] == 7L * (long)xs[2 * i] && xs[2 * i + 1] == -xs[2 * i], $"row {i} of batch {batches}: input {xs[2 * i]} with label {ys[i]}");
                        seen.Add((long)xs[2 * i]);
                    }
                    bool last = batches == loader.BatchesPerEpoch - 1;
                    Require(ys.Length == c.BatchSize || (last && !c.DropLast), $"batch {batches} has {ys.Length} rows");
                    batches++;
                }
            }
            Require(batches == loader.BatchesPerEpoch, $"{batches} batches, expected {loader.BatchesPerEpoch}");
            int expected = c.DropLast ? c.N / c.BatchSize * c.BatchSize : c.N;
            Require(seen.Count == expected, $"{seen.Count} samples, expected {expected}");
            Require(seen.Distinct().Count() == seen.Count, "a sample was visited twice");
            Require(seen.All(i => i >= 0 && i < c.N), "a sample index is out of range");
            if (!c.Shuffle) Require(seen.SequenceEqual(Enumerable.Range(0, expected).Select(i => (long)i)), "without shuffling the order must be 0 … N−1");
            Require(Tensor.LiveCount == live, $"{Tensor.LiveCount - live} tensors leaked");
        }
    });

    static List<(float[] X, long[] Y)> Collect(IEnumerable<Batch> batches) =>
        batches.Select(b => (b.Inputs.ToArray<float>(), b.Labels.ToArray<long>())).ToList();

    [Test]
    public void BatchesDependOnlyOnSeedAndEpochNotOnPrefetching()
    {
        var (x, y) = Indexed(103);
        using (x) using (y)
        {
            var aug = Transform.Compose(new GaussianNoise(0.1), new RandomHorizontalFlip(0.5));
            DataLoader Make(int prefetch, long seed) => new(x, y, new LoaderOptions { BatchSize = 16, Seed = seed, Prefetch = prefetch, Transform = aug });
            var sync = Collect(Make(0, 5).Epoch(3));
            var ahead = Collect(Make(4, 5).Epoch(3));
            Assert.That(ahead.Count, Is.EqualTo(sync.Count));
            for (int i = 0; i < sync.Count; i++)
            {
                Assert.That(ahead[i].X, Is.EqualTo(sync[i].X), $"batch {i} inputs");
                Assert.That(ahead[i].Y, Is.EqualTo(sync[i].Y), $"batch {i} labels");
            }
            var otherEpoch = Collect(Make(2, 5).Epoch(4));
            var otherSeed = Collect(Make(2, 6).Epoch(3));
            Assert.That(otherEpoch[0].Y, Is.Not.EqualTo(sync[0].Y), "epochs are shuffled differently");
            Assert.That(otherSeed[0].Y, Is.Not.EqualTo(sync[0].Y), "seeds are shuffled differently");

            // foreach runs NextEpoch and advances it.
            var loader = Make(1, 5);
            loader.NextEpoch = 3;
            var viaForeach = Collect(loader);
            Assert.That(loader.NextEpoch, Is.EqualTo(4));
            Assert.That(viaForeach[0].Y, Is.EqualTo(sync[0].Y));
        }
    }

    [TestCase(BatchOwnership.Loader, 0)]
    [TestCase(BatchOwnership.Loader, 3)]
    [TestCase(BatchOwnership.Consumer, 0)]
    [TestCase(BatchOwnership.Consumer, 3)]
    [TestCase(BatchOwnership.CurrentScope, 0)]
    [TestCase(BatchOwnership.CurrentScope, 3)]
    public void FreesEveryTensorItCreates(BatchOwnership ownership, int prefetch)
    {
        var (x, y) = Indexed(300);
        using (x) using (y)
        using (var hours = Torch.Arange(300))
        {
            var aug = Transform.Compose(new ToFloat(1.0), new Normalize(0.5, 2.0), new GaussianNoise(0.01));
            var baseline = SettledLiveCount();
            var loader = new DataLoader(x, new[] { y, hours }, new LoaderOptions
            {
                BatchSize = 32, Prefetch = prefetch, Ownership = ownership, Transform = aug, Device = Device.Cpu,
            });
            for (int epoch = 0; epoch < 2; epoch++)
            {
                // With CurrentScope the batches join the scope open on this thread, here one per epoch.
                using var epochScope = ownership == BatchOwnership.CurrentScope ? DisposeScope.Enter() : null;
                Batch? previous = null;
                foreach (var b in loader)
                {
                    if (ownership == BatchOwnership.Loader && previous is not null)
                        Assert.That(previous.Inputs.IsDisposed, Is.True, "the loader frees the previous batch on MoveNext");
                    Assert.That(b.Targets.Count, Is.EqualTo(2));
                    Assert.That(b.Inputs.Device, Is.EqualTo(Device.Cpu));
                    if (ownership == BatchOwnership.CurrentScope) Assert.That(b.Inputs.IsDisposed, Is.False);
                    if (ownership == BatchOwnership.Consumer) b.Dispose();
                    previous = b;
                }
                if (ownership == BatchOwnership.Loader) Assert.That(previous!.Inputs.IsDisposed, Is.True, "the last batch is freed when the epoch ends");
            }
            Assert.That(Tensor.LiveCount, Is.EqualTo(baseline), "live tensors after two epochs");

            // Stopping early (with batches still queued) frees them too.
            foreach (var b in loader)
            {
                if (ownership != BatchOwnership.Loader) b.Dispose();
                if (b.Index == 1) break;
            }
            Assert.That(Tensor.LiveCount, Is.EqualTo(baseline), "live tensors after an early break");
        }
    }

    [Test]
    public void CurrentScopeOwnershipRegistersBatchesWithTheConsumersScope()
    {
        var (x, y) = Indexed(50);
        using (x) using (y)
        {
            var baseline = SettledLiveCount();
            var loader = new DataLoader(x, y, new LoaderOptions { BatchSize = 10, Prefetch = 2, Ownership = BatchOwnership.CurrentScope });
            using var e = loader.GetEnumerator();
            int n = 0;
            while (true)
            {
                Batch b;
                using (var step = DisposeScope.Enter())
                {
                    if (!e.MoveNext()) break;
                    b = e.Current;
                    Assert.That(step.Count, Is.EqualTo(2), "inputs and labels belong to the step's scope");
                    using var doubled = b.Inputs * 2.0;
                }
                Assert.That(b.Inputs.IsDisposed && b.Labels.IsDisposed, Is.True, "the step's scope freed the batch");
                n++;
            }
            Assert.That(n, Is.EqualTo(5));
            Assert.That(Tensor.LiveCount, Is.EqualTo(baseline));
        }
    }

    sealed class FailingTransform(int failAt) : Transform
    {
        int calls;
        public override Tensor Apply(Tensor x, Generator? generator = null)
        {
            if (Interlocked.Increment(ref calls) > failAt) throw new InvalidDataException("boom at batch " + failAt);
            return x.Clone();
        }
    }

    [TestCase(0)]
    [TestCase(2)]
    public void ProducerErrorsReachTheConsumerAfterEarlierBatches(int prefetch)
    {
        var (x, y) = Indexed(100);
        using (x) using (y)
        {
            var baseline = SettledLiveCount();
            var loader = new DataLoader(x, y, new LoaderOptions { BatchSize = 10, Prefetch = prefetch, Transform = new FailingTransform(3) });
            int got = 0;
            var e = Assert.Throws<InvalidDataException>(() => { foreach (var b in loader) got++; });
            Assert.That(e!.Message, Does.Contain("boom"));
            Assert.That(got, Is.EqualTo(3));
            Assert.That(Tensor.LiveCount, Is.EqualTo(baseline));
        }
    }

    [Test]
    public void RejectsMismatchedTargetsAndBadOptions()
    {
        using var x = Torch.Zeros(10, 3);
        using var y = Torch.Zeros(9);
        var e = Assert.Throws<ArgumentException>(() => new DataLoader(x, y));
        Assert.That(e!.Message, Does.Contain("10 samples"));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(x, new LoaderOptions { BatchSize = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DataLoader(x, new LoaderOptions { Prefetch = -1 }));
        var noTargets = new DataLoader(x, new LoaderOptions { BatchSize = 4 });
        foreach (var b in noTargets) Assert.Throws<InvalidOperationException>(() => _ = b.Labels);
        var threads = Assert.Throws<ArgumentOutOfRangeException>(() => Torch.SetThreadLocalThreads(0))!;
        Assert.That(threads.Message, Does.Contain("got 0"));
    }

    [Test]
    public void DatasetsGatherTheSamplesAskedFor()
    {
        using var scope = DisposeScope.Enter();
        var x = Torch.Arange(0, 20).To(DType.Float32).Reshape(10, 2);
        var y = Torch.Arange(0, 10, dtype: DType.Int64);
        var h = Torch.Arange(100, 110, dtype: DType.Int64);
        var one = new TensorDataset(x, y);
        Assert.That(one.TargetNames, Is.EqualTo(new[] { "label" }));
        Assert.That(new TensorDataset(x, new[] { y, h }, new[] { "hour", "minute" }).TargetNames, Is.EqualTo(new[] { "hour", "minute" }));
        var (xs, ys) = one.Gather(new long[] { 7, 2 });
        Assert.That(xs.ToArray<float>(), Is.EqualTo(new float[] { 14, 15, 4, 5 }));
        Assert.That(ys[0].ToArray<long>(), Is.EqualTo(new long[] { 7, 2 }));
        // A subset maps its indices; a range is a contiguous subset.
        var sub = new Subset(one, new long[] { 9, 0, 4 });
        Assert.That(sub.Count, Is.EqualTo(3));
        Assert.That(sub.Gather(new long[] { 2, 0 }).Targets[0].ToArray<long>(), Is.EqualTo(new long[] { 4, 9 }));
        Assert.That(Subset.Range(one, 8, 2).Gather(new long[] { 1 }).Targets[0].ToArray<long>(), Is.EqualTo(new long[] { 9 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new Subset(one, new long[] { 10 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = Subset.Range(one, 5, 6));
        Assert.Throws<ArgumentOutOfRangeException>(() => sub.Gather(new long[] { 3 }));
        // A transformed data set applies its transform to the inputs only.
        var scaled = new TransformedDataset(sub, new ToFloat(2.0));
        var (sx, sy) = scaled.Gather(new long[] { 1 });
        Assert.That(sx.ToArray<float>(), Is.EqualTo(new float[] { 0, 0.5f }));
        Assert.That(sy[0].ToArray<long>(), Is.EqualTo(new long[] { 0 }));
        // The loader reads any data set: one epoch of the subset visits its three samples.
        var seen = new List<long>();
        foreach (var b in new DataLoader(sub, new LoaderOptions { BatchSize = 2, Seed = 3 })) seen.AddRange(b.Labels.ToArray<long>());
        Assert.That(seen, Is.EquivalentTo(new long[] { 9, 0, 4 }));
        var e = Assert.Throws<ArgumentException>(() => _ = new TensorDataset(x, Torch.Arange(0, 9, dtype: DType.Int64)))!;
        Assert.That(e.Message, Does.Contain("10 samples").And.Contain("[9]"));
    }

    [Test]
    public void PrefetchesByDefaultOnlyWhenThereIsATransformOrADatasetOutOfMemory()
    {
        using (var x0 = Torch.Zeros(4, 2))
        {
            Assert.That(new DataLoader(x0).EffectivePrefetch, Is.EqualTo(0), "gathering rows is cheaper than a hand-off to another thread");
            Assert.That(new DataLoader(x0, new LoaderOptions { Transform = new GaussianNoise(0.1) }).EffectivePrefetch, Is.EqualTo(2), "a transform is worth overlapping with training");
            Assert.That(new DataLoader(x0, new LoaderOptions { Prefetch = 5 }).EffectivePrefetch, Is.EqualTo(5), "an explicit depth is kept");
            Assert.That(new DataLoader(Subset.Range(new TensorDataset(x0), 1, 2)).EffectivePrefetch, Is.EqualTo(2), "a data set read batch by batch (images) is worth overlapping");
        }
        // The producer thread is visible by its name while an epoch with prefetch runs.
        var (x, y) = Indexed(64);
        using (x) using (y)
        {
            // Linux keeps 15 characters of a thread's name. Other tests' loaders may still be winding down.
            int Producers() => ThreadNames().Count(n => n.StartsWith("DataLoader"));
            bool Producing(LoaderOptions o)
            {
                int before = Producers();
                using var e = new DataLoader(x, y, o).Epoch(0).GetEnumerator();
                e.MoveNext();
                return Producers() > before;
            }
            Assert.That(Producing(new LoaderOptions { BatchSize = 8 }), Is.False);
            Assert.That(Producing(new LoaderOptions { BatchSize = 8, Transform = new GaussianNoise(0.1) }), Is.True);
        }
    }

    [Test]
    public void AnEpochDroppedWithoutDisposingStopsItsProducer()
    {
        // The producer holds its queued batches; they are freed only if it stops. Without the guard it
        // would wait on its full queue forever and the live count would never come back.
        var (x, y) = Indexed(400);
        using (x) using (y)
        {
            long before = Tensor.LiveCount;
            StartAndDrop(new DataLoader(x, y, new LoaderOptions { BatchSize = 8, Prefetch = 2 }));
            Assert.That(Tensor.LiveCount, Is.GreaterThan(before), "batches are queued");
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (Tensor.LiveCount != before && DateTime.UtcNow < deadline)
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                Thread.Sleep(20);
            }
            Assert.That(Tensor.LiveCount, Is.EqualTo(before), "the collected enumerator stopped its producer, which freed its batches");
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    static void StartAndDrop(DataLoader loader)
    {
        var e = loader.Epoch(0).GetEnumerator();
        e.MoveNext();
        Thread.Sleep(100);   // the producer fills its queue
    }

    /// <summary>Names of this process's threads, from /proc (Linux).</summary>
    static IEnumerable<string> ThreadNames() =>
        Directory.EnumerateDirectories("/proc/self/task").Select(d => { try { return File.ReadAllText(Path.Combine(d, "comm")).Trim(); } catch (IOException) { return ""; } });

    /// <summary>
    /// Fashion-MNIST through the loader (skipped when the data set is not installed): load time and one
    /// shuffled, normalised epoch of batches of 128, printed in the test output.
    /// </summary>
    [Test]
    public void FashionMnistEpochOfNormalisedBatches()
    {
        if (!File.Exists(Path.Combine(FashionMnist.DefaultDirectory, "train-images-idx3-ubyte.gz")) &&
            !File.Exists(Path.Combine(FashionMnist.DefaultDirectory, "train-images-idx3-ubyte")))
            Assert.Ignore($"Fashion-MNIST is not installed in {FashionMnist.DefaultDirectory}.");
        var baseline = SettledLiveCount();
        var watch = Stopwatch.StartNew();
        var (images, labels) = FashionMnist.Load(train: true);
        var load = watch.Elapsed.TotalSeconds;
        using (images) using (labels)
        {
            Assert.That(images.Shape, Is.EqualTo(new long[] { 60000, 28, 28 }));
            var pipeline = Transform.Compose(new ToFloat(), new Normalize(0.2860, 0.3530), new Flatten());
            var loader = new DataLoader(images, labels, new LoaderOptions { BatchSize = 128, Seed = 1, Transform = pipeline });
            watch.Restart();
            double sum = 0, sumSq = 0; long count = 0; int batches = 0;
            foreach (var b in loader)
            {
                if (batches++ % 50 == 0)
                {
                    Assert.That(b.Inputs.Shape, Is.EqualTo(new long[] { b.Count, 784 }));
                    using var scope = DisposeScope.Enter();
                    sum += b.Inputs.Sum().ToDouble(); sumSq += b.Inputs.Square().Sum().ToDouble(); count += b.Inputs.Numel;
                }
            }
            var epoch = watch.Elapsed.TotalSeconds;
            Assert.That(batches, Is.EqualTo(469));
            double mean = sum / count, std = Math.Sqrt(sumSq / count - mean * mean);
            Assert.That(mean, Is.EqualTo(0).Within(0.05), "normalised mean");
            Assert.That(std, Is.EqualTo(1).Within(0.05), "normalised std");
            TestContext.Out.WriteLine($"Fashion-MNIST train: load {load:F3} s; one shuffled, normalised epoch of {batches} batches of 128: {epoch:F3} s (mean {mean:F3}, std {std:F3})");
        }
        Assert.That(Tensor.LiveCount, Is.EqualTo(baseline));
    }
}
