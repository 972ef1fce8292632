using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Security.Cryptography;

namespace Dsl.Data;

/// <summary>The hash a <see cref="RemoteFile"/> is checked against.</summary>
public enum ChecksumKind
{
    /// <summary>MD5 (what most data sets publish).</summary>
    Md5,
    /// <summary>SHA-256.</summary>
    Sha256,
}

/// <summary>
/// A file to download: its name on disk, the URLs to try in order (mirrors), its checksum (lower-case hex)
/// and, when known, its size in bytes.
/// </summary>
public sealed record RemoteFile(string FileName, IReadOnlyList<string> Urls, string Checksum, ChecksumKind Kind = ChecksumKind.Md5, long? Size = null)
{
    /// <summary>A file with one URL.</summary>
    public RemoteFile(string fileName, string url, string checksum, ChecksumKind kind = ChecksumKind.Md5, long? size = null)
        : this(fileName, new[] { url }, checksum, kind, size) { }
}

/// <summary>The official URLs and checksums of the data sets Dsl loads.</summary>
public static class DataSources
{
    const string FashionBase = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/";
    const string FashionGitHub = "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/";
    const string MnistOssci = "https://ossci-datasets.s3.amazonaws.com/mnist/";
    const string MnistLeCun = "http://yann.lecun.com/exdb/mnist/";

    static RemoteFile Two(string name, string a, string b, string md5) => new(name, new[] { a + name, b + name }, md5);

    /// <summary>Fashion-MNIST's four IDX files (MD5s published by Zalando Research in the data set's README).</summary>
    public static IReadOnlyList<RemoteFile> FashionMnist { get; } = new[]
    {
        Two("train-images-idx3-ubyte.gz", FashionBase, FashionGitHub, "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        Two("train-labels-idx1-ubyte.gz", FashionBase, FashionGitHub, "25c81989df183df01b3e8a0aad5dffbe"),
        Two("t10k-images-idx3-ubyte.gz", FashionBase, FashionGitHub, "bef4ecab320f06d8554ea6380940ec79"),
        Two("t10k-labels-idx1-ubyte.gz", FashionBase, FashionGitHub, "bb300cfdad3c16e7a12a480ee83cd310"),
    };

    /// <summary>MNIST's four IDX files (the MD5s torchvision checks; PyTorch's mirror first, then LeCun's site).</summary>
    public static IReadOnlyList<RemoteFile> Mnist { get; } = new[]
    {
        Two("train-images-idx3-ubyte.gz", MnistOssci, MnistLeCun, "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        Two("train-labels-idx1-ubyte.gz", MnistOssci, MnistLeCun, "d53e105ee54ea40749a09fcbcd1e9432"),
        Two("t10k-images-idx3-ubyte.gz", MnistOssci, MnistLeCun, "9fb629c4189551a2d022fa330f9573f3"),
        Two("t10k-labels-idx1-ubyte.gz", MnistOssci, MnistLeCun, "ec29112dd5afa0611ce80d1b7f02629c"),
    };

    /// <summary>CIFAR-10, binary version (MD5 published on the CIFAR page).</summary>
    public static RemoteFile Cifar10 { get; } =
        new(Data.Cifar10.ArchiveName, "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", "c32a1d4ab5d03f1284b67883e8d87530", size: 170_052_171);

    /// <summary>CIFAR-100, binary version (MD5 published on the CIFAR page).</summary>
    public static RemoteFile Cifar100 { get; } =
        new(Data.Cifar100.ArchiveName, "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz", "03b5dce01913d631647c71ecec9e9cb8", size: 168_513_733);

    /// <summary>Imagenette, 160 px version (fast.ai; the MD5 torchvision checks).</summary>
    public static RemoteFile Imagenette160 { get; } =
        new("imagenette2-160.tgz", "https://s3.amazonaws.com/fast-ai-imageclas/imagenette2-160.tgz", "e793b78cc4c9e9a4ccc0c1155377a412");

    /// <summary>
    /// UCI MAGIC Gamma Telescope, magic04.data. UCI publishes no checksum: this SHA-256 pins the original
    /// 19,020-row file (1,496,411 bytes, CRLF line ends).
    /// </summary>
    public static RemoteFile Magic { get; } =
        new("magic04.data", "https://archive.ics.uci.edu/ml/machine-learning-databases/magic/magic04.data",
            "b07bb5bcbb55d0cd762aaea99eb52655668412899c5936632fa3877cf7b109d6", ChecksumKind.Sha256, 1_496_411);

    /// <summary>Why there is no UTKFace entry: the archives are shared through Google Drive links, with no stable URL or checksum.</summary>
    public const string UtkFace =
        "UTKFace has no stable download URL: its authors share the archives through Google Drive links on " + Data.UtkFace.HomePage +
        " and publish no checksums. Download UTKFace.tar.gz by hand, extract it (Download.ExtractTarGz) and pass the folder to UtkFace.Open.";
}

/// <summary>
/// Downloads data-set files: with HttpClient (http, https) or from the file system (file://), into a temporary
/// file beside the target that is renamed into place only once its size and checksum are verified. A target
/// that already exists and verifies is not downloaded again; one that does not verify is replaced.
/// </summary>
public static class Download
{
    static readonly Lazy<HttpClient> SharedClient = new(() =>
    {
        var c = new HttpClient(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None }) { Timeout = TimeSpan.FromMinutes(30) };
        c.DefaultRequestHeaders.UserAgent.ParseAdd("Dsl.Engine/1.0");
        return c;
    });

    /// <summary>
    /// Downloads <paramref name="file"/> into <paramref name="directory"/> (created if needed) and returns its path.
    /// Each URL is tried in turn; the first whose data verifies wins. Throws <see cref="InvalidDataException"/>
    /// naming the file, the URL, and the expected and actual checksums on a mismatch (nothing is left behind),
    /// and <see cref="HttpRequestException"/> listing every URL's failure when none could be fetched.
    /// </summary>
    public static async Task<string> FetchAsync(RemoteFile file, string directory, HttpClient? client = null,
                                                IProgress<long>? progress = null, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrWhiteSpace(file.FileName) || file.FileName != Path.GetFileName(file.FileName))
            throw new ArgumentException($"download: '{file.FileName}' must be a plain file name.", nameof(file));
        if (file.Urls.Count == 0) throw new ArgumentException($"download: {file.FileName} has no URL.", nameof(file));
        Directory.CreateDirectory(directory);
        var target = Path.Combine(directory, file.FileName);
        if (File.Exists(target) && Verify(target, file)) return target;
        var failures = new List<string>();
        InvalidDataException? mismatch = null;
        foreach (var url in file.Urls)
        {
            var temp = Path.Combine(directory, $".{file.FileName}.{Guid.NewGuid():N}.part");
            try
            {
                await FetchTo(url, temp, client ?? SharedClient.Value, progress, cancellationToken).ConfigureAwait(false);
                var problem = Problem(temp, file);
                if (problem is not null)
                {
                    mismatch = new InvalidDataException($"download: {file.FileName} from {url} {problem}; the download was discarded (a corrupt or changed file, or a wrong URL).");
                    failures.Add($"{url}: {problem}");
                    continue;
                }
                File.Move(temp, target, overwrite: true);
                return target;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or UnauthorizedAccessException or NotSupportedException or TaskCanceledException
                                      && !cancellationToken.IsCancellationRequested)
            {
                failures.Add($"{url}: {e.Message}");
            }
            finally
            {
                if (File.Exists(temp)) File.Delete(temp);
            }
        }
        if (mismatch is not null && failures.Count == 1) throw mismatch;
        var all = string.Join("; ", failures);
        if (mismatch is not null) throw new InvalidDataException($"download: no URL gave a verified {file.FileName}: {all}", mismatch);
        throw new HttpRequestException($"download: could not fetch {file.FileName} into '{directory}': {all}");
    }

