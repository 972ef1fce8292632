using NUnit.Framework;

namespace Dsl.Engine.Tests;

/// <summary>
/// Sorting, order statistics, masks and indexing beyond the fixtures: bad input (dim out of range, k > size, q outside
/// [0, 1], mask shape or dtype) raises a TorchException naming the op, the shapes and the fix, before libtorch sees it
/// and without leaking handles; integer scalars compare exactly beyond 2^53; x.Index / x[...] from C# (ranges, ^k)
/// and their views.
/// </summary>
[TestFixture]
public class SelectTests
{
    static TorchException Refused(Func<object> f, string op, params string[] parts)
    {
        GC.Collect(); GC.WaitForPendingFinalizers();
        long before = Tensor.LiveCount;
        TorchException? caught = null;
        try { f(); }
        catch (TorchException e) { caught = e; }
        Assert.That(caught, Is.Not.Null, $"{op}: expected a TorchException");
        Assert.That(caught!.Op, Is.EqualTo(op));
        Assert.That(caught.Message, Does.StartWith(op + ":"));
        Assert.That(caught.Message, Does.Contain("Fix:"));
        foreach (var p in parts) Assert.That(caught.Message, Does.Contain(p));
        Assert.That(Tensor.LiveCount, Is.EqualTo(before), $"{op}: the refused call left tensors behind");
        return caught;
    }

    [Test]
    public void BadInputIsRefusedWithTheOpTheShapesAndTheFix()
    {
        using var x = Torch.Randn(new long[] { 3, 4 });
        using var i = Torch.From(new long[] { 1, 2, 3 }, 3);
        using var q = Torch.From(new[] { 0.5f, 1.5f }, 2);
        using var mask = x.Gt(0.0);
        using var wrongMask = Torch.Ones(new long[] { 3, 3 }, DType.Bool);
        using var floatMask = Torch.Ones(3, 4);
        Refused(() => x.Sort(2), "sort", "dim 2 is out of range", "[3, 4]", "valid dims are -2 to 1");
        Refused(() => x.Argsort(-3), "sort", "dim -3");
        Refused(() => x.Median(5), "median", "dim 5", "[3, 4]");
        Refused(() => x.TopK(5), "topk", "k = 5", "only 4 elements", "[3, 4] float32");
        Refused(() => x.TopK(2, dim: 3), "topk", "dim 3");
        Refused(() => x.Kthvalue(0, 1), "kthvalue", "k = 0", "[1, 4]");
        Refused(() => x.Kthvalue(5, 1), "kthvalue", "k = 5", "has 4 elements");
        Refused(() => x.Quantile(1.5), "quantile", "q = 1.5 is outside [0, 1]", "divide a percentile by 100");
        Refused(() => x.Quantile(-0.1, dim: 1), "quantile", "q = -0.1");
        Refused(() => x.Quantile(double.NaN), "quantile", "q = NaN");
        Refused(() => x.Quantile(q, dim: 0), "quantile", "q holds 1.5", "[2] float32");
        Refused(() => x.Quantile(0.5, dim: 2), "quantile", "dim 2");
        Refused(() => i.Quantile(0.5), "quantile", "int64", "x.To(DType.Float32)");
        Refused(() => x.MaskedSelect(wrongMask), "masked_select", "[3, 3]", "[3, 4]");
        Refused(() => x.MaskedSelect(floatMask), "masked_select", "the mask is float32", "must be bool");
        Refused(() => Torch.Where(floatMask, x, 0.0), "where", "must be bool");
        using var empty = Torch.Zeros(0, 3);
        Refused(() => empty.Median(), "median", "empty");
        Refused(() => empty.Median(0), "median", "dim 0 has size 0");
        Assert.Throws<ArgumentOutOfRangeException>(() => TensorIndex.Slice(0, 3, 0));
    }

