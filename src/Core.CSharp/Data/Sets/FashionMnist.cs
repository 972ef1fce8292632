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
    public static (Tensor Images, Tensor Labels) Load(bool train, string? directory = null, Device? device = null) =>
        MnistFormat.Load("fashion-mnist", "Fashion-MNIST", ClassNames, train, directory ?? DefaultDirectory,
            "Install it with `dotnet fsi build.fsx setup` (Debian package dataset-fashion-mnist) or pass the folder that holds the IDX files.", device);
}
