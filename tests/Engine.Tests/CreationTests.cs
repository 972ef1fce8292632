using FsCheck;
using FsCheck.Fluent;
using NUnit.Framework;

namespace Dsl.Engine.Tests;

/// <summary>Tensor creation (filled, ranges, random) and conversion between .NET arrays, dtypes and devices.</summary>
[TestFixture]
public class CreationTests
{
    DisposeScope? scope;

    [SetUp] public void Open() => scope = DisposeScope.Enter();
    [TearDown] public void Close() { scope?.Dispose(); scope = null; }

    static double Mean(double[] v) => v.Average();
    static double Std(double[] v) { var m = Mean(v); return Math.Sqrt(v.Sum(x => (x - m) * (x - m)) / (v.Length - 1)); }
    static double[] F64(Tensor t) { using var d = t.To(DType.Float64); return d.ToArray<double>(); }

    // ---- filled tensors ----

    static readonly DType[] FillDTypes = { DType.Float32, DType.Float64, DType.Int32, DType.Int64, DType.UInt8, DType.Int8, DType.Int16, DType.Float16, DType.BFloat16, DType.Bool };

    static IEnumerable<TestCaseData> FillCases() => FillDTypes.Select(d => new TestCaseData(d).SetArgDisplayNames(d.Name()));

    [TestCaseSource(nameof(FillCases))]
    public void ZerosOnesFullAndEmptyHaveTheRequestedDTypeAndShape(DType dtype)
    {
        var shape = new long[] { 2, 3, 4 };
        using var z = Torch.Zeros(shape, dtype);
        using var o = Torch.Ones(shape, dtype);
        using var f = Torch.Full(shape, 1, dtype);
        using var e = Torch.Empty(shape, dtype);
        foreach (var t in new[] { z, o, f, e })
        {
            Assert.That(t.DType, Is.EqualTo(dtype));
            Assert.That(t.Shape, Is.EqualTo(shape));
            Assert.That(t.Numel, Is.EqualTo(24));
            Assert.That(t.Device, Is.EqualTo(Device.Cpu));
            Assert.That(t.IsContiguous);
            Assert.That(t.RequiresGrad, Is.False);
        }
        Assert.That(F64(z), Is.All.EqualTo(0.0));
        Assert.That(F64(o), Is.All.EqualTo(1.0));
        Assert.That(F64(f), Is.All.EqualTo(1.0));
    }

    [Test]
    public void ParamsOverloadsAreFloat32()
    {
        using var z = Torch.Zeros(2, 5);
        using var o = Torch.Ones(3);
        Assert.That(z.DType, Is.EqualTo(DType.Float32));
        Assert.That(z.Shape, Is.EqualTo(new long[] { 2, 5 }));
        Assert.That(o.ToArray<float>(), Is.EqualTo(new float[] { 1, 1, 1 }));
    }

    [Test]
    public void FullHoldsTheValue()
    {
        using var a = Torch.Full(new long[] { 2, 2 }, -3.5);
        Assert.That(a.ToArray<float>(), Is.EqualTo(new float[] { -3.5f, -3.5f, -3.5f, -3.5f }));
        using var b = Torch.Full(new long[] { 3 }, 1L << 40, DType.Int64);
        Assert.That(b.ToArray<long>(), Is.All.EqualTo(1L << 40));
        using var c = Torch.Full(new long[] { 2 }, 200, DType.UInt8);
        Assert.That(c.ToArray<byte>(), Is.EqualTo(new byte[] { 200, 200 }));
        using var d = Torch.Full(new long[] { 2 }, double.NegativeInfinity, DType.Float64);
        Assert.That(d.ToArray<double>(), Is.All.EqualTo(double.NegativeInfinity));
    }

