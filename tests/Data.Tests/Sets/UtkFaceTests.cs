namespace Dsl.Data.Tests.Sets;

/// <summary>UTKFace: labels from file names, malformed names reported and skipped, lazy and eager loading.</summary>
[TestFixture]
public class UtkFaceTests : DataTestBase
{
    [TestCase("100_0_0_20170112213500903.jpg.chip.jpg", 100, 0, 0, "20170112213500903")]
    [TestCase("1_1_4_20161221193016140.jpg", 1, 1, 4, "20161221193016140")]
    [TestCase("/data/UTKFace/116_1_3_20170120134744096.jpg.chip.jpg", 116, 1, 3, "20170120134744096")]
    [TestCase("0_0_2_20161219140623097.JPG", 0, 0, 2, "20161219140623097")]
    public void ParsesWellFormedNames(string name, int age, int gender, int race, string stamp)
    {
        var label = UtkFace.ParseName(name, out var reason);
        Assert.That(reason, Is.Null);
        Assert.That(label, Is.EqualTo(new UtkFaceLabel(age, gender, race, stamp)));
    }

    // The first three are real malformed names from the aligned UTKFace set (the race is missing).
    [TestCase("39_1_20170116174525125.jpg.chip.jpg", "3 underscore-separated fields")]
    [TestCase("61_1_20170109142408075.jpg.chip.jpg", "3 underscore-separated fields")]
    [TestCase("61_3_20170109150557335.jpg.chip.jpg", "3 underscore-separated fields")]
    [TestCase("53__0_20170116184028385.jpg.chip.jpg", "gender field '' is not a whole number")]
    [TestCase("53_0_0_1_20170116184028385.jpg.chip.jpg", "5 underscore-separated fields")]
    [TestCase("117_0_0_20170112213500903.jpg.chip.jpg", "age 117 is outside 0..116")]
    [TestCase("25_2_0_20170112213500903.jpg", "gender 2 is outside 0..1")]
    [TestCase("25_0_5_20170112213500903.jpg", "race 5 is outside 0..4")]
    [TestCase("abc_0_0_20170112213500903.jpg", "age field 'abc' is not a whole number")]
    [TestCase("-3_0_0_20170112213500903.jpg", "age field '-3' is not a whole number")]
    [TestCase("25_0_0_.jpg", "date&time field '' is not a string of digits")]
    [TestCase("25_0_0_2017-01-12.jpg", "date&time field '2017-01-12'")]
    [TestCase("25_0_0_20170112213500903.txt", "not an image name")]
    public void RejectsMalformedNamesWithAReason(string name, string why)
    {
        var label = UtkFace.ParseName(name, out var reason);
        Assert.That(label, Is.Null);
        Assert.That(reason, Does.Contain(why));
        Assert.That(reason, Does.Contain(name));
    }

    [Test]
    public void OpenSkipsAndReportsMalformedFiles()
    {
        string[] good = { "100_0_0_20170112213500903.jpg.chip.jpg", "26_1_2_20170116174525125.jpg.chip.jpg", "3_0_4_20161219140623097.jpg.chip.jpg" };
        string[] bad = { "39_1_20170116174525125.jpg.chip.jpg", "117_0_0_20170112213500903.jpg.chip.jpg" };
        for (int i = 0; i < good.Length; i++) Image.Write(PathIn("UTKFace", good[i]), Pattern(3, 20, 20, seed: i));
        foreach (var b in bad) Image.Write(PathIn("UTKFace", b), Pattern(3, 20, 20));
        File.WriteAllText(PathIn("UTKFace", "README.txt"), "not an image, not reported");
        var ds = UtkFace.Open(Path.Combine(Dir, "UTKFace"), ImageOptions.Resize(8, 8));
        Assert.That(ds.Count, Is.EqualTo(3));
        Assert.That(ds.Skipped.Select(s => Path.GetFileName(s.Path)), Is.EquivalentTo(bad));
        Assert.That(ds.Skipped.Single(s => s.Path.Contains("117_")).Reason, Does.Contain("age 117"));
        Assert.That(ds.Skipped.Single(s => s.Path.Contains("39_")).Reason, Does.Contain("3 underscore-separated fields"));
        // sorted by path: "100_..." < "26_..." < "3_..."
        Assert.That(ds.Labels.Select(l => l.Age), Is.EqualTo(new[] { 100, 26, 3 }));
        var (img, label) = ds.Get(1);
        Assert.That(img.Shape, Is.EqualTo(new long[] { 3, 8, 8 }));
        Assert.That(label, Is.EqualTo(new UtkFaceLabel(26, 1, 2, "20170116174525125")));
        using var all = ds.Load();
        Assert.That(all.Images.Shape, Is.EqualTo(new long[] { 3, 3, 8, 8 }));
        Assert.That(all.Ages.ToArray<long>(), Is.EqualTo(new long[] { 100, 26, 3 }));
        Assert.That(all.Genders.ToArray<long>(), Is.EqualTo(new long[] { 0, 1, 0 }));
        Assert.That(all.Races.ToArray<long>(), Is.EqualTo(new long[] { 0, 2, 4 }));
        Assert.That(UtkFace.RaceNames[4], Is.EqualTo("Others"));
        Assert.That(UtkFace.GenderNames[1], Is.EqualTo("female"));
    }

