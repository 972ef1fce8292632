namespace Dsl.Data;

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

/// <summary>File formats that <see cref="Image.Encode"/> writes.</summary>
public enum ImageFormat
{
    /// <summary>PNG (lossless).</summary>
    Png = 0,
    /// <summary>JPEG (lossy; quality 1–100).</summary>
    Jpeg = 1,
    /// <summary>WebP, lossless.</summary>
    Webp = 2,
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
    /// <summary>Decode to one luminance channel ([1, H, W], 0.299 R + 0.587 G + 0.114 B) instead of RGB ([3, H, W]).</summary>
    public bool Grayscale { get; init; }
    /// <summary>How the image is brought to Height × Width (ignored without a size).</summary>
    public ImageFit Fit { get; init; } = ImageFit.Stretch;
    /// <summary>
    /// The resampling filter; null (the default) picks <see cref="InterpolationMode.Area"/> when shrinking
    /// (no aliasing) and <see cref="InterpolationMode.Bilinear"/> when enlarging.
    /// </summary>
    public InterpolationMode? Interpolation { get; init; }

    /// <summary>
    /// The largest image (width × height, from the file's header, before decoding) that is decoded; larger ones are
    /// an error, as a small file can announce a huge image (a decompression bomb: a 0.25 MB PNG of 16000 × 16000
    /// costs a gigabyte). The default is <see cref="DefaultMaxPixels"/>; at most <see cref="LargestMaxPixels"/>.
    /// </summary>
    public long MaxPixels { get; init; } = DefaultMaxPixels;

    /// <summary>The default <see cref="MaxPixels"/>: 89,478,485 pixels (Pillow's <c>MAX_IMAGE_PIXELS</c>, about 9459 × 9459).</summary>
    public const long DefaultMaxPixels = 89_478_485;

    /// <summary>The largest <see cref="MaxPixels"/> allowed: 2^28 pixels (a gigabyte of decoded pixels).</summary>
    public const long LargestMaxPixels = 1L << 28;

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
        if (Height > 65535 || Width > 65535)
            throw new ArgumentException($"image options: a size of {Height} x {Width} is too large (at most 65535 on a side).");
        if (MaxPixels is < 1 or > LargestMaxPixels)
            throw new ArgumentException($"image options: MaxPixels must be in 1..{LargestMaxPixels} (2^28), not {MaxPixels}.");
        if (!Enum.IsDefined(Fit)) throw new ArgumentException($"image options: unknown fit {(int)Fit} (use ImageFit.None, Stretch or Cover).");
        if (Interpolation is { } m && !Enum.IsDefined(m))
            throw new ArgumentException($"image options: unknown interpolation {(int)m} (use an InterpolationMode, or null to choose by direction).");
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