    [Test]
    public void ScalarsAndEmptyTensors()
    {
        using var s = Torch.Scalar(2.5);
        Assert.That(s.Shape, Is.Empty);
        Assert.That(s.Dim, Is.Zero);
        Assert.That(s.Numel, Is.EqualTo(1));
        Assert.That(s.ToDouble(), Is.EqualTo(2.5));
        Assert.That(s.ToSingle(), Is.EqualTo(2.5f));
        using var i = Torch.Scalar(7, DType.Int64);
        Assert.That(i.ToInt64(), Is.EqualTo(7));

        using var e = Torch.Zeros(new long[] { 3, 0, 2 }, DType.Float32);
        Assert.That(e.Shape, Is.EqualTo(new long[] { 3, 0, 2 }));
        Assert.That(e.Numel, Is.Zero);
        Assert.That(e.ToArray<float>(), Is.Empty);
        using var e0 = Torch.Empty(new long[] { 0 });
        Assert.That(e0.Numel, Is.Zero);
    }

    /// <summary>Every creation function that takes requiresGrad must return a leaf that requires grad.</summary>
    [Test]
    public void RequiresGradIsHonouredByEveryCreationFunction()
    {
        var makers = new (string Name, Func<Tensor> Make)[]
        {
            ("zeros", () => Torch.Zeros(new long[] { 2 }, DType.Float32, requiresGrad: true)),
            ("ones", () => Torch.Ones(new long[] { 2 }, DType.Float32, requiresGrad: true)),
            ("full", () => Torch.Full(new long[] { 2 }, 1, requiresGrad: true)),
            ("scalar", () => Torch.Scalar(1, requiresGrad: true)),
            ("empty", () => Torch.Empty(new long[] { 2 }, requiresGrad: true)),
            ("eye", () => Torch.Eye(2, requiresGrad: true)),
            ("arange", () => Torch.Arange(0, 3, 1, requiresGrad: true)),
            ("linspace", () => Torch.Linspace(0, 1, 3, requiresGrad: true)),
            ("rand", () => Torch.Rand(new long[] { 2 }, requiresGrad: true)),
            ("randn", () => Torch.Randn(new long[] { 2 }, requiresGrad: true)),
            ("normal", () => Torch.Normal(0, 1, new long[] { 2 }, requiresGrad: true)),
            ("from", () => Torch.From<float>(new float[] { 1, 2 }.AsSpan(), new long[] { 2 }.AsSpan(), requiresGrad: true)),
            ("from_array", () => Torch.FromArray(new float[] { 1, 2 }, requiresGrad: true)),
        };
        Assert.Multiple(() =>
        {
            foreach (var (name, make) in makers)
            {
                Tensor? t = null;
                try { t = make(); }
                catch (TorchException e) { Assert.Fail($"{name}(requiresGrad: true) threw: {e.Message}"); continue; }
                using (t)
                {
                    Assert.That(t.RequiresGrad, Is.True, $"{name}(requiresGrad: true) returned a tensor that does not require grad");
                    Assert.That(t.IsLeaf, Is.True, $"{name}(requiresGrad: true) should be a leaf");
                }
                using var plain = name == "from_array" ? Torch.FromArray(new float[] { 1 }) : Torch.Zeros(1);
                Assert.That(plain.RequiresGrad, Is.False);
            }
        });
    }

    [Test]
    public void EyeIsTheIdentity()
    {
        using var a = Torch.Eye(3);
        Assert.That(a.Shape, Is.EqualTo(new long[] { 3, 3 }));
        Assert.That(a.ToArray<float>(), Is.EqualTo(new float[] { 1, 0, 0, 0, 1, 0, 0, 0, 1 }));
        using var b = Torch.Eye(2, 4, DType.Int64);
        Assert.That(b.DType, Is.EqualTo(DType.Int64));
        Assert.That(b.ToArray<long>(), Is.EqualTo(new long[] { 1, 0, 0, 0, 0, 1, 0, 0 }));
        using var c = Torch.Eye(3, 1);
        Assert.That(c.ToArray<float>(), Is.EqualTo(new float[] { 1, 0, 0 }));
        using var d = Torch.Eye(0);
        Assert.That(d.Shape, Is.EqualTo(new long[] { 0, 0 }));
    }

