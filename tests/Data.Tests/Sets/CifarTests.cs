using System.Formats.Tar;
using System.IO.Compression;
using System.Text;

namespace Dsl.Data.Tests.Sets;

/// <summary>
/// CIFAR-10 and CIFAR-100 binary versions, on small files in the exact on-disk format written by the test
/// (record layout, folder and archive names as in cifar-10-binary.tar.gz and cifar-100-binary.tar.gz).
/// </summary>
[TestFixture]
public class CifarTests : DataTestBase
{
    const int Pixels = 3072;

    /// <summary>Records of <paramref name="labels"/> (one array of label bytes per record) and pixels (31 r + i) mod 256 for record r.</summary>
    static byte[] Records(IReadOnlyList<byte[]> labels, int first = 0)
    {
        int lb = labels[0].Length, size = lb + Pixels;
        var bytes = new byte[labels.Count * size];
        for (int r = 0; r < labels.Count; r++)
        {
            labels[r].CopyTo(bytes, r * size);
            for (int i = 0; i < Pixels; i++) bytes[r * size + lb + i] = (byte)((31 * (first + r) + i) % 256);
        }
        return bytes;
    }

    static byte Pixel(int record, int c, int y, int x) => (byte)((31 * record + c * 1024 + y * 32 + x) % 256);

    static readonly string Meta10 = string.Join("\n", Cifar10.ClassNames) + "\n\n";

    /// <summary>The CIFAR-10 files: data_batch_k with 3 records each (labels (3(k-1) + j) mod 10), test_batch with 2.</summary>
    static Dictionary<string, byte[]> Cifar10Files()
    {
        var files = new Dictionary<string, byte[]>();
        for (int k = 1; k <= 5; k++)
            files[$"data_batch_{k}.bin"] = Records(Enumerable.Range(0, 3).Select(j => new[] { (byte)((3 * (k - 1) + j) % 10) }).ToList(), first: 3 * (k - 1));
        files["test_batch.bin"] = Records(new[] { new byte[] { 9 }, new byte[] { 0 } });
        files["batches.meta.txt"] = Encoding.ASCII.GetBytes(Meta10);
        return files;
    }

    static Dictionary<string, byte[]> Cifar100Files()
    {
        var files = new Dictionary<string, byte[]>
        {
            ["train.bin"] = Records(Enumerable.Range(0, 4).Select(j => new[] { (byte)(19 - j), (byte)(99 - 10 * j) }).ToList()),
            ["test.bin"] = Records(new[] { new byte[] { 0, 0 } }),
            ["fine_label_names.txt"] = Encoding.ASCII.GetBytes(string.Join("\n", Cifar100.ClassNames) + "\n"),
            ["coarse_label_names.txt"] = Encoding.ASCII.GetBytes(string.Join("\n", Cifar100.CoarseClassNames) + "\n"),
        };
        return files;
    }

    string WriteFolder(string folder, Dictionary<string, byte[]> files)
    {
        foreach (var (name, bytes) in files) File.WriteAllBytes(PathIn(folder, name), bytes);
        return Path.Combine(Dir, folder);
    }

    /// <summary>A .tar.gz as the official one: a directory entry, then the files under it (GNU tar format).</summary>
    string WriteArchive(string archiveName, string folder, Dictionary<string, byte[]> files, bool gzip = true)
    {
        var path = PathIn(archiveName);
        using var file = File.Create(path);
        using Stream outer = gzip ? new GZipStream(file, CompressionLevel.Fastest) : file;
        using (var tar = new TarWriter(outer, TarEntryFormat.Gnu, leaveOpen: true))
        {
            tar.WriteEntry(new GnuTarEntry(TarEntryType.Directory, folder + "/"));
            foreach (var (name, bytes) in files)
                tar.WriteEntry(new GnuTarEntry(TarEntryType.RegularFile, $"{folder}/{name}") { DataStream = new MemoryStream(bytes) });
        }
        return path;
    }

    static void CheckCifar10Train(LabeledImages d)
    {
        Assert.That(d.Images.Shape, Is.EqualTo(new long[] { 15, 3, 32, 32 }));
        Assert.That(d.Images.DType, Is.EqualTo(DType.UInt8));
        Assert.That(d.Labels.DType, Is.EqualTo(DType.Int64));
        Assert.That(d.Labels.ToArray<long>(), Is.EqualTo(Enumerable.Range(0, 15).Select(i => (long)(i % 10)).ToArray()));
        Assert.That(d.ClassNames, Is.EqualTo(Cifar10.ClassNames));
        var px = d.Images.ToArray<byte>();
        foreach (var (r, c, y, x) in new[] { (0, 0, 0, 0), (4, 1, 5, 7), (14, 2, 31, 31), (9, 0, 17, 3) })
            Assert.That(px[((r * 3 + c) * 32 + y) * 32 + x], Is.EqualTo(Pixel(r, c, y, x)), $"record {r} channel {c} ({y}, {x})");
    }

