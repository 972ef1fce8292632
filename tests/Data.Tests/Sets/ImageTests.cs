namespace Dsl.Data.Tests.Sets;

/// <summary>
/// Image decoding, resizing and encoding (SkiaSharp): channel order, grayscale, resizing, real files
/// written by PIL (tests/fixtures/make_data_fixtures.py), lossless round trips, atomic writes, captioned
/// grids, and clear errors for bad files.
/// </summary>
[TestFixture]
public class ImageTests : DataTestBase
{
    static byte[] Pixels(Tensor t) => t.ToArray<byte>();

    [Test]
    public void PilPngDecodesToRgbPlanes()
    {
        var img = Image.Read(Fixture("rgb_4x3.png"));
        Assert.That(img.Shape, Is.EqualTo(new long[] { 3, 3, 4 }));
        Assert.That(img.DType, Is.EqualTo(DType.UInt8));
        var p = Pixels(img);
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 4; x++)
            {
                Assert.That(p[(0 * 3 + y) * 4 + x], Is.EqualTo(60 * x), $"R at ({y}, {x})");
                Assert.That(p[(1 * 3 + y) * 4 + x], Is.EqualTo(100 * y), $"G at ({y}, {x})");
                Assert.That(p[(2 * 3 + y) * 4 + x], Is.EqualTo(255 - 60 * x), $"B at ({y}, {x})");
            }
    }

    [Test]
    public void GrayscalePngAndConversions()
    {
        var g = Image.Read(Fixture("gray_5x2.png"));
        Assert.That(g.Shape, Is.EqualTo(new long[] { 3, 2, 5 }), "a grayscale file decodes to RGB unless grayscale is asked for");
        var gray = Image.Read(Fixture("gray_5x2.png"), new ImageOptions { Grayscale = true });
        Assert.That(gray.Shape, Is.EqualTo(new long[] { 1, 2, 5 }));
        Assert.That(Pixels(gray), Is.EqualTo(Enumerable.Range(0, 10).Select(i => (byte)(10 * i)).ToArray()));
        // RGB → luminance: red, green and blue give OpenCV's 0.299 R + 0.587 G + 0.114 B
        var fromRgb = Pixels(Image.Read(Fixture("rgba_2x2.png"), new ImageOptions { Grayscale = true }));
        Assert.That(fromRgb, Is.EqualTo(new byte[] { 76, 150, 29, 255 }).Within(1));
    }

    [Test]
    public void AlphaIsDroppedAnd16BitIsScaled()
    {
        var rgba = Pixels(Image.Read(Fixture("rgba_2x2.png")));
        Assert.That(rgba, Is.EqualTo(new byte[] { 255, 0, 0, 255, /* G */ 0, 255, 0, 255, /* B */ 0, 0, 255, 255 }));
        Assert.That(Pixels(Image.Read(Fixture("gray16_2x1.png"), new ImageOptions { Grayscale = true })), Is.EqualTo(new byte[] { 0, 255 }));
    }

    [Test]
    public void PilJpegsDecode()
    {
        var rb = Image.Read(Fixture("red_blue_16x8.jpg"));
        Assert.That(rb.Shape, Is.EqualTo(new long[] { 3, 8, 16 }));
        var p = Pixels(rb);
        int At(int c, int y, int x) => p[(c * 8 + y) * 16 + x];
        Assert.That(new[] { At(0, 4, 2), At(1, 4, 2), At(2, 4, 2) }, Is.EqualTo(new[] { 255, 0, 0 }).Within(12), "left half is red");
        Assert.That(new[] { At(0, 4, 13), At(1, 4, 13), At(2, 4, 13) }, Is.EqualTo(new[] { 0, 0, 255 }).Within(12), "right half is blue");
        var prog = Pixels(Image.Read(Fixture("green_progressive_16x16.jpg")));
        Assert.That(prog[8 * 16 + 8], Is.EqualTo(0).Within(6));
        Assert.That(prog[256 + 8 * 16 + 8], Is.EqualTo(200).Within(6));
        // EXIF orientation 6: stored 8 wide x 4 high, decoded as displayed, 4 wide x 8 high
        Assert.That(Image.Read(Fixture("exif_rotated_8x4.jpg")).Shape, Is.EqualTo(new long[] { 3, 8, 4 }));
    }

    [Test]
    public void EncodeDecodeRoundTrips()
    {
        var img = Pattern(3, 5, 7);
        foreach (var format in new[] { ImageFormat.Png, ImageFormat.Webp })
            Assert.That(Pixels(Image.Decode(Image.Encode(img, format))), Is.EqualTo(Pixels(img)), format.ToString());
        var jpg = Image.Decode(Image.Encode(Pattern(3, 16, 16), ImageFormat.Jpeg, 100));
        Assert.That(jpg.Shape, Is.EqualTo(new long[] { 3, 16, 16 }));
        var gray = Pattern(1, 4, 6);
        Assert.That(Pixels(Image.Decode(Image.Encode(gray), new ImageOptions { Grayscale = true })), Is.EqualTo(Pixels(gray)));
        using var hw = gray.Reshape(4, 6);
        Assert.That(Pixels(Image.Decode(Image.Encode(hw), new ImageOptions { Grayscale = true })), Is.EqualTo(Pixels(gray)), "[H, W] encodes as grayscale");
        var path = PathIn("x", "pattern.png");
        Image.Write(path, img);
        Assert.That(Pixels(Image.Read(path)), Is.EqualTo(Pixels(img)));
    }

    [Test]
    public void ResizeStretchCoverAndArea()
    {
        // 4x4 of 2x2 blocks; area-shrinking to 2x2 gives the block values exactly
        var data = new byte[16];
        byte[] blocks = { 10, 50, 90, 130 };
        for (int y = 0; y < 4; y++) for (int x = 0; x < 4; x++) data[y * 4 + x] = blocks[(y / 2) * 2 + x / 2];
        var bytes = Image.Encode(Torch.From<byte>(data, new long[] { 1, 4, 4 }));
        var small = Image.Decode(bytes, ImageOptions.Resize(2, 2, grayscale: true));
        Assert.That(Pixels(small), Is.EqualTo(blocks));
        // stretch ignores the aspect ratio; cover keeps it and crops the centre
        var wide = Image.Encode(Pattern(3, 10, 40));
        Assert.That(Image.Decode(wide, ImageOptions.Resize(8, 8)).Shape, Is.EqualTo(new long[] { 3, 8, 8 }));
        var cover = Image.Decode(wide, ImageOptions.Resize(10, 10, fit: ImageFit.Cover));
        Assert.That(cover.Shape, Is.EqualTo(new long[] { 3, 10, 10 }));
        using var centre = Pattern(3, 10, 40).Narrow(2, 15, 10).Contiguous();
        Assert.That(Pixels(cover), Is.EqualTo(Pixels(centre)), "cover at scale 1 is the centre crop");
        var grown = Image.Decode(wide, new ImageOptions { Height = 20, Width = 80, Interpolation = InterpolationMode.Nearest });
        Assert.That(grown.Shape, Is.EqualTo(new long[] { 3, 20, 80 }));
        Assert.That(Image.Decode(wide, new ImageOptions { Height = 20, Width = 80, Fit = ImageFit.None }).Shape, Is.EqualTo(new long[] { 3, 10, 40 }));
        Assert.Throws<ArgumentException>(() => Image.Decode(wide, new ImageOptions { Height = 5 }));
    }

    [Test]
    public void BadImagesNameTheFileAndTheProblem()
    {
        var missing = PathIn("nope.png");
        Names(Assert.Throws<FileNotFoundException>(() => Image.Read(missing))!, missing, "no file");

        var notImage = PathIn("text.jpg");
        File.WriteAllText(notImage, "hello, this is not an image");
        Names(Assert.Throws<InvalidDataException>(() => Image.Read(notImage))!, notImage, "not an image", "68 65 6c 6c");

        var empty = PathIn("empty.png");
        File.WriteAllBytes(empty, Array.Empty<byte>());
        Names(Assert.Throws<InvalidDataException>(() => Image.Read(empty))!, empty, "empty");

        var jpg = PathIn("cut.jpg");
        File.Copy(Fixture("red_blue_16x8.jpg"), jpg);
        Truncate(jpg, (int)new FileInfo(jpg).Length - 10);
        Names(Assert.Throws<InvalidDataException>(() => Image.Read(jpg))!, jpg, "truncated JPEG");

        var prog = PathIn("cut_progressive.jpg");
        File.Copy(Fixture("green_progressive_16x16.jpg"), prog);
        Truncate(prog, (int)new FileInfo(prog).Length - 40);
        Names(Assert.Throws<InvalidDataException>(() => Image.Read(prog))!, prog, "truncated JPEG");

        var png = PathIn("cut.png");
        File.WriteAllBytes(png, Image.Encode(Pattern(3, 32, 32)));
        Truncate(png, (int)new FileInfo(png).Length / 2);
        Names(Assert.Throws<InvalidDataException>(() => Image.Read(png))!, png, "truncated PNG");

        // a JPEG whose header survives but whose body is garbage
        var garbled = PathIn("garbled.jpg");
        var g = File.ReadAllBytes(Fixture("red_blue_16x8.jpg"));
        for (int i = 20; i < 200; i++) g[i] = 0xAB;
        File.WriteAllBytes(garbled, g);
        Names(Assert.Throws<InvalidDataException>(() => Image.Read(garbled))!, garbled, "JPEG");

        var pngBody = PathIn("garbled.png");
        var pb = Image.Encode(Pattern(3, 32, 32));
        for (int i = 40; i < pb.Length - 20; i++) pb[i] ^= 0x5A;
        File.WriteAllBytes(pngBody, pb);
        Names(Assert.Throws<InvalidDataException>(() => Image.Read(pngBody))!, pngBody, "corrupt PNG");
    }

    /// <summary>Where the entropy-coded data of the first scan starts (after the SOS segment) and where the file's EOI is.</summary>
    static (int Start, int End) FirstScan(byte[] jpeg)
    {
        for (int i = 2; i + 3 < jpeg.Length; i++)
            if (jpeg[i] == 0xFF && jpeg[i + 1] == 0xDA) return (i + 2 + (jpeg[i + 2] << 8 | jpeg[i + 3]), jpeg.Length - 2);
        throw new InvalidOperationException("no SOS marker");
    }

    /// <summary>
    /// Ways to damage the entropy-coded data between <c>s</c> and <c>e</c> (the EOI): stray markers (always invalid there),
    /// and inserted, overwritten and flipped bytes, which break the Huffman structure of these files. (Damage need not:
    /// see <see cref="MostInvertedBytesAreCaught"/>.)
    /// </summary>
    static readonly (string Name, Func<byte[], int, int, byte[]> Damage)[] ScanDamage =
    {
        ("an EOI marker in the middle", (b, s, e) => Set(b, (s + e) / 2, 0xFF, 0xD9)),
        ("a reserved marker", (b, s, e) => Set(b, (s + e) / 2, 0xFF, 0x17)),
        ("a restart marker without a restart interval", (b, s, e) => Set(b, (s + e) / 2, 0xFF, 0xD0)),
        ("ten bytes inserted", (b, s, e) => [.. b[..((s + e) / 2)], .. Enumerable.Range(0, 10).Select(i => (byte)(37 * i)), .. b[((s + e) / 2)..]]),
        ("ten bytes zeroed", (b, s, e) => Set(b, (s + e) / 2, new byte[10])),
        ("a byte inverted", (b, s, e) => Set(b, (s + e) / 2, (byte)~b[(s + e) / 2])),
        ("every seventh byte flipped", (b, s, e) => b.Select((x, i) => i >= s && i < e && (i - s) % 7 == 0 ? (byte)(x ^ 0x55) : x).ToArray()),
    };

    static byte[] Set(byte[] b, int at, params byte[] values)
    {
        var c = (byte[])b.Clone();
        values.CopyTo(c, at);
        return c;
    }

    static IEnumerable<TestCaseData> DamagedScans() =>
        from source in new[] { "encoded 64x64", "red_blue_16x8.jpg" }
        from d in ScanDamage
        select new TestCaseData(source, d.Name).SetName($"DamagedScanDataIsCorrupt({source}, {d.Name})");

    static byte[] Encoded64() => Image.Encode(Pattern(3, 64, 64, seed: 5), ImageFormat.Jpeg, 90);

    [TestCaseSource(nameof(DamagedScans))]
    public void DamagedScanDataIsCorrupt(string source, string damage)
    {
        var jpeg = source.StartsWith("encoded") ? Encoded64() : File.ReadAllBytes(Fixture(source));
        var (s, e) = FirstScan(jpeg);
        var path = PathIn("damaged.jpg");
        File.WriteAllBytes(path, ScanDamage.Single(d => d.Name == damage).Damage(jpeg, s, e));
        Names(Assert.Throws<InvalidDataException>(() => Image.Read(path))!, path, "corrupt JPEG", "scan 1");
    }

    // JPEG has no checksum: a damaged byte whose Huffman codes still parse and end where the blocks end (often a flip
    // in a coefficient's value bits) is valid data that no decoder can tell apart; libjpeg decodes it without a warning.
    // Those that break the structure are caught (every file libjpeg warns about, and some it does not).
    [Test]
    public void MostInvertedBytesAreCaught()
    {
        var jpeg = Encoded64();
        var (s, e) = FirstScan(jpeg);
        int caught = 0;
        for (int i = s; i < e; i++)
        {
            try { Image.Decode(Set(jpeg, i, (byte)~jpeg[i]), name: "inverted.jpg"); }
            catch (InvalidDataException x)
            {
                Names(x, "inverted.jpg", "corrupt JPEG");
                caught++;
            }
        }
        TestContext.Out.WriteLine($"{caught} of {e - s} inverted bytes caught");
        Assert.That(caught, Is.GreaterThan((e - s) / 3), "the Huffman walk catches structural damage (the marker checks alone catch a few percent)");
    }

    [Test]
    public void DamagedProgressiveScansAreCorrupt()
    {
        var jpeg = File.ReadAllBytes(Fixture("green_progressive_16x16.jpg"));
        var (s, _) = FirstScan(jpeg);
        foreach (var (name, damage) in ScanDamage)
        {
            var path = PathIn("damaged-progressive.jpg");
            File.WriteAllBytes(path, damage(jpeg, s, s + 6));
            Names(Assert.Throws<InvalidDataException>(() => Image.Read(path), name)!, path, "corrupt JPEG");
        }
    }

    public sealed record JpegCase(int W, int H, int Quality, int Seed, bool Gray);

    [Property(MaxTest = 60, QuietOnSuccess = true)]
    public Property ValidJpegsPassTheScanCheck() => Prop.ForAll(
        Arb(from w in Gen.Choose(1, 80) from h in Gen.Choose(1, 80) from q in Gen.Choose(1, 100) from s in Gen.Choose(0, 1000) from g in Gen.Elements(new[] { true, false })
            select new JpegCase(w, h, q, s, g),
            p => Smaller(p.W, 1).Select(v => p with { W = v }).Concat(Smaller(p.H, 1).Select(v => p with { H = v }))),
        p =>
        {
            using var scope = DisposeScope.Enter();
            var pixels = new byte[p.W * p.H * 3];
            new Random(p.Seed).NextBytes(pixels);
            var jpeg = Image.Encode(Torch.From<byte>(pixels, new long[] { 3, p.H, p.W }), ImageFormat.Jpeg, p.Quality);
            var back = Image.Decode(jpeg, new ImageOptions { Grayscale = p.Gray });
            Require(back.Size(1) == p.H && back.Size(2) == p.W, $"shape [{string.Join(", ", back.Shape)}]");
        });

    /// <summary>A PNG of <paramref name="w"/> × <paramref name="h"/> gray pixels, all zero: a few hundred kilobytes for millions of pixels.</summary>
    static byte[] ZeroPng(int w, int h)
    {
        static uint Crc(ReadOnlySpan<byte> data)
        {
            uint c = 0xFFFFFFFF;
            foreach (var b in data)
            {
                c ^= b;
                for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1;
            }
            return ~c;
        }
        var png = new MemoryStream();
        void Chunk(string type, byte[] data)
        {
            var body = System.Text.Encoding.ASCII.GetBytes(type).Concat(data).ToArray();
            png.Write(new[] { (byte)(data.Length >> 24), (byte)(data.Length >> 16), (byte)(data.Length >> 8), (byte)data.Length });
            png.Write(body);
            var crc = Crc(body);
            png.Write(new[] { (byte)(crc >> 24), (byte)(crc >> 16), (byte)(crc >> 8), (byte)crc });
        }
        png.Write(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A });
        Chunk("IHDR", new[] { (byte)(w >> 24), (byte)(w >> 16), (byte)(w >> 8), (byte)w, (byte)(h >> 24), (byte)(h >> 16), (byte)(h >> 8), (byte)h, (byte)8, (byte)0, (byte)0, (byte)0, (byte)0 });
        var idat = new MemoryStream();
        using (var z = new System.IO.Compression.ZLibStream(idat, System.IO.Compression.CompressionLevel.SmallestSize, leaveOpen: true))
        {
            var row = new byte[w + 1];
            for (int y = 0; y < h; y++) z.Write(row);
        }
        Chunk("IDAT", idat.ToArray());
        Chunk("IEND", Array.Empty<byte>());
        return png.ToArray();
    }

    [Test]
    public void LargeImagesAreRefusedFromTheHeader()
    {
        var bomb = PathIn("bomb.png");
        File.WriteAllBytes(bomb, ZeroPng(10_000, 9_000));
        Assert.That(new FileInfo(bomb).Length, Is.LessThan(1 << 20));
        var before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<InvalidDataException>(() => Image.Read(bomb))!;
        Assert.That(GC.GetAllocatedBytesForCurrentThread() - before, Is.LessThan(8 << 20), "refused before the pixels are allocated");
        Names(e, bomb, "10000 x 9000", "90,000,000 pixels", "89,478,485", "ImageOptions.MaxPixels");

        var small = PathIn("small.png");
        File.WriteAllBytes(small, ZeroPng(20, 10));
        Names(Assert.Throws<InvalidDataException>(() => Image.Read(small, new ImageOptions { MaxPixels = 199 }))!, small, "20 x 10", "199", "MaxPixels");
        Assert.That(Image.Read(small, new ImageOptions { MaxPixels = 200 }).Shape, Is.EqualTo(new long[] { 3, 10, 20 }));
        var folder = PathIn("folder", "a", "x.png");
        File.Copy(small, folder);
        Names(Assert.Throws<InvalidDataException>(() => ImageFolder.Open(PathIn("folder"), new ImageOptions { MaxPixels = 100 }).Load())!, folder, "MaxPixels");
        Assert.Throws<ArgumentException>(() => Image.Read(small, new ImageOptions { MaxPixels = 0 }));
    }

    [Test]
    public void EncodeRejectsBadTensors()
    {
        Names(Assert.Throws<ArgumentException>(() => Image.Encode(Pattern(2, 4, 4)))!, "image encode", "C = 1 (gray) or 3 (RGB)", "[2, 4, 4]");
        Names(Assert.Throws<ArgumentException>(() => Image.Encode(Torch.Zeros(2, 3, 4, 4)))!, "image encode", "[2, 3, 4, 4]");
        Assert.Throws<ArgumentOutOfRangeException>(() => Image.Encode(Pattern(3, 4, 4), ImageFormat.Jpeg, 0), "quality 0");
        Names(Assert.Throws<ArgumentException>(() => Image.Write(PathIn("x.gif"), Pattern(3, 4, 4)))!, "x.gif", "unknown extension");
        // Floating images are [0, 1]: a float ramp encodes to 0 … 255.
        using var ramp = Torch.Linspace(0, 1, 12).Reshape(3, 4);
        var px = Pixels(Image.Decode(Image.Encode(ramp), new ImageOptions { Grayscale = true }));
        Assert.That((px.First(), px.Last()), Is.EqualTo(((byte)0, (byte)255)));
    }

    public sealed record RoundTrip(int W, int H, int Channels, int Seed);

    [Property(MaxTest = 60, QuietOnSuccess = true)]
    public Property LosslessFormatsRoundTripEveryPixel() => Prop.ForAll(
        Arb(from w in Gen.Choose(1, 40) from h in Gen.Choose(1, 40) from c in Gen.Elements(new[] { 1, 3 }) from s in Gen.Choose(0, 1000) select new RoundTrip(w, h, c, s),
            p => Smaller(p.W, 1).Select(v => p with { W = v }).Concat(Smaller(p.H, 1).Select(v => p with { H = v }))
                 .Concat(p.Channels != 1 ? new[] { p with { Channels = 1 } } : Array.Empty<RoundTrip>())),
        p =>
        {
            using var scope = DisposeScope.Enter();
            var pixels = new byte[p.W * p.H * p.Channels];
            new Random(p.Seed).NextBytes(pixels);
            var img = Torch.From<byte>(pixels, new long[] { p.Channels, p.H, p.W });
            foreach (var format in new[] { ImageFormat.Png, ImageFormat.Webp })
            {
                var back = Image.Decode(Image.Encode(img, format), new ImageOptions { Grayscale = p.Channels == 1 });
                Require(back.Shape.SequenceEqual(img.Shape), $"{format}: shape [{string.Join(", ", back.Shape)}]");
                Require(back.ToArray<byte>().SequenceEqual(pixels), $"{format}: pixels differ");
            }
        });

    [Test]
    public void ImagesAndCaptionedGridsAreWrittenAtomically()
    {
        using var set = Clocks.Generate(5, seed: 1);
        var grid = PathIn("out", "grid.png");
        var captions = set.Specs.Select(s => $"{s.Hour}:{s.Minute:D2}").ToArray();
        ImageGrid.Write(grid, set.Images, columns: 3, captions: captions, padding: 4);
        var g = Image.Read(grid, new ImageOptions { Grayscale = true });
        int gh = (int)g.Size(1), gw = (int)g.Size(2);
        Assert.That(gw, Is.EqualTo(3 * 154 + 4), "three tiles of 150 and four paddings of 4");
        int cell = (gh - 4) / 2;
        Assert.That(gh, Is.EqualTo(2 * cell + 4), "two rows");
        Assert.That(cell, Is.GreaterThan(150 + 4 + 8), "each row leaves room for its caption");
        var gp = g.ToArray<byte>();
        Assert.That(gp.AsSpan(4 * gw + 4, 150).SequenceEqual(set.Images[0][0][0].ToArray<byte>()), Is.True, "the first tile's first row");
        // The caption strip under the first tile holds dark text, the padding beside it stays white.
        int dark = 0;
        for (int y = 4 + 150; y < 4 + cell - 4; y++)
            for (int x = 4; x < 4 + 150; x++)
                if (gp[y * gw + x] < 128) dark++;
        Assert.That(dark, Is.GreaterThan(20), "a caption is drawn under the first tile");
        Assert.That(Enumerable.Range(0, gh).All(y => gp[y * gw + 1] == 255), Is.True, "the left padding is white");
        // RGB tiles, a JPEG grid; no temporary files are left beside the outputs.
        ImageGrid.Write(PathIn("out", "rgb.jpg"), Torch.Stack(new[] { Pattern(3, 8, 10), Pattern(3, 8, 10, seed: 9) }), columns: 2, scale: 3);
        Assert.That(Image.Read(PathIn("out", "rgb.jpg")).Shape, Is.EqualTo(new long[] { 3, 8 * 3 + 8, 2 * 34 + 4 }));
        Assert.That(Directory.GetFiles(Path.GetDirectoryName(grid)!).Select(Path.GetFileName), Is.EquivalentTo(new[] { "grid.png", "rgb.jpg" }));
        Names(Assert.Throws<ArgumentException>(() => ImageGrid.Write(grid, set.Images, captions: new[] { "one" }))!, "image grid", "1 captions for 5 images");
        Names(Assert.Throws<ArgumentException>(() => ImageGrid.Write(grid, Torch.Zeros(2, 2, 4, 4)))!, "image grid", "[2, 2, 4, 4]");
    }

    [Test]
    public void NoTensorLeaks()
    {
        var before = Tensor.LiveCount;
        using (DisposeScope.Enter())
        {
            Image.Read(Fixture("rgb_4x3.png"));
            Image.Encode(Pattern(3, 4, 4));
            Assert.Throws<InvalidDataException>(() => Image.Decode(new byte[] { 1, 2, 3 }));
        }
        Assert.That(Tensor.LiveCount, Is.EqualTo(before));
    }
}
