namespace Dsl.Data;

/// <summary>
/// Fashion-MNIST (Zalando): 60,000 training and 10,000 test 28×28 grayscale images in 10 classes.
/// The default folder is where Debian's <c>dataset-fashion-mnist</c> package installs it.
/// </summary>
public static class FashionMnist
{
    /// <summary>Debian's location of the data set.</summary>
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    /// <summary>The ten class names, indexed by label.</summary>
    public static readonly IReadOnlyList<string> ClassNames =
        new[] { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot" };

    /// <summary>
    /// Loads a split: images as uint8 [N, 28, 28] and labels as int64 [N]. Looks for the standard file
    /// names with or without a .gz suffix. The headers must give [N, 28, 28] and [N] (checked before the data
    /// is read) and every label must be one of the ten classes (0..9).
    /// </summary>
    public static (Tensor Images, Tensor Labels) Load(bool train, string? directory = null, Device? device = null)
    {
        var dir = directory ?? DefaultDirectory;
        var prefix = train ? "train" : "t10k";
        string Find(string stem)
        {
            foreach (var name in new[] { stem + ".gz", stem })
                if (File.Exists(Path.Combine(dir, name))) return Path.Combine(dir, name);
            throw new FileNotFoundException(
                $"fashion-mnist: '{stem}(.gz)' is not in '{dir}'. Install it with `dotnet fsi build.fsx setup` (Debian package dataset-fashion-mnist) or pass the folder that holds the IDX files.");
        }
        var (shape, pixels) = Idx.ReadData(Find($"{prefix}-images-idx3-ubyte"), s => s is [_, 28, 28] ? null : "Fashion-MNIST images are [N, 28, 28]");
        var labelFile = Find($"{prefix}-labels-idx1-ubyte");
        var (_, labels) = Idx.ReadData(labelFile, s => s.SequenceEqual(new[] { shape[0] }) ? null : $"the labels must be [{shape[0]}], one per image");
        var span = labels.Span;
        byte classes = (byte)ClassNames.Count;
        int bad = span.IndexOfAnyInRange(classes, byte.MaxValue);
        if (bad >= 0)
        {
            int count = 0;
            foreach (var x in span) if (x >= classes) count++;
            throw new InvalidDataException(
                $"fashion-mnist: '{labelFile}' index {bad} has label {span[bad]}, outside 0..{classes - 1} ({count} labels out of range); the file is corrupt or not a Fashion-MNIST label file.");
        }
        var images = Tensor.FromBytes(pixels.Span, shape, DType.UInt8, device);
        using var labels8 = Tensor.FromBytes(span, new[] { shape[0] }, DType.UInt8, device);
        try { return (images, labels8.To(DType.Int64)); }
        catch { images.Dispose(); throw; }
    }
}
