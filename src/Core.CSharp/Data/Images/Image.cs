using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Runtime.InteropServices;
using Dsl.Engine.IO;
using SkiaSharp;

namespace Dsl.Data;

/// <summary>
/// Decodes, resizes and encodes image files with SkiaSharp. Decoded images are uint8 tensors [C, H, W] with
/// channels in RGB order (C = 3), or [1, H, W] in grayscale (0.299 R + 0.587 G + 0.114 B). JPEG, PNG, BMP,
/// WebP and GIF (its first frame) are read; the EXIF orientation is applied; alpha is dropped; no colour
/// management is done (pixels are the stored values). Corrupt and truncated files are errors naming the file
/// (JPEG scan data is checked by <see cref="JpegScan"/>, as libjpeg only warns about damage), and so are images
/// larger than <see cref="ImageOptions.MaxPixels"/>, refused from their header before decoding.
/// </summary>
public static unsafe class Image
{
    /// <summary>File extensions treated as images (case-insensitive): the formats <see cref="Decode"/> reads.</summary>
    public static readonly IReadOnlySet<string> Extensions =
        new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif" };

    /// <summary>True when <paramref name="path"/> has an image extension (case-insensitive).</summary>
    public static bool IsImageFile(string path) => Extensions.Contains(Path.GetExtension(path));

    /// <summary>Decodes image bytes to uint8 [C, H, W]; <paramref name="name"/> (a file name) is used in errors.</summary>
    public static Tensor Decode(ReadOnlySpan<byte> bytes, ImageOptions? options = null, string? name = null)
    {
        var o = options ?? ImageOptions.Default;
        o.Validate();
        byte[]? buffer = null;
        int h = 0, w = 0, c = o.Channels;
        try
        {
            DecodeInto(bytes, o, o.HasSize ? o.Height : 0, o.HasSize ? o.Width : 0, name, "image", (ih, iw) =>
            {
                (h, w) = (ih, iw);
                buffer = ArrayPool<byte>.Shared.Rent(c * h * w);
                return (buffer.AsMemory(0, c * h * w), 0);
            });
            return Tensor.FromBytes(buffer.AsSpan(0, c * h * w), new long[] { c, h, w }, DType.UInt8);
        }
        finally { if (buffer is not null) ArrayPool<byte>.Shared.Return(buffer); }
    }

    /// <summary>Reads and decodes the image file at <paramref name="path"/> to uint8 [C, H, W].</summary>
    public static Tensor Read(string path, ImageOptions? options = null) => Decode(ReadBytes(path, "image"), options, path);

    /// <summary>
    /// Encodes uint8 [C, H, W] (C = 1 or 3, RGB) or [H, W] (grayscale) as PNG, JPEG or (lossless) WebP bytes;
    /// <paramref name="quality"/> (1–100) is JPEG's. Floating images are taken as [0, 1] and clamped.
    /// </summary>
    public static byte[] Encode(Tensor image, ImageFormat format = ImageFormat.Png, int quality = 95)
    {
        if (!Enum.IsDefined(format)) throw new ArgumentException($"image encode: unknown format {(int)format} (use ImageFormat.Png, Jpeg or Webp).", nameof(format));
        if (quality is < 1 or > 100) throw new ArgumentOutOfRangeException(nameof(quality), $"image encode: quality must be in 1..100, not {quality}.");
        var (pixels, c, h, w) = Planes(image, "image encode");
        using var bitmap = ToBitmap(pixels, c, h, w);
        using var data = format switch
        {
            ImageFormat.Png => bitmap.Encode(SKEncodedImageFormat.Png, 100),
            ImageFormat.Jpeg => bitmap.Encode(SKEncodedImageFormat.Jpeg, quality),
            _ => bitmap.PeekPixels().Encode(new SKWebpEncoderOptions(SKWebpEncoderCompression.Lossless, 75)),
        };
        if (data is null) throw new InvalidOperationException($"image encode: SkiaSharp could not encode a {w} x {h} image as {format}.");
        return data.ToArray();
    }