    // ---- ranges ----

    [Test]
    public void ArangeExcludesTheEnd()
    {
        using var a = Torch.Arange(5);
        Assert.That(a.DType, Is.EqualTo(DType.Int64));
        Assert.That(a.ToArray<long>(), Is.EqualTo(new long[] { 0, 1, 2, 3, 4 }));
        using var b = Torch.Arange(1, 2, 0.25);
        Assert.That(b.DType, Is.EqualTo(DType.Float32));
        Assert.That(b.ToArray<float>(), Is.EqualTo(new float[] { 1, 1.25f, 1.5f, 1.75f }));
        using var c = Torch.Arange(5, 0, -1.5, DType.Float64);
        Assert.That(c.ToArray<double>(), Is.EqualTo(new double[] { 5, 3.5, 2, 0.5 }));
        using var d = Torch.Arange(3, 3);
        Assert.That(d.Numel, Is.Zero);
        using var e = Torch.Arange(0, 10, 3, DType.Int32);
        Assert.That(e.ToArray<int>(), Is.EqualTo(new[] { 0, 3, 6, 9 }));
    }

    [Test]
    public void ArangeWithABadStepFails()
    {
        var e = Assert.Throws<TorchException>(() => Torch.Arange(0, 5, 0))!;
        Assert.That(e.Message, Does.StartWith("arange:"));
        Assert.Throws<TorchException>(() => Torch.Arange(0, 5, -1));
    }

    [Test]
    public void LinspaceIncludesBothEnds()
    {
        using var a = Torch.Linspace(0, 1, 5);
        Assert.That(a.ToArray<float>(), Is.EqualTo(new float[] { 0, 0.25f, 0.5f, 0.75f, 1 }));
        using var b = Torch.Linspace(-2, 2, 3, DType.Float64);
        Assert.That(b.ToArray<double>(), Is.EqualTo(new double[] { -2, 0, 2 }));
        using var c = Torch.Linspace(3, 9, 1);
        Assert.That(c.ToArray<float>(), Is.EqualTo(new float[] { 3 }));
        using var d = Torch.Linspace(3, 9, 0);
        Assert.That(d.Numel, Is.Zero);
        using var e = Torch.Linspace(10, 0, 6);
        Assert.That(e.ToArray<float>(), Is.EqualTo(new float[] { 10, 8, 6, 4, 2, 0 }));
        Assert.Throws<TorchException>(() => Torch.Linspace(0, 1, -1));
    }

    // ---- random ----

    [Test]
    public void RandIsInTheUnitInterval()
    {
        using var g = new Generator(1);
        using var a = Torch.Rand(new long[] { 100_000 }, g);
        var v = F64(a);
        Assert.That(v.Min(), Is.GreaterThanOrEqualTo(0.0));
        Assert.That(v.Max(), Is.LessThan(1.0));
        Assert.That(Mean(v), Is.EqualTo(0.5).Within(0.01));
        Assert.That(Std(v), Is.EqualTo(Math.Sqrt(1.0 / 12)).Within(0.01));
        using var d = Torch.Rand(new long[] { 1000 }, g, DType.Float64);
        Assert.That(d.DType, Is.EqualTo(DType.Float64));
        Assert.That(d.ToArray<double>(), Has.All.GreaterThanOrEqualTo(0.0).And.All.LessThan(1.0));
    }

    [Test]
    public void RandnHasStandardMoments()
    {
        using var g = new Generator(2);
        using var a = Torch.Randn(new long[] { 200_000 }, g);
        var v = F64(a);
        Assert.That(Mean(v), Is.EqualTo(0.0).Within(0.01));
        Assert.That(Std(v), Is.EqualTo(1.0).Within(0.01));
        using var b = Torch.Randn(new long[] { 3, 4 }, g, DType.Float64);
        Assert.That(b.Shape, Is.EqualTo(new long[] { 3, 4 }));
        Assert.That(b.DType, Is.EqualTo(DType.Float64));
    }

