namespace Dsl.Data.Tests.Sets;

/// <summary>
/// Class-per-folder images (seed 003's cats/cows/crabs/avocados; Imagenette's train/val layout), written by
/// the test as real PNG and JPEG files: class order, labels, lazy and eager loading, and bad files.
/// </summary>
[TestFixture]
public class ImageFolderTests : DataTestBase
{
    static readonly string[] Classes = { "cats", "cows", "crabs", "avocados" };

    /// <summary>root/&lt;class&gt;/img_k.png|jpg: two PNGs and one JPEG per class, of size h x w (class c, image k has seed 50c + k).</summary>
    string MakeFolder(string name = "train", int h = 12, int w = 10)
    {
        var root = Path.Combine(Dir, name);
        for (int c = 0; c < Classes.Length; c++)
        {
            for (int k = 0; k < 3; k++)
            {
                var ext = k == 2 ? "jpg" : "png";
                Image.Write(PathIn(name, Classes[c], $"img_{k}.{ext}"), Pattern(3, h, w, seed: 50 * c + k));
            }
        }
        return root;
    }

    [Test]
    public void ClassesAreSortedAndLabelsFollowThem()
    {
        var root = MakeFolder();
        File.WriteAllText(Path.Combine(root, "cats", "notes.txt"), "not an image");
        File.WriteAllBytes(Path.Combine(root, "cats", ".hidden.png"), new byte[] { 1 });
        var ds = ImageFolder.Open(root);
        Assert.That(ds.ClassNames, Is.EqualTo(new[] { "avocados", "cats", "cows", "crabs" }));
        Assert.That(ds.Count, Is.EqualTo(12));
        Assert.That(ds.Ignored.Select(Path.GetFileName), Is.EquivalentTo(new[] { ".hidden.png", "notes.txt" }));
        Assert.That(ds.Samples.Select(s => s.Label), Is.EqualTo(new long[] { 0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3 }));
        Assert.That(ds.Samples.Select(s => Path.GetFileName(s.Path)).Take(3), Is.EqualTo(new[] { "img_0.png", "img_1.png", "img_2.jpg" }));
    }

