namespace Dsl.Data;

/// <summary>
/// What MNIST and Fashion-MNIST share: four IDX files (train/t10k images [N, 28, 28] and labels [N], with or without
/// .gz, named as published or with a dot before "idx" as some mirrors do), labels checked against the class names.
/// </summary>
internal static class MnistFormat
{
    /// <summary>
    /// Loads one split of the data set named <paramref name="name"/> (as errors call it) from <paramref name="dir"/>.
    /// <paramref name="missing"/> says how to get the files when one is not there.
    /// </summary>
    public static (Tensor Images, Tensor Labels) Load(string name, string title, IReadOnlyList<string> classNames, bool train, string dir, string missing, Device? device)
    {
        var prefix = train ? "train" : "t10k";
        string Find(string kind)
        {
            var stems = new[] { $"{prefix}-{kind}-idx", $"{prefix}-{kind}.idx" };
            foreach (var stem in stems)
                foreach (var suffix in new[] { ".gz", "" })
                {
                    var path = Path.Combine(dir, stem + (kind == "images" ? "3" : "1") + "-ubyte" + suffix);
                    if (File.Exists(path)) return path;
                }
            throw new FileNotFoundException($"{name}: '{stems[0]}{(kind == "images" ? "3" : "1")}-ubyte(.gz)' is not in '{dir}'. {missing}");
        }
        var (shape, pixels) = Idx.ReadData(Find("images"), s => s is [_, 28, 28] ? null : $"{title} images are [N, 28, 28]");
        var labelFile = Find("labels");
        var (_, labels) = Idx.ReadData(labelFile, s => s.SequenceEqual(new[] { shape[0] }) ? null : $"the labels must be [{shape[0]}], one per image");
        var span = labels.Span;
        byte classes = (byte)classNames.Count;
        int bad = span.IndexOfAnyInRange(classes, byte.MaxValue);
        if (bad >= 0)
        {
            int count = 0;
            foreach (var x in span) if (x >= classes) count++;
            throw new InvalidDataException(
                $"{name}: '{labelFile}' index {bad} has label {span[bad]}, outside 0..{classes - 1} ({count} labels out of range); the file is corrupt or not a {title} label file.");
        }
        var images = Tensor.FromBytes(pixels.Span, shape, DType.UInt8, device);
        using var labels8 = Tensor.FromBytes(span, new[] { shape[0] }, DType.UInt8, device);
        try { return (images, labels8.To(DType.Int64)); }
        catch { images.Dispose(); throw; }
    }
}
