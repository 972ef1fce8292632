using System.Collections.Concurrent;
using Dsl.Engine.Interop;

namespace Dsl.Engine.Data;

/// <summary>How a decoded image is brought to the size asked for in <see cref="ImageOptions"/>.</summary>
public enum ImageFit
{
    /// <summary>Keep the decoded size (the height and width of the options are ignored).</summary>
    None = 0,
    /// <summary>Resize to exactly height × width, ignoring the aspect ratio (as torchvision's <c>Resize((h, w))</c>).</summary>
    Stretch = 1,
    /// <summary>Scale so that the image covers height × width, keeping its aspect ratio, then take the centre
    /// (as torchvision's <c>Resize(min(h, w))</c> followed by <c>CenterCrop((h, w))</c>).</summary>
    Cover = 2,
}

/// <summary>The resampling filter used when resizing.</summary>
public enum ImageInterpolation
{
    /// <summary>Area averaging when shrinking (no aliasing), bilinear when enlarging.</summary>
    Auto = 0,
    /// <summary>Nearest neighbour.</summary>
    Nearest = 1,
    /// <summary>Bilinear.</summary>
    Linear = 2,
    /// <summary>Area averaging (OpenCV's INTER_AREA).</summary>
    Area = 3,
    /// <summary>Bicubic.</summary>
    Cubic = 4,
}

/// <summary>File formats that <see cref="Image.Encode"/> writes.</summary>
public enum ImageFormat
{
    /// <summary>PNG (lossless).</summary>
    Png = 0,
    /// <summary>JPEG (lossy; quality 1–100).</summary>
    Jpeg = 1,
    /// <summary>BMP (uncompressed).</summary>
    Bmp = 2,
}

/// <summary>
/// How images are decoded: RGB or grayscale, and the size to bring them to. With no size (the default)
/// images keep their decoded size, so a batch of them must all have the same size.
/// </summary>
public sealed record ImageOptions
{
    /// <summary>Target height in pixels; 0 keeps the decoded size.</summary>
    public int Height { get; init; }
    /// <summary>Target width in pixels; 0 keeps the decoded size.</summary>
    public int Width { get; init; }
    /// <summary>Decode to one luminance channel ([1, H, W]) instead of RGB ([3, H, W]).</summary>
    public bool Grayscale { get; init; }
    /// <summary>How the image is brought to Height × Width (ignored without a size).</summary>
    public ImageFit Fit { get; init; } = ImageFit.Stretch;
    /// <summary>The resampling filter.</summary>
    public ImageInterpolation Interpolation { get; init; } = ImageInterpolation.Auto;

    /// <summary>RGB at the decoded size.</summary>
    public static ImageOptions Default { get; } = new();

    /// <summary>Resized to <paramref name="height"/> × <paramref name="width"/> (stretched unless <paramref name="fit"/> says otherwise).</summary>
    public static ImageOptions Resize(int height, int width, bool grayscale = false, ImageFit fit = ImageFit.Stretch) =>
        new() { Height = height, Width = width, Grayscale = grayscale, Fit = fit };

    /// <summary>Number of channels of a decoded image: 1 (grayscale) or 3 (RGB).</summary>
    public int Channels => Grayscale ? 1 : 3;

    /// <summary>True when every decoded image is brought to one fixed size.</summary>
    public bool HasSize => Height > 0 && Width > 0 && Fit != ImageFit.None;

    internal void Validate()
    {
        if (Height < 0 || Width < 0 || (Height == 0) != (Width == 0))
            throw new ArgumentException($"image options: height and width must both be positive (or both 0 to keep the decoded size), not {Height} x {Width}.");
        if (!Enum.IsDefined(Fit)) throw new ArgumentException($"image options: unknown fit {Fit}.");
        if (!Enum.IsDefined(Interpolation)) throw new ArgumentException($"image options: unknown interpolation {Interpolation}.");
    }
}

/// <summary>
/// Decodes and encodes image files with OpenCV (in the native shim). Decoded images are uint8 tensors
/// [C, H, W] with channels in RGB order (C = 3), or [1, H, W] in grayscale. JPEG, PNG, BMP, WebP, TIFF and
/// PNM are read; EXIF orientation is applied. Corrupt and truncated files are errors naming the file.
/// </summary>
public static unsafe class Image
{
    /// <summary>File extensions treated as images (lower case, as torchvision's IMG_EXTENSIONS).</summary>
    public static readonly IReadOnlySet<string> Extensions =
        new HashSet<string>(StringComparer.OrdinalIgnoreCase) { ".jpg", ".jpeg", ".png", ".bmp", ".ppm", ".pgm", ".pbm", ".tif", ".tiff", ".webp" };

    /// <summary>True when <paramref name="path"/> has an image extension (case-insensitive).</summary>
    public static bool IsImageFile(string path) => Extensions.Contains(Path.GetExtension(path));