    /// <summary>Synchronous <see cref="FetchAsync"/>.</summary>
    public static string Fetch(RemoteFile file, string directory, HttpClient? client = null, IProgress<long>? progress = null) =>
        FetchAsync(file, directory, client, progress).GetAwaiter().GetResult();

    /// <summary>True when <paramref name="path"/> exists and has the size and checksum of <paramref name="file"/>.</summary>
    public static bool Verify(string path, RemoteFile file) => File.Exists(path) && Problem(path, file) is null;

    /// <summary>The lower-case hex MD5 or SHA-256 of the file at <paramref name="path"/>.</summary>
    public static string Checksum(string path, ChecksumKind kind)
    {
        using var s = File.OpenRead(path);
        var hash = kind == ChecksumKind.Md5 ? MD5.HashData(s) : SHA256.HashData(s);
        return Convert.ToHexString(hash).ToLowerInvariant();
    }

    static string? Problem(string path, RemoteFile file)
    {
        var length = new FileInfo(path).Length;
        if (file.Size is long size && length != size) return $"has {length} bytes, expected {size}";
        var actual = Checksum(path, file.Kind);
        var name = file.Kind == ChecksumKind.Md5 ? "MD5" : "SHA-256";
        return string.Equals(actual, file.Checksum, StringComparison.OrdinalIgnoreCase) ? null : $"failed its checksum: expected {name} {file.Checksum.ToLowerInvariant()}, got {actual}";
    }