    [Test]
    public void LazyGetDecodesOneImage()
    {
        var ds = ImageFolder.Open(MakeFolder());
        var (img, label) = ds.Get(4);          // label 1 = cats, its second file (written with seed 50 * 0 + 1)
        Assert.That(label, Is.EqualTo(1));
        Assert.That(Path.GetFileName(ds.Samples[4].Path), Is.EqualTo("img_1.png"));
        Assert.That(img.Shape, Is.EqualTo(new long[] { 3, 12, 10 }));
        Assert.That(img.ToArray<byte>(), Is.EqualTo(Pattern(3, 12, 10, seed: 1).ToArray<byte>()), "PNG is lossless");
        var (jpg, _) = ds[5];
        Assert.That(jpg.Shape, Is.EqualTo(new long[] { 3, 12, 10 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => ds.Get(12));
        var gray = ImageFolder.Open(Path.Combine(Dir, "train"), ImageOptions.Resize(6, 5, grayscale: true)).Get(0).Image;
        Assert.That(gray.Shape, Is.EqualTo(new long[] { 1, 6, 5 }));
    }

    [Test]
    public void EagerLoadMatchesLazyGet()
    {
        var ds = ImageFolder.Open(MakeFolder(), ImageOptions.Resize(8, 8));
        using var all = ds.Load();
        Assert.That(all.Images.Shape, Is.EqualTo(new long[] { 12, 3, 8, 8 }));
        Assert.That(all.Labels.DType, Is.EqualTo(DType.Int64));
        Assert.That(all.Labels.ToArray<long>(), Is.EqualTo(ds.Samples.Select(s => s.Label).ToArray()));
        Assert.That(all.ClassNames, Is.EqualTo(ds.ClassNames));
        for (int i = 0; i < ds.Count; i++)
            Assert.That(all.Images[i].ToArray<byte>(), Is.EqualTo(ds.Get(i).Image.ToArray<byte>()), $"image {i}");
        using var serial = ds.Load(parallel: false);
        Assert.That(serial.Images.ToArray<byte>(), Is.EqualTo(all.Images.ToArray<byte>()));
        var (batch, labels) = ds.GetBatch(new[] { 11, 0, 5 });
        Assert.That(batch.Shape, Is.EqualTo(new long[] { 3, 3, 8, 8 }));
        Assert.That(labels.ToArray<long>(), Is.EqualTo(new long[] { 3, 0, 1 }));
        Assert.That(batch[0].ToArray<byte>(), Is.EqualTo(all.Images[11].ToArray<byte>()));
    }

    [Test]
    public void EagerLoadWithoutSizeNeedsEqualSizes()
    {
        var root = MakeFolder();
        using (var same = ImageFolder.Open(root).Load())
            Assert.That(same.Images.Shape, Is.EqualTo(new long[] { 12, 3, 12, 10 }));
        var odd = PathIn("train", "crabs", "odd.png");
        Image.Write(odd, Pattern(3, 9, 10));
        var e = Assert.Throws<InvalidDataException>(() => ImageFolder.Open(root).Load())!;
        Names(e, odd, "10 x 9", "give a size");
        using var resized = ImageFolder.Open(root, ImageOptions.Resize(12, 10)).Load();
        Assert.That(resized.Images.Shape, Is.EqualTo(new long[] { 13, 3, 12, 10 }));
    }

    [Test]
    public void CorruptAndTruncatedFilesAreNamed()
    {
        var root = MakeFolder(h: 32, w: 32);
        var bad = PathIn("train", "cows", "img_1.png");
        Truncate(bad, 100);
        var ds = ImageFolder.Open(root, ImageOptions.Resize(8, 8));
        Names(Assert.Throws<InvalidDataException>(() => ds.Get(ds.Samples.ToList().FindIndex(s => s.Path == bad)))!, bad, "truncated PNG");
        Names(Assert.Throws<InvalidDataException>(() => ds.Load())!, bad, "truncated PNG");
        var junk = PathIn("train", "avocados", "img_9.jpg");
        File.WriteAllText(junk, "<html>404 Not Found</html>");
        Names(Assert.Throws<InvalidDataException>(() => ImageFolder.Open(root, ImageOptions.Resize(8, 8)).Load(parallel: false))!, junk, "not an image");
    }

    [Test]
    public void LayoutErrors()
    {
        var missing = Path.Combine(Dir, "nowhere");
        Names(Assert.Throws<DirectoryNotFoundException>(() => ImageFolder.Open(missing))!, missing, "no folder");
        var flat = PathIn("flat", "a.png");
        Image.Write(flat, Pattern(3, 4, 4));
        Names(Assert.Throws<InvalidDataException>(() => ImageFolder.Open(Path.GetDirectoryName(flat)!))!, "flat", "no class sub-folders");
        var root = MakeFolder();
        Directory.CreateDirectory(Path.Combine(root, "empty_class"));
        Names(Assert.Throws<InvalidDataException>(() => ImageFolder.Open(root))!, "empty_class", "no image files");
    }

    [Test]
    public void SymlinkLoopsAndRepeatsAreNotFollowed()
    {
        var root = MakeFolder();
        var cats = Path.Combine(root, "cats");
        var loop = Path.Combine(cats, "sub");
        Directory.CreateSymbolicLink(loop, cats);                                  // cats/sub -> cats: a loop
        var sideways = Path.Combine(cats, "cows");
        Directory.CreateSymbolicLink(sideways, "../cows");                         // another class folder, reached again
        var again = Path.Combine(cats, "again.png");
        File.CreateSymbolicLink(again, "img_0.png");                               // the same file twice
        Image.Write(PathIn("outside", "o.png"), Pattern(3, 12, 10));
        Directory.CreateSymbolicLink(Path.Combine(cats, "extra"), Path.Combine(Dir, "outside"));   // outside the tree: followed
        Directory.CreateSymbolicLink(Path.Combine(Dir, "outside", "back"), Path.Combine(Dir, "outside"));
        var ds = ImageFolder.Open(root);
        Assert.That(ds.Count, Is.EqualTo(13), "12 images and the one outside the tree, each once");
        Assert.That(ds.Samples.Select(s => s.Label), Is.EqualTo(new long[] { 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 3, 3, 3 }));
        Assert.That(ds.Samples.Where(s => s.Label == 1).Select(s => Path.GetRelativePath(cats, s.Path)),
                    Is.EqualTo(new[] { Path.Combine("extra", "o.png"), "img_0.png", "img_1.png", "img_2.jpg" }));
        Assert.That(ds.Ignored, Is.SupersetOf(new[] { loop, sideways, again, Path.Combine(cats, "extra", "back") }));
        using (var all = ds.Load()) Assert.That(all.Count, Is.EqualTo(13));

        var stolen = Path.Combine(root, "crabs", "stolen.png");
        File.CreateSymbolicLink(stolen, Path.Combine(cats, "img_1.png"));          // one file in two classes
        Names(Assert.Throws<InvalidDataException>(() => ImageFolder.Open(root))!, stolen, "img_1.png", "cats", "crabs", "same file");
    }

    [Test]
    public void GivenClassNamesAlignSplits()
    {
        var train = MakeFolder("train");
        Image.Write(PathIn("val", "crabs", "v.png"), Pattern(3, 12, 10));
        var trainSet = ImageFolder.Open(train);
        var val = ImageFolder.Open(Path.Combine(Dir, "val"), classNames: trainSet.ClassNames);
        Assert.That(val.ClassNames, Is.EqualTo(trainSet.ClassNames));
        Assert.That(val.Samples.Single().Label, Is.EqualTo(3), "crabs keeps its training label");
        Image.Write(PathIn("val", "dogs", "d.png"), Pattern(3, 12, 10));
        Names(Assert.Throws<InvalidDataException>(() => ImageFolder.Open(Path.Combine(Dir, "val"), classNames: trainSet.ClassNames))!, "dogs", "not among");
    }

    [Test]
    public void ImagenetteLayout()
    {
        var root = Path.Combine(Dir, "imagenette2-160");
        foreach (var split in new[] { "train", "val" })
            for (int c = 0; c < 10; c += 3)
                Image.Write(PathIn("imagenette2-160", split, Imagenette.WordNetIds[c], $"ILSVRC2012_val_{c:D8}.JPEG"), Pattern(3, 160, 213, seed: c));
        var train = Imagenette.Open(root, train: true, ImageOptions.Resize(64, 64, fit: ImageFit.Cover));
        Assert.That(train.ClassNames, Is.EqualTo(Imagenette.WordNetIds));
        Assert.That(train.Samples.Select(s => s.Label), Is.EqualTo(new long[] { 0, 3, 6, 9 }));
        Assert.That(Imagenette.Names[(int)train.Samples[3].Label], Is.EqualTo("parachute"));
        using var val = Imagenette.Open(Dir, train: false, ImageOptions.Resize(64, 64, fit: ImageFit.Cover)).Load();
        Assert.That(val.Images.Shape, Is.EqualTo(new long[] { 4, 3, 64, 64 }));
        Names(Assert.Throws<DirectoryNotFoundException>(() => Imagenette.Open(Path.Combine(root, "train")))!, "train", "no train/ or val/");
    }
}