    [Test]
    public void NormalHasTheRequestedMoments()
    {
        using var g = new Generator(3);
        using var a = Torch.Normal(3, 2, new long[] { 200_000 }, g);
        var v = F64(a);
        Assert.That(Mean(v), Is.EqualTo(3.0).Within(0.02));
        Assert.That(Std(v), Is.EqualTo(2.0).Within(0.02));
        using var z = Torch.Normal(-1.5, 0, new long[] { 10 }, g);
        Assert.That(F64(z), Is.All.EqualTo(-1.5));
        var e = Assert.Throws<TorchException>(() => Torch.Normal(0, -1, new long[] { 3 }))!;
        Assert.That(e.Message, Does.StartWith("normal:"));
        Assert.Throws<TorchException>(() => Torch.Normal(0, double.NaN, new long[] { 3 }));
    }

    [Test]
    public void RandintStaysInRangeAndCoversIt()
    {
        using var g = new Generator(4);
        using var a = Torch.Randint(-3, 4, new long[] { 10_000 }, g);
        Assert.That(a.DType, Is.EqualTo(DType.Int64));
        var v = a.ToArray<long>();
        Assert.That(v.Min(), Is.EqualTo(-3));
        Assert.That(v.Max(), Is.EqualTo(3));
        Assert.That(v.Distinct().Count(), Is.EqualTo(7));
        foreach (var grp in v.GroupBy(x => x)) Assert.That(grp.Count(), Is.EqualTo(10_000 / 7).Within(200), $"value {grp.Key}");
        using var b = Torch.Randint(0, 10, new long[] { 2, 5 }, g, DType.Int32);
        Assert.That(b.DType, Is.EqualTo(DType.Int32));
        Assert.That(b.ToArray<int>(), Has.All.InRange(0, 9));
        using var one = Torch.Randint(5, 6, new long[] { 20 }, g);
        Assert.That(one.ToArray<long>(), Is.All.EqualTo(5));
        var e = Assert.Throws<TorchException>(() => Torch.Randint(3, 3, new long[] { 2 }))!;
        Assert.That(e.Message, Does.StartWith("randint:"));
    }

    [Test]
    public void RandpermIsAPermutation()
    {
        using var g = new Generator(5);
        foreach (var n in new long[] { 0, 1, 2, 10, 1000 })
        {
            using var p = Torch.Randperm(n, g);
            Assert.That(p.DType, Is.EqualTo(DType.Int64));
            Assert.That(p.Shape, Is.EqualTo(new[] { n }));
            var v = p.ToArray<long>();
            Assert.That(v.Order(), Is.EqualTo(Enumerable.Range(0, (int)n).Select(i => (long)i)), $"randperm({n})");
        }
        using var big = Torch.Randperm(1000, g);
        Assert.That(big.ToArray<long>(), Is.Not.EqualTo(Enumerable.Range(0, 1000).Select(i => (long)i)), "a permutation of 1000 should not be the identity");
        Assert.Throws<TorchException>(() => Torch.Randperm(-1));
    }

    [Test]
    public void SeededGeneratorsReproduce()
    {
        using var g1 = new Generator(42);
        using var g2 = new Generator(42);
        using var g3 = new Generator(43);
        using var a = Torch.Randn(new long[] { 50 }, g1);
        using var b = Torch.Randn(new long[] { 50 }, g2);
        using var c = Torch.Randn(new long[] { 50 }, g3);
        Assert.That(a.Equal(b));
        Assert.That(a.Equal(c), Is.False);
        g1.Seed(42);
        using var d = Torch.Randn(new long[] { 50 }, g1);
        Assert.That(d.Equal(a));

        Torch.ManualSeed(7);
        using var x = Torch.Rand(new long[] { 20 });
        using var xi = Torch.Randint(0, 100, new long[] { 20 });
        using var xp = Torch.Randperm(20);
        Torch.ManualSeed(7);
        using var y = Torch.Rand(new long[] { 20 });
        using var yi = Torch.Randint(0, 100, new long[] { 20 });
        using var yp = Torch.Randperm(20);
        Assert.That(x.Equal(y) && xi.Equal(yi) && xp.Equal(yp), "ManualSeed makes the global generator reproducible");
    }