    [Test]
    public void Cifar10FromFolderAndArchive()
    {
        var files = Cifar10Files();
        var folder = WriteFolder("cifar-10-batches-bin", files);
        using (var d = Cifar10.Load(folder, train: true, strict: false)) CheckCifar10Train(d);
        using (var d = Cifar10.Load(Dir, train: true, strict: false)) CheckCifar10Train(d);     // the parent of the folder
        var archive = WriteArchive("cifar-10-binary.tar.gz", "cifar-10-batches-bin", files);
        using (var d = Cifar10.Load(archive, train: true, strict: false)) CheckCifar10Train(d);
        using var test = Cifar10.Load(archive, train: false, strict: false);
        Assert.That(test.Labels.ToArray<long>(), Is.EqualTo(new long[] { 9, 0 }));
        Assert.That(test.Images.Shape, Is.EqualTo(new long[] { 2, 3, 32, 32 }));
        var plainTar = WriteArchive("cifar-10-binary.tar", "cifar-10-batches-bin", files, gzip: false);
        using var fromTar = Cifar10.Load(plainTar, train: false, strict: false);
        Assert.That(fromTar.Count, Is.EqualTo(2));
    }

    [Test]
    public void Cifar10StrictCountsAndMeta()
    {
        var files = Cifar10Files();
        files.Remove("batches.meta.txt");
        var folder = WriteFolder("cifar-10-batches-bin", files);
        Names(Assert.Throws<InvalidDataException>(() => Cifar10.Load(folder))!, "data_batch_1.bin", "3 records", "10000", "strict");
        // a full-size test batch passes the strict check; without batches.meta.txt the built-in names are used
        File.WriteAllBytes(Path.Combine(folder, "test_batch.bin"), Records(Enumerable.Range(0, 10_000).Select(i => new[] { (byte)(i % 10) }).ToList()));
        using var full = Cifar10.Load(folder, train: false);
        Assert.That(full.Images.Shape, Is.EqualTo(new long[] { 10_000, 3, 32, 32 }));
        Assert.That(full.ClassNames, Is.EqualTo(Cifar10.ClassNames));
        File.WriteAllText(Path.Combine(folder, "batches.meta.txt"), "cat\ndog\n");
        Names(Assert.Throws<InvalidDataException>(() => Cifar10.Load(folder, train: false))!, "batches.meta.txt", "2 class names", "expected 10");
    }

    [Test]
    public void Cifar10BadFiles()
    {
        var folder = WriteFolder("cifar-10-batches-bin", Cifar10Files());
        var batch3 = Path.Combine(folder, "data_batch_3.bin");
        Truncate(batch3, 2 * 3073 + 100);
        Names(Assert.Throws<InvalidDataException>(() => Cifar10.Load(folder, strict: false))!, batch3, "not a whole number", "truncated");

        File.WriteAllBytes(batch3, Array.Empty<byte>());
        Names(Assert.Throws<InvalidDataException>(() => Cifar10.Load(folder, strict: false))!, batch3, "empty");

        var bad = Cifar10Files()["data_batch_3.bin"];
        bad[3073] = 17;                            // record 1's label
        File.WriteAllBytes(batch3, bad);
        Names(Assert.Throws<InvalidDataException>(() => Cifar10.Load(folder, strict: false))!, batch3, "record 1", "label 17", "0..9");

        File.Delete(batch3);
        Names(Assert.Throws<FileNotFoundException>(() => Cifar10.Load(folder, strict: false))!, batch3, "missing");

        var cifar100 = Path.Combine(folder, "test_batch.bin");
        File.WriteAllBytes(cifar100, Records(new[] { new byte[] { 1, 2 }, new byte[] { 3, 4 }, new byte[] { 5, 6 } }));
        Names(Assert.Throws<InvalidDataException>(() => Cifar10.Load(folder, train: false, strict: false))!, cifar100, "3074-byte records", "CIFAR-100");

        var nothing = Path.Combine(Dir, "elsewhere");
        Directory.CreateDirectory(nothing);
        Names(Assert.Throws<FileNotFoundException>(() => Cifar10.Load(nothing))!, "elsewhere", "cifar-10-binary.tar.gz");
        Names(Assert.Throws<FileNotFoundException>(() => Cifar10.Load(Path.Combine(Dir, "no-such")))!, "no-such", "nothing at");
    }

