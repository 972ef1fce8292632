using System.Collections.Concurrent;
using System.Formats.Tar;
using System.Globalization;
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
    /// <summary>
    /// The first hex digits of a SHA-256 (at least 8), when only they are published: torchvision's file names carry
    /// them (resnet18-f37072fd.pth).
    /// </summary>
    Sha256Prefix,
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
/// The limits of a download (<see cref="Download.Fetch"/>, <see cref="Download.FetchAsync"/>). A timeout may be
/// <see cref="Timeout.InfiniteTimeSpan"/> to switch it off. <see cref="Default"/> holds the defaults.
/// </summary>
public sealed record DownloadOptions
{
    /// <summary>The defaults: connect 30 s, headers 60 s, stall 60 s, no transfer timeout, 16 GiB for a file of unknown size.</summary>
    public static DownloadOptions Default { get; } = new();

    /// <summary>The longest wait to establish a connection; it applies to Dsl's own HttpClient, not to one passed in.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest wait from sending a request to its response headers, connecting included.</summary>
    public TimeSpan HeaderTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The longest gap between two pieces of the body: a server that sends nothing for this long fails (a slow trickle does not).</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// When set, the longest one URL's transfer may take, from the request to the last byte (each mirror tried gets
    /// the whole of it); none by default. To bound a whole call, cancel its token.
    /// </summary>
    public TimeSpan? TransferTimeout { get; init; }

    /// <summary>The most bytes accepted for a file whose <see cref="RemoteFile.Size"/> is unknown (a file of known size gets no more than that).</summary>
    public long MaxUnknownSize { get; init; } = 16L << 30;

    internal void Validate()
    {
        static void Check(TimeSpan t, string name)
        {
            if (t != Timeout.InfiniteTimeSpan && (t <= TimeSpan.Zero || t.TotalMilliseconds > uint.MaxValue - 1))
                throw new ArgumentOutOfRangeException(name, t, $"download: DownloadOptions.{name} must be positive (or Timeout.InfiniteTimeSpan).");
        }
        Check(ConnectTimeout, nameof(ConnectTimeout));
        Check(HeaderTimeout, nameof(HeaderTimeout));
        Check(StallTimeout, nameof(StallTimeout));
        if (TransferTimeout is TimeSpan t) Check(t, nameof(TransferTimeout));
        if (MaxUnknownSize <= 0) throw new ArgumentOutOfRangeException(nameof(MaxUnknownSize), MaxUnknownSize, "download: DownloadOptions.MaxUnknownSize must be positive.");
    }
}

/// <summary>
/// Downloads data-set files: with HttpClient (http, https) or from the file system (file://), into a temporary
/// file beside the target that is renamed into place only once its size and checksum are verified. A target
/// that already exists and verifies is not downloaded again; one that does not verify is replaced. Every
/// transfer is bounded by <see cref="DownloadOptions"/>: a header timeout, a stall timeout on the body, an optional
/// transfer timeout, and a size limit (the file's known size, else <see cref="DownloadOptions.MaxUnknownSize"/>).
/// </summary>
public static class Download
{
    // Dsl's own clients, one per connect timeout. Their HttpClient.Timeout is off: the options' timeouts apply instead.
    static readonly ConcurrentDictionary<TimeSpan, HttpClient> Clients = new();

