using System.Buffers.Binary;
using System.IO.Compression;
using Dsl.Engine.IO;

namespace Dsl.Engine.Data;

/// <summary>
/// Writes 8-bit PNG images (grayscale, RGB or RGBA) with System.IO.Compression.ZLibStream and a CRC-32
/// per chunk; files are written atomically (temporary file, then rename). Also tiles a batch of images
/// into a captioned grid.
/// </summary>
public static class PngWriter
{
    static readonly byte[] Signature = { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A };
    static readonly uint[] CrcTable = MakeCrcTable();

    static uint[] MakeCrcTable()
    {
        var t = new uint[256];
        for (uint n = 0; n < 256; n++)
        {
            uint c = n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[n] = c;
        }
        return t;
    }

    /// <summary>The CRC-32 (ISO-HDLC, as PNG uses) of <paramref name="data"/>, continuing from <paramref name="crc"/>.</summary>
    public static uint Crc32(ReadOnlySpan<byte> data, uint crc = 0)
    {
        uint c = ~crc;
        foreach (var b in data) c = CrcTable[(c ^ b) & 0xFF] ^ (c >> 8);
        return ~c;
    }

    /// <summary>
    /// Encodes row-major 8-bit pixels (interleaved channels: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA) of a
    /// <paramref name="width"/>×<paramref name="height"/> image as PNG bytes.
    /// </summary>
    public static byte[] Encode(ReadOnlySpan<byte> pixels, int width, int height, int channels = 1)
    {
        if (width <= 0 || height <= 0) throw new ArgumentException($"png: image size {width}×{height} must be positive.");
        byte colorType = channels switch
        {
            1 => 0, 2 => 4, 3 => 2, 4 => 6,
            _ => throw new ArgumentException($"png: {channels} channels; use 1 (gray), 2 (gray+alpha), 3 (RGB) or 4 (RGBA)."),
        };
        long stride = (long)width * channels;
        if (pixels.Length != stride * height) throw new ArgumentException($"png: {pixels.Length} bytes for a {width}×{height}×{channels} image (need {stride * height}).");
        using var ms = new MemoryStream();
        ms.Write(Signature);
        Span<byte> ihdr = stackalloc byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr[4..], height);
        ihdr[8] = 8; ihdr[9] = colorType; ihdr[10] = 0; ihdr[11] = 0; ihdr[12] = 0;
        Chunk(ms, "IHDR", ihdr);
        using (var raw = new MemoryStream())
        {
            using (var z = new ZLibStream(raw, CompressionLevel.Optimal, leaveOpen: true))
            {
                var row = new byte[stride + 1];           // filter type 0 (None), then the row
                for (int y = 0; y < height; y++)
                {
                    pixels.Slice((int)(y * stride), (int)stride).CopyTo(row.AsSpan(1));
                    z.Write(row);
                }
            }
            Chunk(ms, "IDAT", raw.GetBuffer().AsSpan(0, (int)raw.Length));
        }
        Chunk(ms, "IEND", ReadOnlySpan<byte>.Empty);
        return ms.ToArray();
    }

    static void Chunk(Stream s, string type, ReadOnlySpan<byte> data)
    {
        Span<byte> head = stackalloc byte[8];
        BinaryPrimitives.WriteInt32BigEndian(head, data.Length);
        for (int i = 0; i < 4; i++) head[4 + i] = (byte)type[i];
        s.Write(head);
        s.Write(data);
        uint crc = Crc32(data, Crc32(head[4..]));
        Span<byte> tail = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(tail, crc);
        s.Write(tail);
    }

    /// <summary>Writes pixels as a PNG file atomically (see <see cref="Encode"/> for the layout).</summary>
    public static void Write(string path, ReadOnlySpan<byte> pixels, int width, int height, int channels = 1)
    {
        var bytes = Encode(pixels, width, height, channels);
        AtomicFile.Write(path, s => s.Write(bytes));
    }

    /// <summary>
    /// Writes one image tensor: [H, W], [1, H, W] (gray) or [3, H, W] (RGB), uint8 0–255 or floating
    /// 0–1 (clamped). The tensor is not modified.
    /// </summary>
    public static void Write(string path, Tensor image)
    {
        var (pixels, w, h, c) = ToHwc(image);
        Write(path, pixels, w, h, c);
    }

    static (byte[] Pixels, int W, int H, int C) ToHwc(Tensor image)
    {
        using var scope = DisposeScope.Enter();
        var t = image.Dim switch
        {
            2 => image.Unsqueeze(0),
            3 => image.Alias(),
            _ => throw new ArgumentException($"png: expected an image [H, W] or [C, H, W], got [{string.Join(", ", image.Shape)}]."),
        };
        long c = t.Size(0), h = t.Size(1), w = t.Size(2);
        if (c is not (1 or 3 or 4)) throw new ArgumentException($"png: {c} channels; use 1, 3 or 4.");
        var bytes = ToBytes(t).Permute(1, 2, 0).Contiguous().Cpu();
        return (bytes.ToArray<byte>(), (int)w, (int)h, (int)c);
    }

    static Tensor ToBytes(Tensor t) =>
        t.DType == DType.UInt8 ? t.Alias()
        : t.DType.IsFloating() ? (t.Clamp(0, 1) * 255.0).Round().To(DType.UInt8)
        : t.Clamp(0, 255).To(DType.UInt8);

    /// <summary>
    /// Tiles a batch of grayscale images ([N, H, W] or [N, 1, H, W]; uint8 or float 0–1) into a grid of
    /// <paramref name="columns"/> columns separated by <paramref name="padding"/> white pixels, optionally
    /// with a caption under each tile (drawn with a small built-in font: digits, ':', '.', '-', '/', '+',
    /// space and upper-case letters), and writes it as a grayscale PNG.
    /// </summary>
    public static void WriteGrid(string path, Tensor images, int columns, int padding = 4, IReadOnlyList<string>? captions = null, int captionScale = 2)
    {
        if (columns <= 0) throw new ArgumentOutOfRangeException(nameof(columns));
        byte[] all;
        long n, h, w;
        using (var scope = DisposeScope.Enter())
        {
            var t = images.Dim switch
            {
                3 => images.Alias(),
                4 when images.Size(1) == 1 => images.Squeeze(1),
                _ => throw new ArgumentException($"png grid: expected grayscale images [N, H, W] or [N, 1, H, W], got [{string.Join(", ", images.Shape)}]."),
            };
            n = t.Size(0); h = t.Size(1); w = t.Size(2);
            all = ToBytes(t).Contiguous().Cpu().ToArray<byte>();
        }
        if (captions is not null && captions.Count != n) throw new ArgumentException($"png grid: {captions.Count} captions for {n} images.");
        int cols = (int)Math.Min(columns, Math.Max(1, n)), rows = (int)((n + cols - 1) / cols);
        int capH = captions is null ? 0 : 5 * captionScale + 2 * captionScale;
        int cellW = (int)w + padding, cellH = (int)h + capH + padding;
        int W = cols * cellW + padding, H = rows * cellH + padding;
        var grid = new byte[W * H];
        Array.Fill(grid, (byte)255);
        for (int i = 0; i < n; i++)
        {
            int ox = padding + (i % cols) * cellW, oy = padding + (i / cols) * cellH;
            for (int y = 0; y < h; y++)
                all.AsSpan((int)(i * h * w + y * w), (int)w).CopyTo(grid.AsSpan((oy + y) * W + ox, (int)w));
            if (captions is not null) DrawText(grid, W, ox, oy + (int)h + captionScale, captions[i], captionScale);
        }
        Write(path, grid, W, H, 1);
    }

    // A 3×5 pixel font: each glyph is 5 rows of 3 bits (MSB = left column).
    static readonly Dictionary<char, int[]> Font = new()
    {
        ['0'] = new[] { 7, 5, 5, 5, 7 }, ['1'] = new[] { 2, 6, 2, 2, 7 }, ['2'] = new[] { 7, 1, 7, 4, 7 }, ['3'] = new[] { 7, 1, 7, 1, 7 },
        ['4'] = new[] { 5, 5, 7, 1, 1 }, ['5'] = new[] { 7, 4, 7, 1, 7 }, ['6'] = new[] { 7, 4, 7, 5, 7 }, ['7'] = new[] { 7, 1, 2, 2, 2 },
        ['8'] = new[] { 7, 5, 7, 5, 7 }, ['9'] = new[] { 7, 5, 7, 1, 7 }, [':'] = new[] { 0, 2, 0, 2, 0 }, ['.'] = new[] { 0, 0, 0, 0, 2 },
        ['-'] = new[] { 0, 0, 7, 0, 0 }, ['/'] = new[] { 1, 1, 2, 4, 4 }, ['+'] = new[] { 0, 2, 7, 2, 0 }, [' '] = new[] { 0, 0, 0, 0, 0 },
        ['A'] = new[] { 2, 5, 7, 5, 5 }, ['B'] = new[] { 6, 5, 6, 5, 6 }, ['C'] = new[] { 7, 4, 4, 4, 7 }, ['D'] = new[] { 6, 5, 5, 5, 6 },
        ['E'] = new[] { 7, 4, 6, 4, 7 }, ['F'] = new[] { 7, 4, 6, 4, 4 }, ['G'] = new[] { 7, 4, 5, 5, 7 }, ['H'] = new[] { 5, 5, 7, 5, 5 },
        ['I'] = new[] { 7, 2, 2, 2, 7 }, ['J'] = new[] { 1, 1, 1, 5, 7 }, ['K'] = new[] { 5, 5, 6, 5, 5 }, ['L'] = new[] { 4, 4, 4, 4, 7 },
        ['M'] = new[] { 5, 7, 7, 5, 5 }, ['N'] = new[] { 6, 5, 5, 5, 5 }, ['O'] = new[] { 7, 5, 5, 5, 7 }, ['P'] = new[] { 7, 5, 7, 4, 4 },
        ['Q'] = new[] { 7, 5, 5, 7, 1 }, ['R'] = new[] { 7, 5, 6, 5, 5 }, ['S'] = new[] { 7, 4, 7, 1, 7 }, ['T'] = new[] { 7, 2, 2, 2, 2 },
        ['U'] = new[] { 5, 5, 5, 5, 7 }, ['V'] = new[] { 5, 5, 5, 5, 2 }, ['W'] = new[] { 5, 5, 7, 7, 5 }, ['X'] = new[] { 5, 5, 2, 5, 5 },
        ['Y'] = new[] { 5, 5, 2, 2, 2 }, ['Z'] = new[] { 7, 1, 2, 4, 7 },
    };

    static void DrawText(byte[] img, int stride, int x0, int y0, string text, int scale)
    {
        int height = img.Length / stride;
        int x = x0;
        foreach (var ch in text.ToUpperInvariant())
        {
            if (Font.TryGetValue(ch, out var glyph))
                for (int r = 0; r < 5; r++)
                    for (int col = 0; col < 3; col++)
                        if ((glyph[r] >> (2 - col) & 1) != 0)
                            for (int dy = 0; dy < scale; dy++)
                                for (int dx = 0; dx < scale; dx++)
                                {
                                    int px = x + col * scale + dx, py = y0 + r * scale + dy;
                                    if (px >= 0 && px < stride && py >= 0 && py < height) img[py * stride + px] = 0;
                                }
            x += 4 * scale;
        }
    }
}
