using System.Buffers.Binary;
using System.IO.Compression;

namespace Dsl.Data.Tests.Sets;

/// <summary>
/// IDX files (MNIST, Fashion-MNIST) written by the test: shapes and data, labels out of range, and files whose
/// header or body would inflate past what is read (decompression bombs), checked before the body is allocated.
/// </summary>
[TestFixture]
public class IdxTests : DataTestBase
{
    /// <summary>An unsigned-byte IDX header for <paramref name="shape"/>.</summary>
    static byte[] Header(params int[] shape)
    {
        var h = new byte[4 + 4 * shape.Length];
        h[2] = 0x08;
        h[3] = (byte)shape.Length;
        for (int i = 0; i < shape.Length; i++) BinaryPrimitives.WriteInt32BigEndian(h.AsSpan(4 + 4 * i), shape[i]);
        return h;
    }

    /// <summary>Writes the header, the body and <paramref name="zeros"/> more zero bytes, gzip-compressed when the name ends in .gz.</summary>
    string Write(string name, byte[] header, byte[] body, long zeros = 0)
    {
        var path = PathIn("idx", name);
        using var file = File.Create(path);
        using Stream s = name.EndsWith(".gz") ? new GZipStream(file, CompressionLevel.Fastest) : file;
        s.Write(header);
        s.Write(body);
        var block = new byte[1 << 20];
        for (long left = zeros; left > 0; left -= block.Length) s.Write(block, 0, (int)Math.Min(left, block.Length));
        return path;
    }

    /// <summary>Fashion-MNIST files of <paramref name="labels"/> (one 28 × 28 image each, pixel value = index).</summary>
    string WriteSet(byte[] labels, bool gz = true)
    {
        var ext = gz ? ".gz" : "";
        var n = labels.Length;
        Write($"train-images-idx3-ubyte{ext}", Header(n, 28, 28), Enumerable.Range(0, n * 784).Select(i => (byte)(i / 784)).ToArray());
        Write($"train-labels-idx1-ubyte{ext}", Header(n), labels);
        return Path.Combine(Dir, "idx");
    }