    // ---- .NET arrays in and out ----

    static readonly long[][] RankShapes =
    {
        Array.Empty<long>(),            // rank 0
        new long[] { 5 },               // rank 1
        new long[] { 2, 3 },            // rank 2
        new long[] { 2, 3, 4 },         // rank 3
        new long[] { 2, 1, 3, 2 },      // rank 4
        new long[] { 0 },               // empty
        new long[] { 2, 0, 3 },         // empty, rank 3
    };

    static void ArraysRoundTrip<T>(Func<int, T> make) where T : unmanaged
    {
        foreach (var shape in RankShapes)
        {
            var n = (int)shape.Aggregate(1L, (a, b) => a * b);
            var flat = Enumerable.Range(0, n).Select(make).ToArray();
            var what = $"{typeof(T).Name} [{string.Join(", ", shape)}]";

            using var t = Torch.From<T>(flat.AsSpan(), shape.AsSpan());
            Assert.That(t.DType, Is.EqualTo(DTypes.Of<T>()), what);
            Assert.That(t.Shape, Is.EqualTo(shape), what);
            Assert.That(t.Dim, Is.EqualTo(shape.Length), what);
            Assert.That(t.Numel, Is.EqualTo(n), what);
            Assert.That(t.ToArray<T>(), Is.EqualTo(flat), what);

            var span = new T[n];
            t.CopyTo<T>(span);
            Assert.That(span, Is.EqualTo(flat), what);

            // ToNDArray has the tensor's rank (a 0-d tensor becomes a one-element vector: .NET has no rank-0 arrays).
            var nd = t.ToNDArray<T>();
            Assert.That(nd.GetType().GetElementType(), Is.EqualTo(typeof(T)), what);
            if (shape.Length == 0)
            {
                Assert.That(nd.Rank, Is.EqualTo(1), what);
                Assert.That(nd.Length, Is.EqualTo(1), what);
            }
            else
            {
                Assert.That(nd.Rank, Is.EqualTo(shape.Length), what);
                for (int d = 0; d < shape.Length; d++) Assert.That(nd.GetLength(d), Is.EqualTo(shape[d]), what);
                using var back = Torch.FromArray(nd);
                Assert.That(back.Shape, Is.EqualTo(shape), what + " FromArray");
                Assert.That(back.DType, Is.EqualTo(DTypes.Of<T>()), what + " FromArray");
                Assert.That(back.ToArray<T>(), Is.EqualTo(flat), what + " FromArray");
            }
            Assert.That(nd.Cast<T>().ToArray(), Is.EqualTo(flat), what + ": ToNDArray is row-major");
        }
    }

    static IEnumerable<TestCaseData> ElementTypes()
    {
        yield return new TestCaseData(DType.Float32).SetArgDisplayNames("float32");
        yield return new TestCaseData(DType.Float64).SetArgDisplayNames("float64");
        yield return new TestCaseData(DType.Int32).SetArgDisplayNames("int32");
        yield return new TestCaseData(DType.Int64).SetArgDisplayNames("int64");
        yield return new TestCaseData(DType.UInt8).SetArgDisplayNames("uint8");
        yield return new TestCaseData(DType.Bool).SetArgDisplayNames("bool");
    }

