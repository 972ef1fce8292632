using System.Text;

namespace Dsl.Data.Tests.Sets;

/// <summary>CSV tables and MAGIC: parsing, labels, and cells that are not finite numbers or hold NUL characters.</summary>
[TestFixture]
public class CsvTests : DataTestBase
{
    string WriteCsv(string name, string text)
    {
        var path = PathIn(name);
        File.WriteAllText(path, text, new UTF8Encoding(false));
        return path;
    }

    [Test]
    public void LoadsFeaturesAndLabels()
    {
        var path = WriteCsv("t.csv", "a,b,label\n1.5,-2,cat\n\n3e2, 4 ,dog\n0,0,cat\n");
        using var t = Csv.Load(path, hasHeader: true);
        Assert.That(t.Features.Shape, Is.EqualTo(new long[] { 3, 2 }));
        Assert.That(t.Features.ToArray<float>(), Is.EqualTo(new[] { 1.5f, -2, 300, 4, 0, 0 }));
        Assert.That(t.Labels.ToArray<long>(), Is.EqualTo(new long[] { 0, 1, 0 }));
        Assert.That(t.ClassNames, Is.EqualTo(new[] { "cat", "dog" }));
        Assert.That(t.FeatureNames, Is.EqualTo(new[] { "a", "b" }));
        Assert.That(t.SkippedLines, Is.Empty);
    }

    [TestCase("NaN", "not a finite number")]
    [TestCase("nan", "not a finite number")]
    [TestCase("Infinity", "not a finite number")]
    [TestCase("-Infinity", "not a finite number")]
    [TestCase("1e400", "outside the float32 range")]
    [TestCase("-4e38", "outside the float32 range")]
    public void NonFiniteCellsAreErrorsByDefault(string cell, string why)
    {
        var path = WriteCsv("nonfinite.csv", $"1,2,g\n3,{cell},h\n");
        var e = Assert.Throws<InvalidDataException>(() => Csv.Load(path))!;
        Names(e, path, "line 2", "column 2", $"'{cell}'", why, "NonFinite");
    }

    [Test]
    public void NonFiniteOptionSkipsOrKeepsRows()
    {
        var path = WriteCsv("nonfinite.csv", "1,2,g\n3,NaN,h\n5,1e400,x\n7,8,h\n");
        using var skipped = Csv.Load(path, nonFinite: NonFinite.SkipRow);
        Assert.That(skipped.Features.ToArray<float>(), Is.EqualTo(new float[] { 1, 2, 7, 8 }));
        Assert.That(skipped.Labels.ToArray<long>(), Is.EqualTo(new long[] { 0, 1 }));
        Assert.That(skipped.ClassNames, Is.EqualTo(new[] { "g", "h" }), "a skipped row's label is not a class");
        Assert.That(skipped.SkippedLines, Is.EqualTo(new[] { 2, 3 }));
        using var kept = Csv.Load(path, nonFinite: NonFinite.Keep);
        var x = kept.Features.ToArray<float>();
        Assert.That(float.IsNaN(x[3]) && float.IsPositiveInfinity(x[5]), Is.True, "NaN and the overflow (+inf) are kept");
        Assert.That(kept.Labels.ToArray<long>(), Is.EqualTo(new long[] { 0, 1, 2, 1 }));
        var all = WriteCsv("all.csv", "NaN,1,g\n");
        Names(Assert.Throws<InvalidDataException>(() => Csv.Load(all, nonFinite: NonFinite.SkipRow))!, all, "no data rows", "1 row(s) skipped");
        Assert.Throws<ArgumentException>(() => Csv.Load(path, nonFinite: (NonFinite)7));
    }

    [TestCase("1,2\0,g\n", 1, 2)]
    [TestCase("1,2,g\n3,4,h\0\0\0\n", 2, 3)]
    [TestCase("1,2,g\n\0\0\0\0\n", 2, 1)]
    public void NulCharactersAreAlwaysErrors(string text, int line, int column)
    {
        var path = WriteCsv("nul.csv", text);
        foreach (var mode in Enum.GetValues<NonFinite>())
            Names(Assert.Throws<InvalidDataException>(() => Csv.Load(path, nonFinite: mode))!, path, $"line {line}", $"column {column}", "NUL", "corrupt");
    }

    /// <summary>MAGIC-shaped rows: 10 features and the label; <paramref name="g"/> gammas, then <paramref name="h"/> hadrons.</summary>
    string WriteMagic(int g, int h)
    {
        var sb = new StringBuilder();
        for (int i = 0; i < g + h; i++)
            sb.Append(string.Join(",", Enumerable.Range(0, 10).Select(k => (i + 0.25 * k).ToString(System.Globalization.CultureInfo.InvariantCulture)))).Append(i < g ? ",g\n" : ",h\n");
        return WriteCsv("magic04.data", sb.ToString());
    }

    [Test]
    public void MagicChecksTheRowCountAndBalanceUnlessNotStrict()
    {
        var cut = WriteMagic(60, 40);
        Names(Assert.Throws<InvalidDataException>(() => Magic.Load(cut))!, cut, "100 rows", "19020", "strict: false");
        using (var small = Magic.Load(cut, strict: false))
        {
            Assert.That(small.Features.Shape, Is.EqualTo(new long[] { 100, 10 }));
            Assert.That(small.Labels.ToArray<long>().Count(l => l == 1), Is.EqualTo(40));
            Assert.That(small.ClassNames, Is.EqualTo(new[] { "g", "h" }));
        }
        var full = WriteMagic(12332, 6688);
        using (var t = Magic.Load(full))
            Assert.That(t.Features.Shape, Is.EqualTo(new long[] { 19020, 10 }));
        var skewed = WriteMagic(12000, 7020);
        Names(Assert.Throws<InvalidDataException>(() => Magic.Load(skewed))!, skewed, "12000 g", "7020 h", "12332 g", "6688 h");
    }
}
