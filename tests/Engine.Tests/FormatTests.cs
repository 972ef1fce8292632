using System.Text.Json;
using NUnit.Framework;

namespace Dsl.Engine.Tests;

/// <summary>
/// Tensor printing against PyTorch 1.13: for each case of tests/fixtures/format.json (made by
/// make_format_fixtures.py) the engine prints exactly the string of torch's repr() — fixed, integer and
/// scientific modes, widths, line wrapping, summarised dimensions, dtypes and empty tensors — and
/// <c>ToString()</c> adds shape, dtype and requires_grad to the same values.
/// </summary>
[TestFixture]
public class FormatTests
{
    sealed record Case(string Name, string DType, long[] Shape, bool RequiresGrad, JsonElement Values, string Repr)
    {
        public override string ToString() => Name;
    }

    static readonly Lazy<Case[]> cases = new(() =>
    {
        var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "fixtures", "format.json")));
        return doc.RootElement.GetProperty("reprs").EnumerateArray().Select(c => new Case(
            c.GetProperty("name").GetString()!,
            c.GetProperty("dtype").GetString()!,
            c.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray(),
            c.GetProperty("requires_grad").GetBoolean(),
            c.GetProperty("values"),
            c.GetProperty("repr").GetString()!)).ToArray();
    });

    public static IEnumerable<TestCaseData> Cases() => cases.Value.Select(c => new TestCaseData(c).SetName("Repr_" + c.Name));

    static DType Parse(string name) => Enum.GetValues<DType>().Single(d => d.Name() == name);

    static Tensor Make(Case c)
    {
        var dtype = Parse(c.DType);
        Tensor t;
        if (dtype.IsFloating())
        {
            var v = c.Values.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.String ? double.Parse(e.GetString()!.Replace("inf", "Infinity"), System.Globalization.CultureInfo.InvariantCulture) : e.GetDouble()).ToArray();
            using var d = Torch.From(v, v.Length);
            using var r = d.Reshape(c.Shape);
            t = r.To(dtype, copy: true);
        }
        else
        {
            var v = c.Values.EnumerateArray().Select(e => e.GetInt64()).ToArray();
            using var l = Torch.From(v, v.Length);
            using var r = l.Reshape(c.Shape);
            t = r.To(dtype, copy: true);
        }
        if (c.RequiresGrad) t.RequiresGrad = true;
        return t;
    }

    [TestCaseSource(nameof(Cases))]
    public void PrintsAsPyTorch(object boxed)
    {
        var c = (Case)boxed;
        using var t = Make(c);
        Assert.That(TensorFormat.PyTorch(t), Is.EqualTo(c.Repr));
    }

    [Test]
    public void ToStringAddsShapeDtypeAndRequiresGrad()
    {
        using var t = Torch.From(new float[] { 1.5f, -2f, 0.25f, 4f }, 2, 2);
        Assert.That(t.ToString(), Is.EqualTo("tensor([[ 1.5000, -2.0000],\n        [ 0.2500,  4.0000]], shape=[2, 2], dtype=float32)"));
        t.RequiresGrad = true;
        Assert.That(t.ToString(), Does.EndWith("shape=[2, 2], dtype=float32, requires_grad=True)"));
    }

    [Test]
    public void PrintingAHugeTensorCopiesOnlyItsEdges()
    {
        long before = Tensor.LiveCount;
        using var big = Torch.Zeros(new long[] { 3000, 4000 });
        var s = big.ToString();
        Assert.That(s, Does.StartWith("tensor([[0., 0., 0.,  ..., 0., 0., 0.],"));
        Assert.That(s, Does.EndWith("shape=[3000, 4000], dtype=float32)"));
        Assert.That(s.Split('\n'), Has.Length.EqualTo(7), "3 rows, the ellipsis row and 3 rows");
        big.Dispose();
        Assert.That(Tensor.LiveCount, Is.EqualTo(before), "the summary's temporary tensors are freed");
    }
}