    /// <summary>Decodes image bytes to uint8 [C, H, W]; <paramref name="name"/> (a file name) is used in errors.</summary>
    public static Tensor Decode(ReadOnlySpan<byte> bytes, ImageOptions? options = null, string? name = null)
    {
        var o = options ?? ImageOptions.Default;
        o.Validate();
        fixed (byte* p = bytes)
        {
            var h = Native.dsl_image_decode(p, bytes.Length, o.Grayscale ? 1 : 0, o.HasSize ? o.Height : 0, o.HasSize ? o.Width : 0,
                                            o.HasSize ? (int)o.Fit : 0, (int)o.Interpolation);
            if (h == 0) throw new InvalidDataException($"image: {(name is null ? "" : $"'{name}': ")}{NativeMessage("image_decode")}");
            return new Tensor(h);
        }
    }

    /// <summary>Reads and decodes the image file at <paramref name="path"/> to uint8 [C, H, W].</summary>
    public static Tensor Read(string path, ImageOptions? options = null) => Decode(ReadBytes(path), options, path);

    /// <summary>Encodes uint8 [C, H, W] (C = 1 or 3, RGB) or [H, W] as PNG, JPEG or BMP bytes.</summary>
    public static byte[] Encode(Tensor image, ImageFormat format = ImageFormat.Png, int quality = 95)
    {
        using var bytes = Errors.T(Native.dsl_image_encode(image.Handle, (int)format, quality), "image_encode", image);
        return bytes.ToArray<byte>();
    }

    /// <summary>Writes <paramref name="image"/> to <paramref name="path"/>, in the format its extension names (.png, .jpg/.jpeg, .bmp).</summary>
    public static void Write(string path, Tensor image, int quality = 95)
    {
        var format = Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".png" => ImageFormat.Png,
            ".jpg" or ".jpeg" => ImageFormat.Jpeg,
            ".bmp" => ImageFormat.Bmp,
            var e => throw new ArgumentException($"image: cannot write '{path}': unknown extension '{e}' (use .png, .jpg, .jpeg or .bmp)."),
        };
        File.WriteAllBytes(path, Encode(image, format, quality));
    }

    // ---- shared by the folder loaders ----

    internal static byte[] ReadBytes(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"image: no file at '{path}'.", path);
        return File.ReadAllBytes(path);
    }

    internal static string NativeMessage(string op) => Errors.Fail(op) is TorchException t ? t.NativeMessage : "unknown native error";

    /// <summary>Decodes the files into one uint8 batch [N, C, H, W] (in parallel when asked). Without a size in
    /// <paramref name="options"/> the first image sets the size and every other must match it.</summary>
    internal static Tensor ReadBatch(IReadOnlyList<string> paths, ImageOptions options, bool parallel, string who)
    {
        options.Validate();
        if (paths.Count == 0) throw new InvalidOperationException($"{who}: there are no images to load.");
        long h = options.Height, w = options.Width;
        var fit = options.HasSize ? options.Fit : ImageFit.None;
        if (!options.HasSize)
        {
            using var first = Read(paths[0], options);
            h = first.Size(1);
            w = first.Size(2);
        }
        var batch = Torch.Empty(new long[] { paths.Count, options.Channels, h, w }, DType.UInt8);
        var handle = batch.Handle;
        var errors = new ConcurrentDictionary<int, Exception>();
        void One(int i)
        {
            try
            {
                var bytes = ReadBytes(paths[i]);
                fixed (byte* p = bytes)
                    if (Native.dsl_image_decode_into(handle, i, p, bytes.Length, options.Grayscale ? 1 : 0, (int)fit, (int)options.Interpolation) < 0)
                        throw new InvalidDataException($"{who}: '{paths[i]}': {NativeMessage("image_decode")}");
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                errors[i] = e is InvalidDataException ? e : new InvalidDataException($"{who}: cannot read '{paths[i]}': {e.Message}", e);
            }
        }
        try
        {
            if (parallel && paths.Count > 1)
                Parallel.For(0, paths.Count, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, (i, state) =>
                {
                    One(i);
                    if (!errors.IsEmpty) state.Stop();
                });
            else
                for (int i = 0; i < paths.Count && errors.IsEmpty; i++) One(i);
            GC.KeepAlive(batch);
        }
        catch
        {
            batch.Dispose();
            throw;
        }
        if (!errors.IsEmpty)
        {
            batch.Dispose();
            var first = errors.MinBy(kv => kv.Key).Value;
            if (errors.Count == 1) throw first;
            throw new InvalidDataException($"{first.Message} (and {errors.Count - 1} more image(s) failed)", first);
        }
        return batch;
    }
}

/// <summary>Images with one class label each: uint8 images [N, C, H, W], int64 labels [N] and the class names.</summary>
public record LabeledImages(Tensor Images, Tensor Labels, IReadOnlyList<string> ClassNames) : IDisposable
{
    /// <summary>Number of images.</summary>
    public long Count => Labels.Size(0);

    /// <summary>Frees the image and label tensors.</summary>
    public virtual void Dispose()
    {
        Images.Dispose();
        Labels.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>A file that a loader skipped, and why.</summary>
public sealed record SkippedFile(string Path, string Reason);
