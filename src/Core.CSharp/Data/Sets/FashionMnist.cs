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
    /// names with or without a .gz suffix, and checks that image and label counts agree.
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
        var images = Idx.Read(Find($"{prefix}-images-idx3-ubyte"), device);
        Tensor labels8;
        try { labels8 = Idx.Read(Find($"{prefix}-labels-idx1-ubyte"), device); }
        catch { images.Dispose(); throw; }
        using (labels8)
        {
            if (images.Dim != 3 || labels8.Dim != 1 || images.Size(0) != labels8.Size(0))
            {
                var msg = $"fashion-mnist: images [{string.Join(", ", images.Shape)}] and labels [{string.Join(", ", labels8.Shape)}] in '{dir}' do not match (expected [N, 28, 28] and [N]).";
                images.Dispose();
                throw new InvalidDataException(msg);
            }
            return (images, labels8.To(DType.Int64));
        }
    }
}