    /// <summary>Runs <paramref name="action"/> and returns the exception and the bytes it allocated on this thread.</summary>
    static (T Error, long Allocated) Allocating<T>(TestDelegate action) where T : Exception
    {
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<T>(action)!;
        return (e, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Test]
    public void FashionMnistLoadsImagesAndLabels()
    {
        foreach (var gz in new[] { true, false })
        {
            var (images, labels) = FashionMnist.Load(train: true, WriteSet(new byte[] { 3, 9, 0 }, gz));
            Assert.That(images.Shape, Is.EqualTo(new long[] { 3, 28, 28 }));
            Assert.That(labels.DType, Is.EqualTo(DType.Int64));
            Assert.That(labels.ToArray<long>(), Is.EqualTo(new long[] { 3, 9, 0 }));
            Assert.That(images[2].ToArray<byte>().Distinct(), Is.EqualTo(new byte[] { 2 }));
            Directory.Delete(Path.Combine(Dir, "idx"), true);
        }
    }

    [TestCase((byte)200)]
    [TestCase((byte)255)]
    [TestCase((byte)10)]
    public void FashionMnistRefusesLabelsOutsideTheTenClasses(byte bad)
    {
        var dir = WriteSet(new byte[] { 1, 2, 9, bad, 4, bad });
        var e = Assert.Throws<InvalidDataException>(() => FashionMnist.Load(train: true, dir))!;
        Names(e, "train-labels-idx1-ubyte.gz", $"index 3 has label {bad}", "0..9", "2 labels");
    }

    [Test]
    public void FashionMnistChecksTheShapesFromTheHeaders()
    {
        var dir = WriteSet(new byte[] { 1, 2 });
        Write("train-images-idx3-ubyte.gz", Header(2, 32, 32), new byte[2 * 1024]);
        Names(Assert.Throws<InvalidDataException>(() => FashionMnist.Load(train: true, dir))!, "train-images-idx3-ubyte.gz", "[2, 32, 32]", "[N, 28, 28]");
        Write("train-images-idx3-ubyte.gz", Header(3, 28, 28), new byte[3 * 784]);
        Names(Assert.Throws<InvalidDataException>(() => FashionMnist.Load(train: true, dir))!, "train-labels-idx1-ubyte.gz", "[2]", "[3]");
    }

    /// <summary>MNIST files for a split (one 28 × 28 image per label, pixel value = index), named as <paramref name="stem"/> gives.</summary>
    string WriteMnist(string split, byte[] labels, Func<string, string> stem, bool gz)
    {
        var ext = gz ? ".gz" : "";
        var n = labels.Length;
        Write(stem($"{split}-images") + $"idx3-ubyte{ext}", Header(n, 28, 28), Enumerable.Range(0, n * 784).Select(i => (byte)(255 - i / 784)).ToArray());
        Write(stem($"{split}-labels") + $"idx1-ubyte{ext}", Header(n), labels);
        return Path.Combine(Dir, "idx");
    }

    [Test]
    public void MnistLoadsBothSplitsWithTheDigitNames()
    {
        Assert.That(Mnist.ClassNames, Is.EqualTo(new[] { "0", "1", "2", "3", "4", "5", "6", "7", "8", "9" }));
        foreach (var gz in new[] { true, false })
            foreach (Func<string, string> stem in new Func<string, string>[] { s => s + "-", s => s + "." })
            {
                var dir = WriteMnist("train", new byte[] { 7, 0, 9, 4 }, stem, gz);
                WriteMnist("t10k", new byte[] { 1, 2 }, stem, gz);
                var (images, labels) = Mnist.Load(train: true, dir);
                var (testImages, testLabels) = Mnist.Load(train: false, dir);
                Assert.That(images.Shape, Is.EqualTo(new long[] { 4, 28, 28 }));
                Assert.That(images.DType, Is.EqualTo(DType.UInt8));
                Assert.That(labels.ToArray<long>(), Is.EqualTo(new long[] { 7, 0, 9, 4 }));
                Assert.That(images[3].ToArray<byte>().Distinct(), Is.EqualTo(new byte[] { 252 }));
                Assert.That(testImages.Shape, Is.EqualTo(new long[] { 2, 28, 28 }));
                Assert.That(testLabels.ToArray<long>(), Is.EqualTo(new long[] { 1, 2 }));
                foreach (var t in new[] { images, labels, testImages, testLabels }) t.Dispose();
                Directory.Delete(dir, true);
            }
    }

    [Test]
    public void MnistNamesWhatIsMissingOrWrong()
    {
        var missing = Path.Combine(Dir, "no-such-folder");
        Names(Assert.Throws<DirectoryNotFoundException>(() => Mnist.Load(train: true, missing))!, "mnist", missing, "Download.Mnist");
        var dir = WriteMnist("train", new byte[] { 1, 10 }, s => s + "-", gz: true);
        Names(Assert.Throws<FileNotFoundException>(() => Mnist.Load(train: false, dir))!, "mnist", "t10k-images-idx3-ubyte(.gz)", dir, "ossci-datasets");
        Names(Assert.Throws<InvalidDataException>(() => Mnist.Load(train: true, dir))!, "mnist", "train-labels-idx1-ubyte.gz", "index 1 has label 10", "0..9", "MNIST label file");
        Write("train-images-idx3-ubyte.gz", Header(2, 28, 27), new byte[2 * 28 * 27]);
        Names(Assert.Throws<InvalidDataException>(() => Mnist.Load(train: true, dir))!, "[2, 28, 27]", "MNIST images are [N, 28, 28]");
    }

    [Test]
    public void BodiesThatInflatePastTheHeaderAreNotRead()
    {
        // 10 labels announced, 64 MiB of zeros behind them: refused after reading one byte past the announced data.
        var path = Write("bomb-idx1-ubyte.gz", Header(10), new byte[10], zeros: 64 << 20);
        var (e, allocated) = Allocating<InvalidDataException>(() => Idx.Read(path));
        Names(e, path, "trailing data", "[10]");
        Assert.That(allocated, Is.LessThan(4 << 20), "no more than the announced data is read");
    }

    [Test]
    public void HeadersAreCheckedBeforeTheBodyIsAllocated()
    {
        // 1.9 GB announced (under the limit), 1 MiB present: truncated, found without allocating the 1.9 GB.
        var big = Write("big-idx3-ubyte.gz", Header(2_400_000, 28, 28), Array.Empty<byte>(), zeros: 1 << 20);
        var (e, allocated) = Allocating<InvalidDataException>(() => Idx.Read(big));
        Names(e, big, "truncated", "[2400000, 28, 28]");
        Assert.That(allocated, Is.LessThan(16 << 20), "the body is not allocated from the header's size");

        var huge = Write("huge-idx3-ubyte.gz", Header(3_000_000, 28, 28), new byte[100]);
        (e, allocated) = Allocating<InvalidDataException>(() => Idx.Read(huge));
        Names(e, huge, "[3000000, 28, 28]", "2352000000 data bytes", "limit");
        Assert.That(allocated, Is.LessThan(1 << 20));

        // sizes whose product overflows 64 bits
        var overflow = Write("overflow-idx4-ubyte", Header(65536, 65536, 65536, 65536), Array.Empty<byte>());
        Names(Assert.Throws<InvalidDataException>(() => Idx.Read(overflow))!, overflow, "[65536, 65536, 65536, 65536]", "limit");

        var raw = Write("raw-idx3-ubyte", Header(1_000_000, 28, 28), new byte[784]);
        (e, allocated) = Allocating<InvalidDataException>(() => Idx.Read(raw));
        Names(e, raw, "truncated", "784000000");
        Assert.That(allocated, Is.LessThan(1 << 20));
    }

    [Test]
    public void BadHeadersNameTheFile()
    {
        var cut = Write("cut-idx3-ubyte.gz", Header(2, 28, 28)[..9], Array.Empty<byte>());
        Names(Assert.Throws<InvalidDataException>(() => Idx.Read(cut))!, cut, "3 dimensions", "header is truncated");
        var type = Header(2);
        type[2] = 0x0D;
        var f32 = Write("float-idx1.gz", type, new byte[8]);
        Names(Assert.Throws<InvalidDataException>(() => Idx.Read(f32))!, f32, "type code 0x0d");
        var magic = Write("magic-idx1", new byte[] { 0x1f, 0x00, 8, 1, 0, 0, 0, 1 }, new byte[1]);
        Names(Assert.Throws<InvalidDataException>(() => Idx.Read(magic))!, magic, "magic");
        var negative = Write("negative-idx2", Header(2, -1), Array.Empty<byte>());
        Names(Assert.Throws<InvalidDataException>(() => Idx.Read(negative))!, negative, "negative size in dimension 1");
        var notGz = PathIn("idx", "junk.gz");
        File.WriteAllBytes(notGz, new byte[] { 0x1f, 0x8b, 1, 2, 3 });
        Names(Assert.Throws<InvalidDataException>(() => Idx.Read(notGz))!, notGz, "gzip");
    }
}
