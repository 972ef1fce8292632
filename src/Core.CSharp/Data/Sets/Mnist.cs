namespace Dsl.Data;

/// <summary>
/// MNIST (LeCun, Cortes and Burges): 60,000 training and 10,000 test 28×28 grayscale images of handwritten digits.
/// It is not installed here: pass the folder holding its four official IDX files (<see cref="DataSources.Mnist"/>;
/// <see cref="Download.Mnist"/> fetches and verifies them).
/// </summary>
public static class Mnist
{
    /// <summary>The ten class names, indexed by label: the digits "0" to "9".</summary>
    public static readonly IReadOnlyList<string> ClassNames = Enumerable.Range(0, 10).Select(d => d.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();

    /// <summary>
    /// Loads a split from <paramref name="directory"/>: images as uint8 [N, 28, 28] and labels as int64 [N]. Looks for
    /// the official file names (train-images-idx3-ubyte, t10k-labels-idx1-ubyte, …) with or without .gz, or with a dot
    /// before "idx" (train-images.idx3-ubyte). The headers must give [N, 28, 28] and [N] (checked before the data is
    /// read) and every label must be a digit (0..9).
    /// </summary>
    public static (Tensor Images, Tensor Labels) Load(bool train, string directory, Device? device = null)
    {
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"mnist: there is no folder '{directory}'. {Hint}");
        return MnistFormat.Load("mnist", "MNIST", ClassNames, train, directory, Hint, device);
    }

    static string Hint =>
        $"Pass the folder that holds MNIST's four IDX files; Download.Mnist(folder) fetches them from {DataSources.Mnist[0].Urls[0]} and checks their MD5s.";
}
