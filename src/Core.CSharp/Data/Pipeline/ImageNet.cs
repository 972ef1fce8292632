namespace Dsl.Data;

/// <summary>
/// ImageNet's preprocessing presets, as transforms of image batches [N, 3, H, W] (uint8 0…255 or float; RGB), and its
/// 1,000 class names. <see cref="Torchvision(int, int, InterpolationMode)"/> is torchvision's ImageClassification
/// transform (resize the shorter side, center crop, scale to [0, 1], normalise with ImageNet's mean and std; the
/// engine's resize has no antialiasing, so downscaling differs slightly from torchvision's PIL path);
/// <see cref="KerasCaffe"/> and <see cref="KerasTf"/> are Keras's preprocess_input modes "caffe" and "tf".
/// </summary>
public static class ImageNet
{
    /// <summary>ImageNet's per-channel mean of RGB pixels in [0, 1].</summary>
    public static IReadOnlyList<double> Mean { get; } = new[] { 0.485, 0.456, 0.406 };

    /// <summary>ImageNet's per-channel standard deviation of RGB pixels in [0, 1].</summary>
    public static IReadOnlyList<double> Std { get; } = new[] { 0.229, 0.224, 0.225 };

    /// <summary>Keras's "caffe" means, BGR order, on pixels in [0, 255].</summary>
    public static IReadOnlyList<double> CaffeMeanBgr { get; } = new[] { 103.939, 116.779, 123.68 };

    static readonly Lazy<IReadOnlyList<string>> classes = new(() =>
    {
        using var s = typeof(ImageNet).Assembly.GetManifestResourceStream("Dsl.Data.imagenet_classes.txt")
                      ?? throw new InvalidOperationException("imagenet: the class-name resource is missing from Dsl.Data.dll; rebuild Dsl.Data.");
        using var r = new StreamReader(s);
        return r.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    });

    /// <summary>The 1,000 class names, in the order of an ImageNet classifier's outputs (torchvision's list).</summary>
    public static IReadOnlyList<string> Classes => classes.Value;

    static Tensor Rgb(Tensor x, string what)
    {
        var img = Transform.AsNchw(x, what);
        if (img.Size(1) != 3) throw new ArgumentException($"{what}: expects RGB images [N, 3, H, W], got [{string.Join(", ", x.Shape)}]; convert grayscale images to RGB first.");
        return img;
    }

    /// <summary>Resizes so the shorter side is <paramref name="size"/> (torchvision's Resize(int)): the longer side is size·long/short, truncated.</summary>
    public static Transform ResizeShorter(int size, InterpolationMode mode = InterpolationMode.Bilinear) => Transform.FromFunc(x =>
    {
        var img = Transform.AsNchw(x, "ResizeShorter");
        long h = img.Size(2), w = img.Size(3);
        (long oh, long ow) = h <= w ? ((long)size, (long)(size * (double)w / h)) : ((long)(size * (double)h / w), (long)size);
        return new Resize(oh, ow, mode).Apply(img);
    }, $"ResizeShorter({size})");

    /// <summary>Crops the center <paramref name="height"/>×<paramref name="width"/> (torchvision's CenterCrop: the offset is round((H − h)/2)).</summary>
    public static Transform CenterCrop(int height, int width) => Transform.FromFunc(x =>
    {
        var img = Transform.AsNchw(x, "CenterCrop");
        long h = img.Size(2), w = img.Size(3);
        if (h < height || w < width) throw new ArgumentException($"CenterCrop: images of {h}×{w} are smaller than the {height}×{width} crop; resize them first.");
        var top = (long)Math.Round((h - height) / 2.0);
        var left = (long)Math.Round((w - width) / 2.0);
        return img.Narrow(2, top, height).Narrow(3, left, width).Contiguous();
    }, $"CenterCrop({height}×{width})");

    /// <summary>torchvision's ImageNet preset: resize the shorter side to <paramref name="resize"/>, center-crop <paramref name="crop"/>, normalise.</summary>
    public static Transform Torchvision(int resize = 256, int crop = 224, InterpolationMode mode = InterpolationMode.Bilinear) =>
        Transform.Compose(ResizeShorter(resize, mode), CenterCrop(crop, crop), new Normalize(Mean.ToArray(), Std.ToArray()));

    /// <summary>The preset the given weights were trained with (their resize, crop and interpolation).</summary>
    public static Transform Torchvision(PretrainedWeights weights) =>
        Torchvision(weights.ResizeSize, weights.CropSize, weights.Interpolation == "bicubic" ? InterpolationMode.Bicubic : InterpolationMode.Bilinear);

    /// <summary>Keras's "caffe" mode (VGG16, ResNet50 of keras.applications): RGB → BGR, then the BGR means subtracted, on pixels in [0, 255].</summary>
    public static Transform KerasCaffe { get; } = Transform.FromFunc(x =>
    {
        var img = Rgb(x, "KerasCaffe");
        var f = img.DType.IsFloating() ? img : img.To(DType.Float32);
        var mean = Torch.From(CaffeMeanBgr.ToArray(), [1, 3, 1, 1]).To(f.Device, f.DType);
        return f.Flip(1) - mean;
    }, "KerasCaffe");

    /// <summary>Keras's "tf" mode (MobileNet, Inception of keras.applications): pixels in [0, 255] scaled to [−1, 1].</summary>
    public static Transform KerasTf { get; } = Transform.FromFunc(x =>
    {
        var img = Rgb(x, "KerasTf");
        var f = img.DType.IsFloating() ? img : img.To(DType.Float32);
        return f / 127.5 - 1.0;
    }, "KerasTf");
}
