using System.Globalization;
using System.Text.RegularExpressions;

namespace Dsl.Data;

/// <summary>
/// Published pretrained weights: the URL, the SHA-256 when it is known (else the hash prefix in the file name is
/// checked), and the preprocessing the weights were trained with (torchvision's ImageClassification transform: resize
/// the shorter side to <see cref="ResizeSize"/> with <see cref="Interpolation"/>, center-crop <see cref="CropSize"/>,
/// ImageNet mean and std).
/// </summary>
public sealed record PretrainedWeights(string Name, string Url, string? Sha256 = null, int ResizeSize = 256, int CropSize = 224, string Interpolation = "bilinear")
{
    static readonly Regex HashInName = new(@"-([0-9a-f]{8,64})\.[A-Za-z0-9]+$");

    /// <summary>The file name in the cache: the URL's last segment.</summary>
    public string FileName => Path.GetFileName(new Uri(Url).AbsolutePath);

    /// <summary>The SHA-256 prefix torchvision puts in the file name (resnet18-f37072fd.pth → f37072fd), if any.</summary>
    public string? HashPrefix => HashInName.Match(FileName) is { Success: true } m ? m.Groups[1].Value : null;

    /// <summary>The file to download, checked by the full SHA-256 when known, else by the file name's prefix.</summary>
    public RemoteFile Remote =>
        Sha256 is string h ? new RemoteFile(FileName, Url, h, ChecksumKind.Sha256)
        : HashPrefix is string p ? new RemoteFile(FileName, Url, p, ChecksumKind.Sha256Prefix)
        : throw new ArgumentException($"pretrained: {Url} has no SHA-256 and its file name carries no hash prefix (name-<hex>.pth); give its SHA-256.");
}

/// <summary>
/// Pretrained weights in a cache folder: downloaded once with <see cref="Download"/> (bounded, into a temporary file
/// renamed into place only once verified), with a progress line on stderr. A cached file that no longer verifies
/// (corrupted, or left partial by something else) is fetched again. The cache is <c>$DSL_CACHE/weights</c>, or
/// <c>~/.cache/dsl/weights</c> when DSL_CACHE is not set.
/// </summary>
public static class Pretrained
{
    const string Base = "https://download.pytorch.org/models/";

    static PretrainedWeights Tv(string name, string file, int resize = 256, int crop = 224, string interpolation = "bilinear") =>
        new(name, Base + file, null, resize, crop, interpolation);

    /// <summary>
    /// torchvision 0.14's ImageNet weights for these architectures, as its models/*.py publish them (the IMAGENET1K_V1
    /// weights under the architecture's name, IMAGENET1K_V2 as "&lt;name&gt;.v2").
    /// </summary>
    public static IReadOnlyDictionary<string, PretrainedWeights> Torchvision { get; } = new[]
    {
        Tv("resnet18", "resnet18-f37072fd.pth"),
        Tv("resnet34", "resnet34-b627a593.pth"),
        Tv("resnet50", "resnet50-0676ba61.pth"),
        Tv("resnet50.v2", "resnet50-11ad3fa6.pth", resize: 232),
        Tv("vgg11", "vgg11-8a719046.pth"),
        Tv("vgg11_bn", "vgg11_bn-6002323d.pth"),
        Tv("vgg13", "vgg13-19584684.pth"),
        Tv("vgg13_bn", "vgg13_bn-abd245e5.pth"),
        Tv("vgg16", "vgg16-397923af.pth"),
        Tv("vgg16_bn", "vgg16_bn-6c64b313.pth"),
        Tv("vgg19", "vgg19-dcbb9e9d.pth"),
        Tv("vgg19_bn", "vgg19_bn-c79401a0.pth"),
        Tv("mobilenet_v2", "mobilenet_v2-b0353104.pth"),
        Tv("mobilenet_v2.v2", "mobilenet_v2-7ebf99e0.pth", resize: 232),
        Tv("mobilenet_v3_small", "mobilenet_v3_small-047dcff4.pth"),
        Tv("efficientnet_b0", "efficientnet_b0_rwightman-3dd342df.pth", resize: 256, crop: 224, interpolation: "bicubic"),
    }.ToDictionary(w => w.Name);

    /// <summary>The cache folder: $DSL_CACHE/weights, else ~/.cache/dsl/weights.</summary>
    public static string CacheDirectory =>
        Environment.GetEnvironmentVariable("DSL_CACHE") is { Length: > 0 } root
            ? Path.Combine(root, "weights")
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "dsl", "weights");

    /// <summary>
    /// The path of <paramref name="weights"/> in the cache (<paramref name="directory"/>, else <see cref="CacheDirectory"/>),
    /// downloaded and verified first unless a verified copy is there. <paramref name="progress"/> writes a progress line to
    /// stderr. Errors are <see cref="Download.Fetch"/>'s (a wrong checksum is an <see cref="InvalidDataException"/>).
    /// </summary>
    public static string Fetch(PretrainedWeights weights, string? directory = null, HttpClient? client = null, bool progress = true,
                               CancellationToken cancellationToken = default, DownloadOptions? options = null)
    {
        var file = weights.Remote;
        var dir = directory ?? CacheDirectory;
        var bar = progress ? new ProgressLine(file.FileName, Console.Error) : null;
        try { return Download.Fetch(file, dir, client, bar, cancellationToken, options); }
        finally { bar?.Done(); }
    }

    /// <summary>Fetches the weights at <paramref name="url"/>, checked by <paramref name="sha256"/> or else by the hash prefix in the file name.</summary>
    public static string Fetch(string url, string? sha256 = null, string? directory = null, HttpClient? client = null, bool progress = true,
                               CancellationToken cancellationToken = default, DownloadOptions? options = null) =>
        Fetch(new PretrainedWeights(Path.GetFileNameWithoutExtension(new Uri(url).AbsolutePath), url, sha256), directory, client, progress, cancellationToken, options);

    /// <summary>Fetches torchvision's weights by name (a key of <see cref="Torchvision"/>).</summary>
    public static string FetchTorchvision(string name, string? directory = null) =>
        Torchvision.TryGetValue(name, out var w)
            ? Fetch(w, directory)
            : throw new ArgumentException($"pretrained: no torchvision weights named '{name}'; known: {string.Join(", ", Torchvision.Keys)}.", nameof(name));

    /// <summary>A progress line ("name  12.3 MB  4.1 MB/s"), redrawn at most every 0.2 s, ended by <see cref="Done"/>.</summary>
    internal sealed class ProgressLine(string name, TextWriter to) : IProgress<long>
    {
        readonly System.Diagnostics.Stopwatch clock = System.Diagnostics.Stopwatch.StartNew();
        long last = -1;
        long bytes;
        TimeSpan? drawn;

        /// <summary>Records the bytes so far and redraws when due.</summary>
        public void Report(long value)
        {
            bytes = value;
            if (drawn is not TimeSpan d || clock.Elapsed - d >= TimeSpan.FromSeconds(0.2)) Draw();
        }

        void Draw()
        {
            drawn = clock.Elapsed;
            last = bytes;
            var mb = bytes / 1048576.0;
            var rate = mb / Math.Max(clock.Elapsed.TotalSeconds, 1e-3);
            lock (to) to.Write(string.Format(CultureInfo.InvariantCulture, "\rdownloading {0}  {1:0.0} MB  {2:0.0} MB/s ", name, mb, rate));
        }

        /// <summary>Draws the final count and ends the line (nothing when nothing was downloaded).</summary>
        public void Done()
        {
            if (bytes == 0) return;
            if (last != bytes) Draw();
            lock (to) to.WriteLine();
        }
    }
}