    [TestCaseSource(nameof(ElementTypes))]
    public void FromAndToArraysOfRanks0To4(DType dtype)
    {
        switch (dtype)
        {
            case DType.Float32: ArraysRoundTrip(i => i * 0.5f - 3.25f); break;
            case DType.Float64: ArraysRoundTrip(i => i == 0 ? double.Epsilon : Math.Pow(-1.5, i)); break;
            case DType.Int32: ArraysRoundTrip(i => i == 0 ? int.MinValue : i == 1 ? int.MaxValue : i * 1000 - 7); break;
            case DType.Int64: ArraysRoundTrip(i => i == 0 ? long.MinValue : i == 1 ? long.MaxValue : i * 1_000_000_000_007L); break;
            case DType.UInt8: ArraysRoundTrip(i => (byte)(i * 37 + 250)); break;
            case DType.Bool: ArraysRoundTrip(i => i % 3 == 0); break;
            default: Assert.Fail($"no case for {dtype}"); break;
        }
    }

    [Test]
    public void FromArrayOfMultidimensionalLiterals()
    {
        using var a = Torch.FromArray(new float[,] { { 1, 2, 3 }, { 4, 5, 6 } });
        Assert.That(a.Shape, Is.EqualTo(new long[] { 2, 3 }));
        Assert.That(a.ToArray<float>(), Is.EqualTo(new float[] { 1, 2, 3, 4, 5, 6 }));
        using var b = Torch.FromArray(new long[,,] { { { 1 }, { 2 } }, { { 3 }, { 4 } } });
        Assert.That(b.Shape, Is.EqualTo(new long[] { 2, 2, 1 }));
        Assert.That(b.DType, Is.EqualTo(DType.Int64));
        using var c = Torch.FromArray(new bool[] { true, false });
        Assert.That(c.DType, Is.EqualTo(DType.Bool));
        using var d = Torch.FromArray(new float[0, 4]);
        Assert.That(d.Shape, Is.EqualTo(new long[] { 0, 4 }));
        var m = (float[,])a.ToNDArray<float>();
        Assert.That(m[1, 2], Is.EqualTo(6f));
        var e = Assert.Throws<TorchException>(() => Torch.FromArray(new decimal[] { 1m }))!;
        Assert.That(e.Message, Does.StartWith("from_array:").And.Contain("Decimal"));
    }

    [Test]
    public void FromWithoutAShapeIsAVector()
    {
        using var a = Torch.From(new int[] { 4, 5, 6 });
        Assert.That(a.Shape, Is.EqualTo(new long[] { 3 }));
        using var s = Torch.From(new float[] { 9 });
        Assert.That(s.Shape, Is.EqualTo(new long[] { 1 }), "From(array) with no shape is rank 1; pass an empty shape span for a 0-d tensor");
        using var r0 = Torch.From<float>(new float[] { 9 }.AsSpan(), ReadOnlySpan<long>.Empty);
        Assert.That(r0.Shape, Is.Empty);
    }

    [Test]
    public void FromCopiesTheData()
    {
        var data = new float[] { 1, 2, 3 };
        using var t = Torch.From(data, 3);
        data[0] = 100;
        Assert.That(t.ToArray<float>(), Is.EqualTo(new float[] { 1, 2, 3 }), "the tensor owns a copy");
        var copy = t.ToArray<float>();
        copy[1] = -1;
        Assert.That(t.ToArray<float>()[1], Is.EqualTo(2f));
    }