    [Test]
    public void IntegerScalarsCompareExactlyBeyondTwoToThe53()
    {
        const long big = 1L << 53;
        using var scope = DisposeScope.Enter();
        var x = Torch.From(new[] { big, big + 1, big + 2, long.MaxValue, long.MinValue }, 5);
        // As a double, big + 1 is big: the double overloads cannot tell these apart; the long ones can.
        Assert.That(x.Eq(big + 1).ToArray<bool>(), Is.EqualTo(new[] { false, true, false, false, false }));
        Assert.That(x.Ne(big).ToArray<bool>(), Is.EqualTo(new[] { false, true, true, true, true }));
        Assert.That(x.Gt(big + 1).ToArray<bool>(), Is.EqualTo(new[] { false, false, true, true, false }));
        Assert.That(x.Ge(long.MaxValue).ToArray<bool>(), Is.EqualTo(new[] { false, false, false, true, false }));
        Assert.That(x.Lt(big + 1).ToArray<bool>(), Is.EqualTo(new[] { true, false, false, false, true }));
        Assert.That(x.Le(long.MinValue).ToArray<bool>(), Is.EqualTo(new[] { false, false, false, false, true }));
        Assert.That((x < big + 2).ToArray<bool>(), Is.EqualTo(new[] { true, true, false, false, true }));
        Assert.That((x - 1L).ToArray<long>()[1], Is.EqualTo(big));
        Assert.That((x + 1L).DType, Is.EqualTo(DType.Int64));
        Assert.That(x.Clone().Add_(3L).ToArray<long>()[0], Is.EqualTo(big + 3));
        Assert.That(x.Remainder(7L).ToArray<long>()[1], Is.EqualTo((big + 1) % 7));
        Assert.That(Torch.Where(x.Eq(big), x, big + 5).ToArray<long>()[1], Is.EqualTo(big + 5));
        // With a float tensor a long scalar keeps the float dtype.
        var f = Torch.From(new[] { 4f, 5f }, 2);
        Assert.That(f.Eq(5L).ToArray<bool>(), Is.EqualTo(new[] { false, true }));
        Assert.That((f * 2L).DType, Is.EqualTo(DType.Float32));
    }

    [Test]
    public void IndexFromCSharpWithRangesAndViews()
    {
        using var scope = DisposeScope.Enter();
        var x = Torch.Arange(0, 24, 1).Reshape(4, 6);
        Assert.That(x.Index(.., 1).ToArray<float>(), Is.EqualTo(new[] { 1f, 7f, 13f, 19f }), "x[:, 1]");
        Assert.That(x[1..3, ^1].ToArray<float>(), Is.EqualTo(new[] { 11f, 17f }), "x[1:3, -1]");
        Assert.That(x[^1, ..2].ToArray<float>(), Is.EqualTo(new[] { 18f, 19f }), "x[-1, :2]");
        Assert.That(x[.., ^2..].Shape, Is.EqualTo(new long[] { 4, 2 }), "x[:, -2:]");
        Assert.That(x[TensorIndex.Ellipsis, TensorIndex.NewAxis].Shape, Is.EqualTo(new long[] { 4, 6, 1 }));
        Assert.That(x[TensorIndex.Slice(null, null, 3), 0].ToArray<float>(), Is.EqualTo(new[] { 0f, 18f }), "x[::3, 0]");
        Assert.That(x[x.Gt(20.0)].ToArray<float>(), Is.EqualTo(new[] { 21f, 22f, 23f }), "x[x > 20]");
        // Views share storage: writing into one writes into x.
        x[.., 0] = Torch.Full(Array.Empty<long>(), -1);
        x[2][3] = Torch.Full(Array.Empty<long>(), 100);
        x.IndexPut_(-2, 0, 1..3);
        var row = x.Index(0);
        row.Fill_(9);
        Assert.That(x.Index(0).ToArray<float>(), Is.EqualTo(Enumerable.Repeat(9f, 6)));
        Assert.That(x.Index(.., 0).ToArray<float>(), Is.EqualTo(new[] { 9f, -1f, -1f, -1f }));
        Assert.That(x[2, 3].ToDouble(), Is.EqualTo(100));
        var ex = Assert.Throws<TorchException>(() => x.Index(0, 0, 0));
        Assert.That(ex!.Op, Is.EqualTo("index"));
        Assert.That(ex.Message, Does.Contain("[4, 6] float32"));
    }

    [Test]
    public void IndexLeavesNoHandlesBehind()
    {
        GC.Collect(); GC.WaitForPendingFinalizers();
        long before = Tensor.LiveCount;
        using (var scope = DisposeScope.Enter())
        {
            var x = Torch.Randn(new long[] { 3, 4 });
            var m = x.Gt(0.0);
            _ = x[.., 1..3];
            _ = x[m];
            x[m] = Torch.Zeros(Array.Empty<long>());
            _ = x.Sort(1);
            _ = x.Median();
            _ = x.Quantile(0.25, 1);
            _ = x.Nonzero();
        }
        Assert.That(Tensor.LiveCount, Is.EqualTo(before));
    }
}