    [Test]
    public void SubsetSampleAndChunksReadTheChosenImages()
    {
        for (int i = 0; i < 7; i++) Image.Write(PathIn("UTKFace", $"{10 + i}_{i % 2}_{i % 5}_2017011221350090{i}.jpg"), Pattern(3, 6, 6, seed: i));
        var ds = UtkFace.Open(Path.Combine(Dir, "UTKFace"), ImageOptions.Resize(4, 4));
        var sub = ds.Subset(new[] { 5, 0, 3 });
        Assert.That(sub.Labels.Select(l => l.Age), Is.EqualTo(new[] { 15, 10, 13 }));
        using (var all = sub.Load()) Assert.That(all.Images.Shape, Is.EqualTo(new long[] { 3, 3, 4, 4 }));
        var a = ds.Sample(5, seed: 3);
        Assert.That(a.Files, Is.EqualTo(ds.Sample(5, seed: 3).Files), "the same seed gives the same subset");
        Assert.That(a.Files.Distinct().Count(), Is.EqualTo(5), "without replacement");
        Assert.That(ds.Sample(7, seed: 4).Files.OrderBy(f => f), Is.EqualTo(ds.Files.OrderBy(f => f)));
        var sizes = new List<long>();
        var ages = new List<long>();
        using var whole = ds.Load();
        var pixels = new List<byte>();
        foreach (var chunk in ds.Chunks(3))
            using (chunk)
            {
                sizes.Add(chunk.Count);
                ages.AddRange(chunk.Ages.ToArray<long>());
                pixels.AddRange(chunk.Images.ToArray<byte>());
            }
        Assert.That(sizes, Is.EqualTo(new long[] { 3, 3, 1 }));
        Assert.That(ages, Is.EqualTo(whole.Ages.ToArray<long>()));
        Assert.That(pixels, Is.EqualTo(whole.Images.ToArray<byte>()), "chunks decode the same pixels as one Load");
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => ds.Subset(new[] { 7 }))!.Message, Does.Contain("index 7 is outside 0..6"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => ds.Sample(8, 1))!.Message, Does.Contain("ask for 1..7"));
        Assert.That(Assert.Throws<ArgumentOutOfRangeException>(() => ds.Chunks(0))!.Message, Does.Contain("chunk size 0"));
    }

    [Test]
    public void SymlinkLoopsAndRepeatsAreNotFollowed()
    {
        var root = Path.Combine(Dir, "UTKFace");
        Image.Write(PathIn("UTKFace", "part1", "20_0_1_20170112213500903.jpg"), Pattern(3, 8, 8));
        Image.Write(PathIn("UTKFace", "part2", "30_1_2_20170112213500904.jpg"), Pattern(3, 8, 8));
        var loop = Path.Combine(root, "part1", "up");
        Directory.CreateSymbolicLink(loop, root);                                  // part1/up -> UTKFace: a loop
        var copy = Path.Combine(root, "part2", "20_0_1_20170112213500999.jpg");
        File.CreateSymbolicLink(copy, "../part1/20_0_1_20170112213500903.jpg");
        var ds = UtkFace.Open(root, ImageOptions.Resize(8, 8));
        Assert.That(ds.Files.Select(f => Path.GetRelativePath(root, f)),
                    Is.EqualTo(new[] { Path.Combine("part1", "20_0_1_20170112213500903.jpg"), Path.Combine("part2", "30_1_2_20170112213500904.jpg") }));
        Assert.That(ds.Skipped.Select(s => s.Path), Is.EquivalentTo(new[] { loop, copy }));
        Assert.That(ds.Skipped.Single(s => s.Path == loop).Reason, Does.Contain("symbolic link").And.Contain("already"));
        Assert.That(ds.Skipped.Single(s => s.Path == copy).Reason, Does.Contain("20_0_1_20170112213500903.jpg"));
    }

    [Test]
    public void FolderErrors()
    {
        var missing = Path.Combine(Dir, "UTKFace");
        Names(Assert.Throws<DirectoryNotFoundException>(() => UtkFace.Open(missing))!, "UTKFace", "no folder", UtkFace.HomePage);
        Image.Write(PathIn("UTKFace", "face.jpg"), Pattern(3, 4, 4));
        Names(Assert.Throws<InvalidDataException>(() => UtkFace.Open(missing))!, "UTKFace", "no image named", "1 image(s) skipped");
        var broken = PathIn("UTKFace", "20_0_1_20170112213500903.jpg.chip.jpg");
        File.WriteAllBytes(broken, File.ReadAllBytes(Fixture("red_blue_16x8.jpg"))[..300]);
        var ds = UtkFace.Open(missing, ImageOptions.Resize(8, 8));
        Names(Assert.Throws<InvalidDataException>(() => ds.Get(0))!, broken, "JPEG");
        Names(Assert.Throws<InvalidDataException>(() => ds.Load())!, broken, "JPEG");
    }
}