    /// <summary>
    /// Writes <paramref name="image"/> to <paramref name="path"/> atomically (a temporary file, then a rename), in
    /// the format its extension names (.png, .jpg/.jpeg, .webp); see <see cref="Encode"/>.
    /// </summary>
    public static void Write(string path, Tensor image, int quality = 95)
    {
        var format = FormatOf(path);
        var bytes = Encode(image, format, quality);
        AtomicFile.Write(path, s => s.Write(bytes));
    }

    /// <summary>The format an output file's extension names; an error for any other extension.</summary>
    public static ImageFormat FormatOf(string path) => Path.GetExtension(path).ToLowerInvariant() switch
    {
        ".png" => ImageFormat.Png,
        ".jpg" or ".jpeg" => ImageFormat.Jpeg,
        ".webp" => ImageFormat.Webp,
        var e => throw new ArgumentException($"image: cannot write '{path}': unknown extension '{e}' (use .png, .jpg, .jpeg or .webp)."),
    };

    // ---------------------------------------------------------------- shared by the folder loaders

    internal static byte[] ReadBytes(string path, string who)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{who}: no file at '{path}'.", path);
        try { return File.ReadAllBytes(path); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new InvalidDataException($"{who}: cannot read '{path}': {e.Message}", e);
        }
    }

    /// <summary>Decodes the files into one uint8 batch [N, C, H, W] (in parallel when asked). Without a size in
    /// <paramref name="options"/> the first image sets the size and every other must match it.</summary>
    internal static Tensor ReadBatch(IReadOnlyList<string> paths, ImageOptions options, bool parallel, string who)
    {
        options.Validate();
        if (paths.Count == 0) throw new InvalidOperationException($"{who}: there are no images to load.");
        int h = options.Height, w = options.Width;
        if (!options.HasSize)
            (h, w) = DecodeInto(ReadBytes(paths[0], who), options, 0, 0, paths[0], who, (ih, iw) => (new byte[options.Channels * ih * iw], (ih, iw)));
        int c = options.Channels;
        long per = (long)c * h * w;
        if (per * paths.Count > int.MaxValue)
            throw new InvalidOperationException($"{who}: {paths.Count} images of {c} x {h} x {w} need {per * paths.Count:N0} bytes, over the 2 GiB a batch may hold; load fewer at a time (a DataLoader over the folder decodes batch by batch).");
        var batch = new byte[per * paths.Count];
        var errors = new ConcurrentDictionary<int, Exception>();
        var sized = options with { Height = h, Width = w, Fit = options.HasSize ? options.Fit : ImageFit.Stretch };
        void One(int i)
        {
            try
            {
                DecodeInto(ReadBytes(paths[i], who), sized, options.HasSize ? h : 0, options.HasSize ? w : 0, paths[i], who, (ih, iw) =>
                {
                    if (ih != h || iw != w)
                        throw new InvalidDataException($"{who}: '{paths[i]}' is {iw} x {ih} (width x height) but the batch holds {w} x {h} images; give a size to resize to (ImageOptions.Resize).");
                    return (batch.AsMemory((int)(i * per), (int)per), 0);
                });
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or FileNotFoundException)
            {
                errors[i] = e;
            }
        }
        if (parallel && paths.Count > 1)
            Parallel.For(0, paths.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, (i, state) =>
            {
                One(i);
                if (!errors.IsEmpty) state.Stop();
            });
        else
            for (int i = 0; i < paths.Count && errors.IsEmpty; i++) One(i);
        if (!errors.IsEmpty)
        {
            var first = errors.MinBy(kv => kv.Key).Value;
            if (errors.Count == 1) throw first;
            throw new InvalidDataException($"{first.Message} (and {errors.Count - 1} more image(s) failed)", first);
        }
        return Tensor.FromBytes(batch, new long[] { paths.Count, c, h, w }, DType.UInt8);
    }

    // ---------------------------------------------------------------- decoding

    /// <summary>
    /// Decodes to planes [C, H, W] (RGB or gray) brought to <paramref name="height"/> × <paramref name="width"/>
    /// by the options' fit (0 × 0 keeps the decoded size), written into the span it
    /// gets from <paramref name="target"/> (given the final height and width). Errors are InvalidDataException
    /// naming the file.
    /// </summary>
    static T DecodeInto<T>(ReadOnlySpan<byte> bytes, ImageOptions o, int height, int width, string? name, string who, Func<int, int, (Memory<byte> Planes, T Result)> target)
    {
        string Where() => name is null ? "" : $"'{name}': ";
        var kind = ImageSignature.Check(bytes, m => new InvalidDataException($"{who}: {Where()}{m}"));
        using var data = SKData.CreateCopy(bytes);
        using var codec = SKCodec.Create(data)
                          ?? throw new InvalidDataException($"{who}: {Where()}corrupt {kind} data ({bytes.Length} bytes): the decoder rejected its header.");
        CheckSize(codec.Info.Width, codec.Info.Height, o.MaxPixels, kind, who, Where);
        if (kind == "JPEG") JpegScan.Check(bytes, m => new InvalidDataException($"{who}: {Where()}{m}"));
        bool resize = height > 0 && width > 0;
        var (pixels, sw, sh) = DecodeBgra(codec, kind, resize ? DecodeScale(codec, height, width) : 1f, who, Where);
        try
        {
            if (codec.EncodedOrigin != SKEncodedOrigin.TopLeft) (pixels, sw, sh) = Orient(pixels, sw, sh, codec.EncodedOrigin);
            if (resize && (height != sh || width != sw || o.Fit == ImageFit.Cover))
            {
                var resized = Resize(pixels, sw, sh, height, width, o);
                ArrayPool<uint>.Shared.Return(pixels);
                (pixels, sw, sh) = (resized, width, height);
            }
            var (planes, result) = target(sh, sw);
            WritePlanes(pixels, sw * sh, o.Grayscale, planes.Span);
            return result;
        }
        finally { ArrayPool<uint>.Shared.Return(pixels); }
    }

    // The header's size, checked before any pixel is decoded: a small file can announce a huge image (a decompression bomb).
    static void CheckSize(int w, int h, long maxPixels, string kind, string who, Func<string> where)
    {
        if (w <= 0 || h <= 0)
            throw new InvalidDataException($"{who}: {where()}the {kind} header gives a size of {w} x {h} pixels, which is not a decodable image.");
        long n = (long)w * h;
        if (n > maxPixels)
            throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                $"{who}: {where()}the {kind} header gives {w} x {h} = {n:N0} pixels, over the limit of {maxPixels:N0} (ImageOptions.MaxPixels, a guard against decompression bombs); raise it for a file you trust (decoding takes about {7 * n / (1 << 20):N0} MiB)."));
    }

    // A JPEG can be decoded at 1/2, 1/4 or 1/8 of its size by libjpeg's scaled IDCT (as PIL's draft mode), which is
    // much faster than decoding it whole and shrinking it: the smallest such scale that still covers the target.
    static float DecodeScale(SKCodec codec, int height, int width)
    {
        if (codec.EncodedFormat != SKEncodedImageFormat.Jpeg) return 1f;
        bool swap = (int)codec.EncodedOrigin >= (int)SKEncodedOrigin.LeftTop;
        foreach (var s in new[] { 0.125f, 0.25f, 0.5f })
        {
            var d = codec.GetScaledDimensions(s);
            int dw = swap ? d.Height : d.Width, dh = swap ? d.Width : d.Height;
            if (dw >= width && dh >= height) return s;
        }
        return 1f;
    }

    // Decodes every pixel as BGRA (8 bits a channel, unpremultiplied, no colour conversion) into a pooled buffer,
    // at the given scale (1, or a scale the codec supports).
    static (uint[] Pixels, int W, int H) DecodeBgra(SKCodec codec, string kind, float scale, string who, Func<string> where)
    {
        int w = codec.Info.Width, h = codec.Info.Height;
        if (scale < 1f)
        {
            var d = codec.GetScaledDimensions(scale);
            (w, h) = (d.Width, d.Height);
        }
        var info = new SKImageInfo(w, h, SKColorType.Bgra8888, SKAlphaType.Unpremul);
        var buffer = ArrayPool<uint>.Shared.Rent(w * h);
        var handle = GCHandle.Alloc(buffer, GCHandleType.Pinned);
        try
        {
            var result = codec.GetPixels(info, handle.AddrOfPinnedObject());
            switch (result)
            {
                case SKCodecResult.Success: return (buffer, w, h);
                case SKCodecResult.IncompleteInput:
                    throw new InvalidDataException($"{who}: {where()}truncated {kind}: the data ends inside the image; the file was cut short, re-download or re-export it.");
                default:
                    throw new InvalidDataException($"{who}: {where()}corrupt {kind} data: the decoder stopped with '{result}'.");
            }
        }
        catch
        {
            ArrayPool<uint>.Shared.Return(buffer);
            throw;
        }
        finally { handle.Free(); }
    }

    // Applies an EXIF orientation: the stored pixels become the displayed ones (a lossless remapping).
    static (uint[] Pixels, int W, int H) Orient(uint[] src, int w, int h, SKEncodedOrigin origin)
    {
        bool swap = (int)origin >= (int)SKEncodedOrigin.LeftTop;
        int ow = swap ? h : w, oh = swap ? w : h;
        var dst = ArrayPool<uint>.Shared.Rent(w * h);
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++)
            {
                // (sx, sy): the stored pixel shown at (x, y).
                var (sx, sy) = origin switch
                {
                    SKEncodedOrigin.TopRight => (w - 1 - x, y),
                    SKEncodedOrigin.BottomRight => (w - 1 - x, h - 1 - y),
                    SKEncodedOrigin.BottomLeft => (x, h - 1 - y),
                    SKEncodedOrigin.LeftTop => (y, x),
                    SKEncodedOrigin.RightTop => (y, h - 1 - x),
                    SKEncodedOrigin.RightBottom => (w - 1 - y, h - 1 - x),
                    SKEncodedOrigin.LeftBottom => (w - 1 - y, x),
                    _ => (x, y),
                };
                dst[y * ow + x] = src[sy * w + sx];
            }
        ArrayPool<uint>.Shared.Return(src);
        return (dst, ow, oh);
    }

    /// <summary>The SkiaSharp sampling for a mode; null picks area when shrinking and bilinear when enlarging.</summary>
    internal static SKSamplingOptions Sampling(InterpolationMode? mode, bool shrinking) => (mode ?? (shrinking ? InterpolationMode.Area : InterpolationMode.Bilinear)) switch
    {
        InterpolationMode.Nearest => new SKSamplingOptions(SKFilterMode.Nearest, SKMipmapMode.None),
        InterpolationMode.Bilinear => new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.None),
        InterpolationMode.Bicubic => new SKSamplingOptions(SKCubicResampler.CatmullRom),
        // Area averaging: bilinear sampling of the box-filtered mipmap level nearest the scale.
        _ => new SKSamplingOptions(SKFilterMode.Linear, SKMipmapMode.Nearest),
    };

    // Stretch: the whole image to height × width. Cover: the centred region of the target's aspect ratio.
    // Drawn on a canvas over BGRA pixels taken as opaque (alpha is dropped), Skia's fast path.
    static uint[] Resize(uint[] src, int w, int h, int height, int width, ImageOptions o)
    {
        var region = new SKRect(0, 0, w, h);
        if (o.Fit == ImageFit.Cover)
        {
            double scale = Math.Max((double)height / h, (double)width / w);
            float cw = (float)Math.Min(w, width / scale), ch = (float)Math.Min(h, height / scale);
            region = SKRect.Create((w - cw) / 2, (h - ch) / 2, cw, ch);
        }
        var dst = ArrayPool<uint>.Shared.Rent(height * width);
        var sh = GCHandle.Alloc(src, GCHandleType.Pinned);
        var dh = GCHandle.Alloc(dst, GCHandleType.Pinned);
        try
        {
            if (region.Width == width && region.Height == height && region.Left == (int)region.Left && region.Top == (int)region.Top)
            {
                for (int y = 0; y < height; y++)
                    Array.Copy(src, ((int)region.Top + y) * w + (int)region.Left, dst, y * width, width);
                return dst;
            }
            using var image = SKImage.FromPixels(new SKImageInfo(w, h, SKColorType.Bgra8888, SKAlphaType.Opaque), sh.AddrOfPinnedObject(), 4 * w);
            using var surface = SKSurface.Create(new SKImageInfo(width, height, SKColorType.Bgra8888, SKAlphaType.Opaque), dh.AddrOfPinnedObject(), 4 * width)
                                ?? throw new InvalidOperationException($"image: SkiaSharp could not make a {width} x {height} canvas.");
            bool shrinking = height <= region.Height && width <= region.Width;
            surface.Canvas.DrawImage(image, region, new SKRect(0, 0, width, height), Sampling(o.Interpolation, shrinking));
            surface.Canvas.Flush();
            return dst;
        }
        catch
        {
            ArrayPool<uint>.Shared.Return(dst);
            throw;
        }
        finally
        {
            sh.Free();
            dh.Free();
        }
    }

    // BGRA pixels (B in the lowest byte) to planes [3, H, W] in RGB order, or one luminance plane [1, H, W]
    // (OpenCV's and libjpeg's fixed-point 0.299 R + 0.587 G + 0.114 B, rounded).
    static unsafe void WritePlanes(uint[] bgra, int n, bool gray, Span<byte> planes)
    {
        if (planes.Length != (gray ? n : 3 * n)) throw new InvalidOperationException($"image: {planes.Length} bytes for {n} pixels.");
        fixed (uint* src = bgra)
        fixed (byte* dst = planes)
        {
            if (gray)
                for (int i = 0; i < n; i++)
                {
                    uint p = src[i];
                    dst[i] = (byte)((4899 * ((p >> 16) & 0xFF) + 9617 * ((p >> 8) & 0xFF) + 1868 * (p & 0xFF) + 8192) >> 14);
                }
            else
            {
                byte* r = dst, g = dst + n, b = dst + 2 * n;
                for (int i = 0; i < n; i++)
                {
                    uint p = src[i];
                    r[i] = (byte)(p >> 16);
                    g[i] = (byte)(p >> 8);
                    b[i] = (byte)p;
                }
            }
        }
    }

    // ---------------------------------------------------------------- encoding

    /// <summary>
    /// The bytes of an image tensor as planes: [H, W] or [C, H, W] with C = 1 or 3; uint8 as is, floating
    /// tensors taken as [0, 1] (clamped, rounded), other integer types clamped to 0..255.
    /// </summary>
    internal static (byte[] Pixels, int C, int H, int W) Planes(Tensor image, string who)
    {
        image.ThrowIfDisposed(who);
        using var scope = DisposeScope.Enter();
        var t = image.Dim switch
        {
            2 => image.Unsqueeze(0),
            3 => image.Alias(),
            _ => throw new ArgumentException($"{who}: expected an image [C, H, W] or [H, W], got [{string.Join(", ", image.Shape)}]."),
        };
        long c = t.Size(0), h = t.Size(1), w = t.Size(2);
        if (c is not (1 or 3)) throw new ArgumentException($"{who}: an image [C, H, W] needs C = 1 (gray) or 3 (RGB), not {c} (shape [{string.Join(", ", image.Shape)}]).");
        if (h < 1 || w < 1 || h > 65535 || w > 65535) throw new ArgumentException($"{who}: an image of {w} x {h} pixels cannot be encoded (1..65535 on a side).");
        var bytes = ToBytes(t).Contiguous().Cpu();
        return (bytes.ToArray<byte>(), (int)c, (int)h, (int)w);
    }

    static Tensor ToBytes(Tensor t) =>
        t.DType == DType.UInt8 ? t.Alias()
        : t.DType.IsFloating() ? (t.Clamp(0, 1) * 255.0).Round().To(DType.UInt8)
        : t.DType == DType.Bool ? t.To(DType.UInt8) * 255L
        : t.Clamp(0, 255).To(DType.UInt8);

    /// <summary>An opaque RGBA bitmap from planes [C, H, W] (C = 1: gray in all three colours).</summary>
    internal static SKBitmap ToBitmap(byte[] planes, int c, int h, int w)
    {
        var bitmap = new SKBitmap(new SKImageInfo(w, h, SKColorType.Rgba8888, SKAlphaType.Unpremul));
        var pixels = MemoryMarshal.Cast<byte, uint>(bitmap.GetPixelSpan());
        int n = w * h;
        for (int i = 0; i < n; i++)
        {
            uint r = planes[i], g = c == 1 ? r : planes[n + i], b = c == 1 ? r : planes[2 * n + i];
            pixels[i] = r | g << 8 | b << 16 | 0xFF000000u;
        }
        return bitmap;
    }
}