    [Test]
    public void ToArrayOfANonContiguousViewIsRowMajor()
    {
        using var a = Torch.From(new int[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        using var t = a.T;
        Assert.That(t.IsContiguous, Is.False);
        Assert.That(t.ToArray<int>(), Is.EqualTo(new[] { 1, 4, 2, 5, 3, 6 }));
        var nd = (int[,])t.ToNDArray<int>();
        Assert.That(nd[2, 1], Is.EqualTo(6));
    }

    [Test]
    public void CopyToNeedsTheRightLengthAndType()
    {
        using var a = Torch.Ones(2, 3);
        Assert.Throws<TorchException>(() => a.CopyTo<float>(new float[5]));
        Assert.Throws<TorchException>(() => a.CopyTo<double>(new double[6]));
        var e = Assert.Throws<TorchException>(() => Torch.From(new float[] { 1, 2, 3 }, 2, 2))!;
        Assert.That(e.Message, Does.Contain("[2, 2]"));
    }

    [Test]
    public void FromToArrayRoundTripProperty()
    {
        // Any float data in any shape of rank 0-4 comes back bit for bit.
        var dims = Gen.Choose(0, 4).SelectMany(rank => Gen.Choose(0, 4).ArrayOf(rank));
        var cases = dims.SelectMany(shape =>
        {
            int n = shape.Aggregate(1, (a, b) => a * b);
            return ArbMap.Default.GeneratorFor<float>().ArrayOf(n).Select(data => (shape, data));
        });
        Prop.ForAll(cases.ToArbitrary(), c =>
        {
            var shape = c.shape.Select(s => (long)s).ToArray();
            using var t = Torch.From<float>(c.data.AsSpan(), shape.AsSpan());
            var back = t.ToArray<float>();
            return t.Shape.SequenceEqual(shape)
                && back.Select(BitConverter.SingleToInt32Bits).SequenceEqual(c.data.Select(BitConverter.SingleToInt32Bits));
        }).QuickCheckThrowOnFailure();
    }

    // ---- dtype conversion ----

    [Test]
    public void ToConvertsDTypes()
    {
        using var f = Torch.From(new float[] { -1.7f, -0.2f, 0, 2.9f, 300.5f }, 5);
        using (var i = f.To(DType.Int32))
        {
            Assert.That(i.DType, Is.EqualTo(DType.Int32));
            Assert.That(i.ToArray<int>(), Is.EqualTo(new[] { -1, 0, 0, 2, 300 }), "float → int truncates toward zero");
        }
        using (var b = f.To(DType.Bool))
            Assert.That(b.ToArray<bool>(), Is.EqualTo(new[] { true, true, false, true, true }));
        using (var d = f.To(DType.Float64))
            Assert.That(d.ToArray<double>(), Is.EqualTo(new[] { (double)-1.7f, (double)-0.2f, 0, (double)2.9f, 300.5 }));
        using (var h = f.To(DType.Float16))
        using (var back = h.To(DType.Float32))
            Assert.That(back.ToArray<float>(), Is.EqualTo(new[] { -1.7f, -0.2f, 0, 2.9f, 300.5f }).Within(0.01));

        using var flags = Torch.From(new[] { true, false, true }, 3);
        using (var x = flags.To(DType.Float32)) Assert.That(x.ToArray<float>(), Is.EqualTo(new float[] { 1, 0, 1 }));
        using (var x = flags.To(DType.Int64)) Assert.That(x.ToArray<long>(), Is.EqualTo(new long[] { 1, 0, 1 }));

        using var big = Torch.From(new long[] { 1L << 40, -5 }, 2);
        using (var x = big.To(DType.Float64)) Assert.That(x.ToArray<double>(), Is.EqualTo(new double[] { 1L << 40, -5 }));
        using var bytes = Torch.From(new byte[] { 0, 255 }, 2);
        using (var x = bytes.To(DType.Int32)) Assert.That(x.ToArray<int>(), Is.EqualTo(new[] { 0, 255 }), "uint8 is unsigned");
    }

    /// <summary>
    /// To() documents "a new handle to the same data when nothing changes and copy is false" (like
    /// PyTorch's t.to(t.dtype)); Cpu() of a CPU tensor should not copy either.
    /// </summary>
    [Test]
    public void ToTheSameDTypeSharesDataUnlessCopied()
    {
        using var a = Torch.Zeros(3);
        using var same = a.To(DType.Float32);
        using var copy = a.To(DType.Float32, copy: true);
        a.Fill_(5);
        Assert.That(same.ToArray<float>(), Is.All.EqualTo(5f), "To(same dtype) returns a handle to the same data");
        Assert.That(copy.ToArray<float>(), Is.All.EqualTo(0f), "To(..., copy: true) copies");
        using var cpu = a.To(Device.Cpu);
        Assert.That(cpu.Device, Is.EqualTo(Device.Cpu));
        using var both = a.To(Device.Cpu, DType.Int64);
        Assert.That(both.ToArray<long>(), Is.All.EqualTo(5L));
        using var c = a.Cpu();
        Assert.That(c.ToArray<float>(), Is.All.EqualTo(5f));
    }

    [Test]
    public void ToCudaFailsCleanlyWithoutCuda()
    {
        Assume.That(Device.CudaAvailable, Is.False);
        using var a = Torch.Ones(2);
        var e = Assert.Throws<TorchException>(() => a.To(Device.Cuda(0)))!;
        Assert.That(e.Message, Does.StartWith("to:").And.Contain("[2]"));
    }

    // ---- devices ----

    [Test]
    public void DeviceParseAndToString()
    {
        Assert.That(Device.Parse("cpu"), Is.EqualTo(Device.Cpu));
        Assert.That(Device.Parse(" CPU "), Is.EqualTo(Device.Cpu));
        Assert.That(Device.Parse("cuda"), Is.EqualTo(Device.Cuda(0)));
        Assert.That(Device.Parse("CUDA:3"), Is.EqualTo(Device.Cuda(3)));
        Assert.That(Device.Parse("cuda:0"), Is.EqualTo(new Device(DeviceType.Cuda, 0)));
        Assert.That(Device.Cpu.ToString(), Is.EqualTo("cpu"));
        Assert.That(Device.Cuda(2).ToString(), Is.EqualTo("cuda:2"));
        Assert.That(Device.Cuda().ToString(), Is.EqualTo("cuda:0"));
        foreach (var d in new[] { Device.Cpu, Device.Cuda(0), Device.Cuda(7) })
            Assert.That(Device.Parse(d.ToString()), Is.EqualTo(d), $"round trip of {d}");
        foreach (var bad in new[] { "", "gpu", "cuda:", "cuda:x", "cpu:0x", "tpu:1" })
        {
            var e = Assert.Throws<FormatException>(() => Device.Parse(bad), $"'{bad}'")!;
            Assert.That(e.Message, Does.Contain("Device.Parse"));
        }
    }

    [Test]
    public void NoCudaHere()
    {
        Assert.That(Device.CudaAvailable, Is.False);
        Assert.That(Device.CudaDeviceCount, Is.Zero);
        Assert.That(Device.Best, Is.EqualTo(Device.Cpu));
        using var t = Torch.Ones(1);
        Assert.That(t.Device, Is.EqualTo(Device.Cpu));
        Assert.That(t.Device.Type, Is.EqualTo(DeviceType.Cpu));
    }

    [Test]
    public void DTypeHelpers()
    {
        Assert.That(DTypes.Of<float>(), Is.EqualTo(DType.Float32));
        Assert.That(DTypes.Of<double>(), Is.EqualTo(DType.Float64));
        Assert.That(DTypes.Of<int>(), Is.EqualTo(DType.Int32));
        Assert.That(DTypes.Of<long>(), Is.EqualTo(DType.Int64));
        Assert.That(DTypes.Of<byte>(), Is.EqualTo(DType.UInt8));
        Assert.That(DTypes.Of<bool>(), Is.EqualTo(DType.Bool));
        Assert.That(DTypes.Of<Half>(), Is.EqualTo(DType.Float16));
        foreach (var d in Enum.GetValues<DType>())
        {
            using var t = Torch.Zeros(new long[] { 1 }, d);
            Assert.That(t.DType, Is.EqualTo(d));
            Assert.That(Interop.Native.dsl_io_element_size((int)d), Is.EqualTo(d.SizeOf()), $"element size of {d.Name()}");
        }
        Assert.That(DType.BFloat16.IsFloating() && DType.Float16.IsFloating() && !DType.Int64.IsFloating() && !DType.Bool.IsFloating());
    }
}