    static HttpClient ClientFor(TimeSpan connectTimeout) => Clients.GetOrAdd(connectTimeout, t =>
    {
        var c = new HttpClient(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None, ConnectTimeout = t }) { Timeout = Timeout.InfiniteTimeSpan };
        c.DefaultRequestHeaders.UserAgent.ParseAdd("Dsl.Engine/1.0");
        return c;
    });

    /// <summary>
    /// Downloads <paramref name="file"/> into <paramref name="directory"/> (created if needed) and returns its path.
    /// Each URL is tried in turn; the first whose data verifies wins, and a URL that fails moves on to the next.
    /// Nothing is left behind on a failure. With one URL its failure is thrown: <see cref="TimeoutException"/> (no
    /// connection, no headers, a stalled body, <see cref="DownloadOptions.TransferTimeout"/>), <see cref="IOException"/>
    /// (a body cut short), <see cref="InvalidDataException"/> (more bytes than the limit, a wrong size or checksum),
    /// <see cref="HttpRequestException"/> (an HTTP error, an unsupported URL); each message names the file, the URL,
    /// what happened and what to do. With several, the error lists each URL's failure (the inner
    /// <see cref="AggregateException"/> holds them): an <see cref="InvalidDataException"/> if a URL gave wrong data,
    /// else the type they share, else <see cref="HttpRequestException"/>. Cancelling <paramref name="cancellationToken"/>
    /// throws <see cref="OperationCanceledException"/> at once, without trying the remaining URLs.
    /// </summary>
    public static async Task<string> FetchAsync(RemoteFile file, string directory, HttpClient? client = null, IProgress<long>? progress = null,
                                                CancellationToken cancellationToken = default, DownloadOptions? options = null)
    {
        if (string.IsNullOrWhiteSpace(file.FileName) || file.FileName != Path.GetFileName(file.FileName))
            throw new ArgumentException($"download: '{file.FileName}' must be a plain file name.", nameof(file));
        if (file.Urls.Count == 0) throw new ArgumentException($"download: {file.FileName} has no URL.", nameof(file));
        options ??= DownloadOptions.Default;
        options.Validate();
        Directory.CreateDirectory(directory);
        var target = Path.Combine(directory, file.FileName);
        if (File.Exists(target) && Verify(target, file)) return target;
        var failures = new List<(string Url, Exception Error)>();
        foreach (var url in file.Urls)
        {
            var temp = Path.Combine(directory, $".{file.FileName}.{Guid.NewGuid():N}.part");
            try
            {
                await FetchTo(file, url, temp, client, options, progress, cancellationToken).ConfigureAwait(false);
                if (Problem(temp, file) is string problem)
                    throw new InvalidDataException($"{problem} (a corrupt or changed file, or a wrong URL; the download was discarded)");
                File.Move(temp, target, overwrite: true);
                return target;
            }
            catch (OperationCanceledException e) when (cancellationToken.IsCancellationRequested)
            {
                throw new OperationCanceledException($"download: {file.FileName} from {url}: {e.Message}; the partial file was removed.", e, cancellationToken);
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TimeoutException or InvalidDataException or UnauthorizedAccessException or NotSupportedException)
            {
                failures.Add((url, e));
            }
            finally
            {
                // the one place a partial or unverified download is removed, whatever ended it
                if (File.Exists(temp)) File.Delete(temp);
            }
        }
        if (failures.Count == 1) throw Like(failures[0].Error, $"download: {file.FileName} from {failures[0].Url}: {failures[0].Error.Message.TrimEnd('.')}.", failures[0].Error);
        var all = new AggregateException(failures.Select(f => f.Error));
        var model = failures.Select(f => f.Error).FirstOrDefault(e => e is InvalidDataException)
                    ?? (failures.All(f => f.Error.GetType() == failures[0].Error.GetType()) ? failures[0].Error : null);
        var message = $"download: no URL gave a verified {file.FileName} (into '{directory}'): {string.Join("; ", failures.Select(f => $"{f.Url}: {f.Error.Message.TrimEnd('.')}"))}.";
        throw model is null ? new HttpRequestException(message, all) : Like(model, message, all);
    }

    /// <summary>Synchronous <see cref="FetchAsync"/>.</summary>
    public static string Fetch(RemoteFile file, string directory, HttpClient? client = null, IProgress<long>? progress = null,
                               CancellationToken cancellationToken = default, DownloadOptions? options = null) =>
        FetchAsync(file, directory, client, progress, cancellationToken, options).GetAwaiter().GetResult();

    /// <summary>True when <paramref name="path"/> exists and has the size and checksum of <paramref name="file"/>.</summary>
    public static bool Verify(string path, RemoteFile file) => File.Exists(path) && Problem(path, file) is null;

    /// <summary>The lower-case hex MD5 or SHA-256 of the file at <paramref name="path"/> (the whole SHA-256 for <see cref="ChecksumKind.Sha256Prefix"/>).</summary>
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
        if (file.Kind == ChecksumKind.Sha256Prefix)
            return file.Checksum.Length >= 8 && actual.StartsWith(file.Checksum, StringComparison.OrdinalIgnoreCase)
                ? null : $"failed its checksum: expected a SHA-256 starting {file.Checksum.ToLowerInvariant()}, got {actual}";
        var name = file.Kind == ChecksumKind.Md5 ? "MD5" : "SHA-256";
        return string.Equals(actual, file.Checksum, StringComparison.OrdinalIgnoreCase) ? null : $"failed its checksum: expected {name} {file.Checksum.ToLowerInvariant()}, got {actual}";
    }

    /// <summary>A new exception of the kind of <paramref name="kind"/> (as <see cref="FetchAsync"/> documents), with <paramref name="message"/>.</summary>
    static Exception Like(Exception kind, string message, Exception inner) => kind switch
    {
        TimeoutException => new TimeoutException(message, inner),
        InvalidDataException => new InvalidDataException(message, inner),
        IOException => new IOException(message, inner),
        HttpRequestException h => new HttpRequestException(message, inner, h.StatusCode),
        _ => new HttpRequestException(message, inner),
    };

    static string N(long n) => n.ToString("N0", CultureInfo.InvariantCulture);

    static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture) + " s";

    static string Bytes(long n, long? of) => of is long total ? $"{N(n)} of {N(total)} bytes" : $"{N(n)} bytes";

    /// <summary>
    /// Copies one URL into <paramref name="temp"/> within the options' limits. The failures it throws name what
    /// happened and the fix; <see cref="FetchAsync"/> adds the file and the URL.
    /// </summary>
    static async Task FetchTo(RemoteFile file, string url, string temp, HttpClient? client, DownloadOptions options, IProgress<long>? progress, CancellationToken ct)
    {
        var uri = new Uri(url);
        if (!uri.IsFile && uri.Scheme is not ("http" or "https")) throw new NotSupportedException($"the URL scheme '{uri.Scheme}' is not supported (use http, https or file)");
        using var transfer = CancellationTokenSource.CreateLinkedTokenSource(ct);
        transfer.CancelAfter(options.TransferTimeout ?? Timeout.InfiniteTimeSpan);
        // the watchdog: first the header timeout, then re-armed with the stall timeout before every read
        using var watchdog = CancellationTokenSource.CreateLinkedTokenSource(transfer.Token);
        watchdog.CancelAfter(options.HeaderTimeout);
        long total = 0;
        long? expected = file.Size;
        var body = false;
        try
        {
            await using var output = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            using var response = uri.IsFile ? null : await (client ?? ClientFor(options.ConnectTimeout)).GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, watchdog.Token).ConfigureAwait(false);
            if (response is { IsSuccessStatusCode: false })
                throw new HttpRequestException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}", null, response.StatusCode);
            await using var input = response is null ? File.OpenRead(uri.LocalPath) : await response.Content.ReadAsStreamAsync(watchdog.Token).ConfigureAwait(false);
            var announced = response is null ? (input.CanSeek ? input.Length : null) : response.Content.Headers.ContentLength;
            var limit = file.Size ?? options.MaxUnknownSize;
            if (file.Size is long size && announced is long a && a != size)
                throw new InvalidDataException($"has {a} bytes, expected {size} (a changed file or a wrong URL, or a wrong RemoteFile.Size)");
            if (announced > limit)
                throw new InvalidDataException($"announces {N(announced.Value)} bytes, more than DownloadOptions.MaxUnknownSize ({N(limit)} bytes; raise it, or set RemoteFile.Size)");
            expected ??= announced;
            body = true;
            var buffer = new byte[1 << 16];
            while (true)
            {
                watchdog.CancelAfter(options.StallTimeout);
                var n = await input.ReadAsync(buffer, watchdog.Token).ConfigureAwait(false);
                if (n == 0) break;
                if (total + n > limit)
                    throw new InvalidDataException(file.Size is null
                        ? $"sent more than {N(limit)} bytes, DownloadOptions.MaxUnknownSize, for a file of unknown size (raise MaxUnknownSize, or set RemoteFile.Size)"
                        : $"sent more than the expected {N(limit)} bytes (a changed or endless file, or a wrong URL; check RemoteFile.Size)");
                await output.WriteAsync(buffer.AsMemory(0, n), transfer.Token).ConfigureAwait(false);
                total += n;
                progress?.Report(total);
            }
            await output.FlushAsync(transfer.Token).ConfigureAwait(false);
            if (total < expected) throw Truncated(total, expected, null);
        }
        catch (HttpIOException e) when (body)
        {
            throw Truncated(total, expected, e);
        }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            var fix = "; try again later or another mirror, or raise DownloadOptions.";
            var what = (transfer.IsCancellationRequested, watchdog.IsCancellationRequested, body) switch
            {
                (true, _, _) => $"not complete within {Seconds(options.TransferTimeout!.Value)}: {Bytes(total, expected)} arrived (a slow server{fix}TransferTimeout)",
                (_, true, true) => $"no data for {Seconds(options.StallTimeout)} after {Bytes(total, expected)} (the server stalled{fix}StallTimeout)",
                (_, true, false) => $"no response headers within {Seconds(options.HeaderTimeout)} (the server did not answer{fix}HeaderTimeout)",
                // neither ours nor the caller's token: the HttpClient's own limit
                _ when client is null => $"could not connect within {Seconds(options.ConnectTimeout)} (the host is down or unreachable{fix}ConnectTimeout)",
                _ => $"timed out in the HttpClient passed in: {e.Message.TrimEnd('.')}",
            };
            throw new TimeoutException(what, e);
        }
        catch (OperationCanceledException e)
        {
            throw new OperationCanceledException(body ? $"cancelled after {Bytes(total, expected)}" : "cancelled while waiting for the response headers", e, ct);
        }
    }

    static IOException Truncated(long total, long? expected, Exception? inner) =>
        new($"the connection closed after {Bytes(total, expected)} (try again, or another mirror)", inner);

    // ---- per data set: each takes the token and options of Fetch ----

    static string FetchAll(IReadOnlyList<RemoteFile> files, string directory, HttpClient? client, CancellationToken ct, DownloadOptions? options)
    {
        foreach (var f in files) Fetch(f, directory, client, cancellationToken: ct, options: options);
        return directory;
    }

    /// <summary>Downloads Fashion-MNIST's four files into <paramref name="directory"/>; returns the folder to pass to <see cref="Data.FashionMnist.Load"/>.</summary>
    public static string FashionMnist(string directory, HttpClient? client = null, CancellationToken cancellationToken = default, DownloadOptions? options = null) =>
        FetchAll(DataSources.FashionMnist, directory, client, cancellationToken, options);

    /// <summary>Downloads MNIST's four IDX files into <paramref name="directory"/>; returns the folder.</summary>
    public static string Mnist(string directory, HttpClient? client = null, CancellationToken cancellationToken = default, DownloadOptions? options = null) =>
        FetchAll(DataSources.Mnist, directory, client, cancellationToken, options);

    /// <summary>Downloads cifar-10-binary.tar.gz; returns its path (which <see cref="Data.Cifar10.Load"/> reads directly).</summary>
    public static string Cifar10(string directory, HttpClient? client = null, CancellationToken cancellationToken = default, DownloadOptions? options = null) =>
        Fetch(DataSources.Cifar10, directory, client, cancellationToken: cancellationToken, options: options);

    /// <summary>Downloads cifar-100-binary.tar.gz; returns its path (which <see cref="Data.Cifar100.Load"/> reads directly).</summary>
    public static string Cifar100(string directory, HttpClient? client = null, CancellationToken cancellationToken = default, DownloadOptions? options = null) =>
        Fetch(DataSources.Cifar100, directory, client, cancellationToken: cancellationToken, options: options);

    /// <summary>Downloads magic04.data; returns its path (for <see cref="Data.Magic.Load"/>).</summary>
    public static string Magic(string directory, HttpClient? client = null, CancellationToken cancellationToken = default, DownloadOptions? options = null) =>
        Fetch(DataSources.Magic, directory, client, cancellationToken: cancellationToken, options: options);

    /// <summary>
    /// Downloads imagenette2-160.tgz and extracts it (unless imagenette2-160/ is already there); returns the
    /// imagenette2-160 folder for <see cref="Imagenette.Open"/>.
    /// </summary>
    public static string Imagenette160(string directory, HttpClient? client = null, CancellationToken cancellationToken = default, DownloadOptions? options = null)
    {
        var root = Path.Combine(directory, "imagenette2-160");
        if (Directory.Exists(Path.Combine(root, "train")) && Directory.Exists(Path.Combine(root, "val"))) return root;
        ExtractTarGz(Fetch(DataSources.Imagenette160, directory, client, cancellationToken: cancellationToken, options: options), directory);
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