    [Test]
    public void Cifar10BadArchives()
    {
        var files = Cifar10Files();
        var archive = WriteArchive("cifar-10-binary.tar.gz", "cifar-10-batches-bin", files);
        var length = (int)new FileInfo(archive).Length;

        var cut = PathIn("cut", "cifar-10-binary.tar.gz");
        File.Copy(archive, cut);
        Truncate(cut, length / 2);
        Names(Assert.Throws<InvalidDataException>(() => Cifar10.Load(cut, strict: false))!, cut, "truncated");

        var html = PathIn("html", "cifar-10-binary.tar.gz");
        File.WriteAllText(html, "<!DOCTYPE html><html>moved</html>");
        Names(Assert.Throws<InvalidDataException>(() => Cifar10.Load(html, strict: false))!, html, "not a .tar.gz", "3c 21 44 4f".Replace(" ", ""), "1f 8b");

        var corrupt = PathIn("corrupt", "cifar-10-binary.tar.gz");
        var bytes = File.ReadAllBytes(archive);
        for (int i = 20; i < bytes.Length - 20; i += 7) bytes[i] ^= 0xFF;
        File.WriteAllBytes(corrupt, bytes);
        Names(Assert.Throws<InvalidDataException>(() => Cifar10.Load(corrupt, strict: false))!, corrupt, "corrupt");

        files.Remove("data_batch_5.bin");
        var partial = WriteArchive("partial.tar.gz", "cifar-10-batches-bin", files);
        Names(Assert.Throws<InvalidDataException>(() => Cifar10.Load(partial, strict: false))!, partial, "no member data_batch_5.bin");

        var python = WriteArchive("cifar-10-python.tar.gz", "cifar-10-batches-py", new Dictionary<string, byte[]> { ["data_batch_1"] = new byte[] { 0x80, 2 } });
        Names(Assert.Throws<InvalidDataException>(() => Cifar10.Load(python))!, python, "Python (pickle) version", "binary version");
    }

    [Test]
    public void Cifar100FineAndCoarseLabels()
    {
        var files = Cifar100Files();
        foreach (var source in new[] { WriteFolder("cifar-100-binary", files), WriteArchive("cifar-100-binary.tar.gz", "cifar-100-binary", files) })
        {
            using var d = Cifar100.Load(source, train: true, strict: false);
            Assert.That(d.Images.Shape, Is.EqualTo(new long[] { 4, 3, 32, 32 }));
            Assert.That(d.Labels.ToArray<long>(), Is.EqualTo(new long[] { 99, 89, 79, 69 }), "fine labels");
            Assert.That(d.CoarseLabels.ToArray<long>(), Is.EqualTo(new long[] { 19, 18, 17, 16 }), "coarse labels");
            Assert.That(d.ClassNames, Has.Count.EqualTo(100));
            Assert.That(d.ClassNames[99], Is.EqualTo("worm"));
            Assert.That(d.CoarseClassNames, Has.Count.EqualTo(20));
            Assert.That(d.CoarseClassNames[19], Is.EqualTo("vehicles_2"));
            var px = d.Images.ToArray<byte>();
            Assert.That(px[((3 * 3 + 2) * 32 + 4) * 32 + 5], Is.EqualTo(Pixel(3, 2, 4, 5)));
        }
        using var test = Cifar100.Load(Path.Combine(Dir, "cifar-100-binary"), train: false, strict: false);
        Assert.That(test.Count, Is.EqualTo(1));
        Names(Assert.Throws<InvalidDataException>(() => Cifar100.Load(Path.Combine(Dir, "cifar-100-binary"), train: false))!, "test.bin", "1 records", "10000");
    }

    [Test]
    public void Cifar100BadFiles()
    {
        var files = Cifar100Files();
        var folder = WriteFolder("cifar-100-binary", files);
        var train = Path.Combine(folder, "train.bin");
        var bytes = files["train.bin"];
        bytes[3074 * 2] = 20;                      // record 2's coarse label
        File.WriteAllBytes(train, bytes);
        Names(Assert.Throws<InvalidDataException>(() => Cifar100.Load(folder, strict: false))!, train, "record 2", "coarse label 20", "0..19");
        bytes[3074 * 2] = 0;
        bytes[3074 * 3 + 1] = 100;                 // record 3's fine label
        File.WriteAllBytes(train, bytes);
        Names(Assert.Throws<InvalidDataException>(() => Cifar100.Load(folder, strict: false))!, train, "record 3", "label 100", "0..99");
        File.WriteAllBytes(train, Cifar10Files()["data_batch_1.bin"][..(3073 * 2)]);
        Names(Assert.Throws<InvalidDataException>(() => Cifar100.Load(folder, strict: false))!, train, "3073-byte records", "CIFAR-10");
        File.WriteAllText(Path.Combine(folder, "coarse_label_names.txt"), "a\nb\n");
        File.WriteAllBytes(train, Cifar100Files()["train.bin"]);
        Names(Assert.Throws<InvalidDataException>(() => Cifar100.Load(folder, strict: false))!, "coarse_label_names.txt", "expected 20");
        Names(Assert.Throws<InvalidDataException>(() => Cifar100.Load(WriteArchive("c10.tar.gz", "cifar-10-batches-bin", Cifar10Files()), strict: false))!,
              "c10.tar.gz", "no member train.bin");
    }
}