    static async Task FetchTo(string url, string temp, HttpClient client, IProgress<long>? progress, CancellationToken ct)
    {
        var uri = new Uri(url);
        await using var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
        if (uri.IsFile)
        {
            await using var input = File.OpenRead(uri.LocalPath);
            await Copy(input, output, progress, ct).ConfigureAwait(false);
            return;
        }
        if (uri.Scheme is not ("http" or "https")) throw new NotSupportedException($"the URL scheme '{uri.Scheme}' is not supported (use http, https or file)");
        using var response = await client.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
            throw new HttpRequestException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}", null, response.StatusCode);
        await using var body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
        await Copy(body, output, progress, ct).ConfigureAwait(false);
        if (response.Content.Headers.ContentLength is long expected && output.Length != expected)
            throw new IOException($"the connection closed after {output.Length} of {expected} bytes");
    }

    static async Task Copy(Stream input, Stream output, IProgress<long>? progress, CancellationToken ct)
    {
        var buffer = new byte[1 << 16];
        long total = 0;
        int n;
        while ((n = await input.ReadAsync(buffer, ct).ConfigureAwait(false)) > 0)
        {
            await output.WriteAsync(buffer.AsMemory(0, n), ct).ConfigureAwait(false);
            total += n;
            progress?.Report(total);
        }
        await output.FlushAsync(ct).ConfigureAwait(false);
    }

    // ---- per data set ----

    static string FetchAll(IReadOnlyList<RemoteFile> files, string directory, HttpClient? client)
    {
        foreach (var f in files) Fetch(f, directory, client);
        return directory;
    }

    /// <summary>Downloads Fashion-MNIST's four files into <paramref name="directory"/>; returns the folder to pass to <see cref="Data.FashionMnist.Load"/>.</summary>
    public static string FashionMnist(string directory, HttpClient? client = null) => FetchAll(DataSources.FashionMnist, directory, client);

    /// <summary>Downloads MNIST's four IDX files into <paramref name="directory"/>; returns the folder.</summary>
    public static string Mnist(string directory, HttpClient? client = null) => FetchAll(DataSources.Mnist, directory, client);

    /// <summary>Downloads cifar-10-binary.tar.gz; returns its path (which <see cref="Data.Cifar10.Load"/> reads directly).</summary>
    public static string Cifar10(string directory, HttpClient? client = null) => Fetch(DataSources.Cifar10, directory, client);

    /// <summary>Downloads cifar-100-binary.tar.gz; returns its path (which <see cref="Data.Cifar100.Load"/> reads directly).</summary>
    public static string Cifar100(string directory, HttpClient? client = null) => Fetch(DataSources.Cifar100, directory, client);

    /// <summary>Downloads magic04.data; returns its path (for <see cref="Data.Magic.Load"/>).</summary>
    public static string Magic(string directory, HttpClient? client = null) => Fetch(DataSources.Magic, directory, client);

    /// <summary>
    /// Downloads imagenette2-160.tgz and extracts it (unless imagenette2-160/ is already there); returns the
    /// imagenette2-160 folder for <see cref="Imagenette.Open"/>.
    /// </summary>
    public static string Imagenette160(string directory, HttpClient? client = null)
    {
        var root = Path.Combine(directory, "imagenette2-160");
        if (Directory.Exists(Path.Combine(root, "train")) && Directory.Exists(Path.Combine(root, "val"))) return root;
        ExtractTarGz(Fetch(DataSources.Imagenette160, directory, client), directory);
        if (!Directory.Exists(Path.Combine(root, "train")))
            throw new InvalidDataException($"imagenette: the archive did not extract to '{root}'.");
        return root;
    }

    /// <summary>
    /// Extracts a .tar.gz (or .tgz, or plain .tar) into <paramref name="destination"/>: first into a temporary
    /// folder beside it, then each top-level entry is moved into place, so an interrupted extraction leaves
    /// no half-written folder. Entries that would land outside the destination are refused.
    /// </summary>
    public static void ExtractTarGz(string archive, string destination)
    {
        if (!File.Exists(archive)) throw new FileNotFoundException($"extract: no file at '{archive}'.", archive);
        Directory.CreateDirectory(destination);
        var temp = Path.Combine(destination, $".extract-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(temp);
            try
            {
                using var stream = Archive.OpenTar("extract", archive);
                TarFile.ExtractToDirectory(stream, temp, overwriteFiles: false);
            }
            catch (Exception e) when (e is InvalidDataException or EndOfStreamException or FormatException)
            {
                if (e is InvalidDataException && e.Message.StartsWith("extract:")) throw;
                throw new InvalidDataException($"extract: '{archive}' is truncated or corrupt: {e.Message} Re-download it.", e);
            }
            catch (IOException e) when (e is not FileNotFoundException)
            {
                // e.g. an entry that would land outside the destination
                throw new IOException($"extract: '{archive}': {e.Message}", e);
            }
            foreach (var entry in Directory.EnumerateFileSystemEntries(temp))
            {
                var to = Path.Combine(destination, Path.GetFileName(entry));
                if (Directory.Exists(to) || File.Exists(to))
                    throw new IOException($"extract: '{to}' already exists; remove it to extract '{archive}' again.");
                if (Directory.Exists(entry)) Directory.Move(entry, to);
                else File.Move(entry, to);
            }
        }
        finally
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
        }
    }
}
