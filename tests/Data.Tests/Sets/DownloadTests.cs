using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Dsl.Data.Tests.Sets;

/// <summary>
/// Downloads, without the internet: from file:// URLs and from a small HTTP server on 127.0.0.1 written here.
/// Checks verification, skipping verified files, atomic replacement, mirrors and checksum errors.
/// </summary>
[TestFixture]
public class DownloadTests : DataTestBase
{
    static readonly byte[] Payload = Enumerable.Range(0, 200_000).Select(i => (byte)(i * 7 % 251)).ToArray();
    static string Md5(byte[] b) => Convert.ToHexString(MD5.HashData(b)).ToLowerInvariant();
    static string Sha256(byte[] b) => Convert.ToHexString(SHA256.HashData(b)).ToLowerInvariant();

    string Source()
    {
        var p = PathIn("remote", "payload.bin");
        File.WriteAllBytes(p, Payload);
        return p;
    }

    string[] Leftovers(string dir) => Directory.GetFiles(dir).Select(Path.GetFileName).Where(n => n!.EndsWith(".part")).Select(n => n!).ToArray();

    [Test]
    public void FileUrlDownloadVerifiesAndSkips()
    {
        var src = Source();
        var file = new RemoteFile("data.bin", new Uri(src).AbsoluteUri, Md5(Payload), size: Payload.Length);
        var dest = Path.Combine(Dir, "cache");
        long reported = 0;
        var path = Download.Fetch(file, dest, progress: new SyncProgress(n => reported = n));
        Assert.That(path, Is.EqualTo(Path.Combine(dest, "data.bin")));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(Payload));
        Assert.That(reported, Is.EqualTo(Payload.Length));
        Assert.That(Download.Verify(path, file), Is.True);
        // a verified file is not fetched again: the source can be gone
        File.Delete(src);
        var stamp = File.GetLastWriteTimeUtc(path);
        Assert.That(Download.Fetch(file, dest), Is.EqualTo(path));
        Assert.That(File.GetLastWriteTimeUtc(path), Is.EqualTo(stamp));
        Assert.That(Leftovers(dest), Is.Empty);
    }

    [Test]
    public void Sha256AndReplacingAFileThatFailsVerification()
    {
        var src = Source();
        var file = new RemoteFile("data.bin", new Uri(src).AbsoluteUri, Sha256(Payload), ChecksumKind.Sha256);
        var dest = PathIn("cache", "data.bin");
        File.WriteAllText(dest, "an interrupted download from long ago");
        Assert.That(Download.Verify(dest, file), Is.False);
        Download.Fetch(file, Path.GetDirectoryName(dest)!);
        Assert.That(File.ReadAllBytes(dest), Is.EqualTo(Payload));
        Assert.That(Download.Checksum(dest, ChecksumKind.Sha256), Is.EqualTo(Sha256(Payload)));
        Assert.That(Download.Checksum(dest, ChecksumKind.Md5), Is.EqualTo(Md5(Payload)));
    }

    [Test]
    public void ChecksumMismatchIsAnErrorAndLeavesNothing()
    {
        var src = Source();
        var wrong = new RemoteFile("data.bin", new Uri(src).AbsoluteUri, "0123456789abcdef0123456789abcdef");
        var dest = Path.Combine(Dir, "cache");
        var e = Assert.Throws<InvalidDataException>(() => Download.Fetch(wrong, dest))!;
        Names(e, "data.bin", "checksum", "expected MD5 0123456789abcdef0123456789abcdef", "got " + Md5(Payload), "discarded");
        Assert.That(File.Exists(Path.Combine(dest, "data.bin")), Is.False);
        Assert.That(Leftovers(dest), Is.Empty);
        var wrongSize = wrong with { Checksum = Md5(Payload), Size = 123 };
        Names(Assert.Throws<InvalidDataException>(() => Download.Fetch(wrongSize, dest))!, "data.bin", $"has {Payload.Length} bytes, expected 123");
        Assert.That(File.Exists(Path.Combine(dest, "data.bin")), Is.False);
    }

    [Test]
    public void HttpDownloadMirrorsAndErrors()
    {
        using var server = new TinyHttpServer(new Dictionary<string, byte[]> { ["/files/payload.bin"] = Payload, ["/bad/payload.bin"] = Encoding.ASCII.GetBytes("tampered") });
        var dest = Path.Combine(Dir, "cache");
        var ok = new RemoteFile("payload.bin", new[] { server.Url("/missing/payload.bin"), server.Url("/files/payload.bin") }, Md5(Payload));
        var path = Download.Fetch(ok, dest);
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(Payload));
        Assert.That(server.Requests, Is.EqualTo(new[] { "/missing/payload.bin", "/files/payload.bin" }), "the 404 mirror was tried first, then the next");
        Download.Fetch(ok, dest);
        Assert.That(server.Requests, Has.Count.EqualTo(2), "a verified file is not downloaded again");

        var tampered = new RemoteFile("other.bin", server.Url("/bad/payload.bin"), Md5(Payload));
        Names(Assert.Throws<InvalidDataException>(() => Download.Fetch(tampered, dest))!, "other.bin", "/bad/payload.bin", "checksum");
        Assert.That(File.Exists(Path.Combine(dest, "other.bin")), Is.False);

        var gone = new RemoteFile("gone.bin", server.Url("/nothing-here"), Md5(Payload));
        var e = Assert.Throws<HttpRequestException>(() => Download.Fetch(gone, dest))!;
        Names(e, "gone.bin", "404", "/nothing-here");
        Assert.That(Leftovers(dest), Is.Empty);
    }

    [Test]
    public void UnsupportedSchemesAndBadNames()
    {
        var ftp = new RemoteFile("x.bin", "ftp://example.org/x.bin", Md5(Payload));
        Names(Assert.Throws<HttpRequestException>(() => Download.Fetch(ftp, Dir))!, "x.bin", "ftp");
        Assert.Throws<ArgumentException>(() => Download.Fetch(ftp with { FileName = "../x.bin" }, Dir));
    }

    [Test]
    public void OfficialSourcesAreWellFormed()
    {
        var all = DataSources.FashionMnist.Concat(DataSources.Mnist)
            .Concat(new[] { DataSources.Cifar10, DataSources.Cifar100, DataSources.Imagenette160, DataSources.Magic }).ToList();
        foreach (var f in all)
        {
            Assert.That(f.Urls, Is.Not.Empty, f.FileName);
            foreach (var u in f.Urls)
            {
                Assert.That(Uri.TryCreate(u, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https", u);
                Assert.That(u, Does.EndWith("/" + f.FileName), "the URL ends with the file's name");
            }
            Assert.That(f.Checksum, Does.Match(f.Kind == ChecksumKind.Md5 ? "^[0-9a-f]{32}$" : "^[0-9a-f]{64}$"), f.FileName);
        }
        Assert.That(DataSources.Cifar10.Checksum, Is.EqualTo("c32a1d4ab5d03f1284b67883e8d87530"));
        Assert.That(DataSources.Cifar100.Checksum, Is.EqualTo("03b5dce01913d631647c71ecec9e9cb8"));
        Assert.That(DataSources.UtkFace, Does.Contain("no stable download URL"));
    }

    [Test]
    public void LocalDataTakesTheFlagThenTheVariable()
    {
        var saved = Environment.GetEnvironmentVariable(LocalData.Variable);
        var top = Directory.CreateTempSubdirectory("dsl-local-").FullName;
        try
        {
            Environment.SetEnvironmentVariable(LocalData.Variable, null);
            Assert.That(LocalData.Find("magic", "magic04.data", new[] { "--quick" }), Is.Null, "neither the flag nor the variable: not found");
            var data = Path.Combine(top, "magic", "magic04.data");
            Directory.CreateDirectory(Path.GetDirectoryName(data)!);
            File.WriteAllText(data, "1,2,3,4,5,6,7,8,9,10,g\n");
            Environment.SetEnvironmentVariable(LocalData.Variable, top);
            Assert.That(LocalData.Find("magic", "magic04.data"), Is.EqualTo(data), "$DSL_DATA/<data set>/<file>");
            var named = Path.Combine(top, "elsewhere.data");
            File.WriteAllText(named, "");
            Assert.That(LocalData.Find("magic", "magic04.data", new[] { "--quick", "--data", named }), Is.EqualTo(named), "the flag comes first and may name the file");
            Assert.That(LocalData.Find("magic", "magic04.data", new[] { $"--data={top}" }), Is.EqualTo(data), "or a folder holding <data set>/<file>");
            Assert.That(LocalData.Find("magic", "magic", new[] { "--data", Path.Combine(top, "magic") }), Is.EqualTo(Path.Combine(top, "magic")), "or the data set's folder itself");
            var missing = Path.Combine(top, "missing.data");
            var e = Assert.Throws<FileNotFoundException>(() => LocalData.Find("magic", "magic04.data", new[] { "--data", missing }))!;
            Assert.That(e.Message, Does.Contain("missing.data").And.Contain("no such file"), "a flag naming nothing is an error, not a silent fallback");
            Assert.Throws<ArgumentException>(() => LocalData.Find("magic", "magic04.data", new[] { "--data" }));
            Environment.SetEnvironmentVariable(LocalData.Variable, Path.Combine(top, "nowhere"));
            Assert.That(LocalData.Find("magic", "magic04.data"), Is.Null, "a variable naming no folder finds nothing");
            var message = LocalData.Missing("magic", "magic04.data", DataSources.Magic);
            foreach (var part in new[] { "--data", LocalData.Variable, "magic04.data", DataSources.Magic.Urls[0], DataSources.Magic.Checksum })
                Assert.That(message, Does.Contain(part));
        }
        finally
        {
            Environment.SetEnvironmentVariable(LocalData.Variable, saved);
            Directory.Delete(top, recursive: true);
        }
    }

    [Test]
    public void MagicChecksumPinsTheLocalCopy()
    {
        var local = LocalData.Find("magic", "magic04.data");
        if (local is null) Assert.Ignore($"no magic04.data: set {LocalData.Variable} to a folder holding magic/magic04.data to run this test");
        Assert.That(Download.Verify(local, DataSources.Magic), Is.True, "the pinned SHA-256 and size are those of the original magic04.data");
    }

    [Test]
    public void ExtractTarGzIsAtomicAndSafe()
    {
        var archive = PathIn("a.tgz");
        using (var gz = new GZipStream(File.Create(archive), CompressionLevel.Fastest))
        using (var tar = new TarWriter(gz, TarEntryFormat.Pax))
        {
            tar.WriteEntry(new PaxTarEntry(TarEntryType.Directory, "imagenette2-160/"));
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "imagenette2-160/train/n01440764/a.JPEG") { DataStream = new MemoryStream(new byte[] { 1, 2, 3 }) });
        }
        var dest = Path.Combine(Dir, "out");
        Download.ExtractTarGz(archive, dest);
        Assert.That(File.ReadAllBytes(Path.Combine(dest, "imagenette2-160", "train", "n01440764", "a.JPEG")), Is.EqualTo(new byte[] { 1, 2, 3 }));
        Assert.That(Directory.GetDirectories(dest).Select(Path.GetFileName), Is.EqualTo(new[] { "imagenette2-160" }), "no temporary folder is left");
        Names(Assert.Throws<IOException>(() => Download.ExtractTarGz(archive, dest))!, "imagenette2-160", "already exists");

        var evil = PathIn("evil.tgz");
        using (var gz = new GZipStream(File.Create(evil), CompressionLevel.Fastest))
        using (var tar = new TarWriter(gz, TarEntryFormat.Pax))
            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "../escaped.txt") { DataStream = new MemoryStream(new byte[] { 1 }) });
        Names(Assert.Throws<IOException>(() => Download.ExtractTarGz(evil, Path.Combine(Dir, "out2")))!, "evil.tgz", "outside");
        Assert.That(File.Exists(Path.Combine(Dir, "escaped.txt")), Is.False);

        var cut = PathIn("cut.tgz");
        File.WriteAllBytes(cut, File.ReadAllBytes(archive)[..40]);
        Names(Assert.Throws<InvalidDataException>(() => Download.ExtractTarGz(cut, Path.Combine(Dir, "out3")))!, "cut.tgz", "truncated");
        Assert.That(Directory.GetDirectories(Path.Combine(Dir, "out3")), Is.Empty);
    }

    sealed class SyncProgress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }

    /// <summary>An HTTP/1.1 server on 127.0.0.1 (an ephemeral port) serving fixed paths; anything else is 404.</summary>
    sealed class TinyHttpServer : IDisposable
    {
        readonly TcpListener listener = new(IPAddress.Loopback, 0);
        readonly Dictionary<string, byte[]> files;
        readonly CancellationTokenSource stop = new();
        readonly Task loop;
        public readonly List<string> Requests = new();

        public TinyHttpServer(Dictionary<string, byte[]> files)
        {
            this.files = files;
            listener.Start();
            loop = Task.Run(Serve);
        }

        public string Url(string path) => $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}{path}";

        async Task Serve()
        {
            while (!stop.IsCancellationRequested)
            {
                TcpClient client;
                try { client = await listener.AcceptTcpClientAsync(stop.Token); }
                catch (Exception) { return; }
                using (client)
                {
                    var stream = client.GetStream();
                    var reader = new StreamReader(stream, Encoding.ASCII);
                    var requestLine = await reader.ReadLineAsync() ?? "";
                    while (!string.IsNullOrEmpty(await reader.ReadLineAsync())) { }
                    var path = Regex.Match(requestLine, @"^GET (\S+) HTTP").Groups[1].Value;
                    lock (Requests) Requests.Add(path);
                    var found = files.TryGetValue(path, out var body);
                    body ??= Encoding.ASCII.GetBytes("not found");
                    var head = $"HTTP/1.1 {(found ? "200 OK" : "404 Not Found")}\r\nContent-Length: {body.Length}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n";
                    await stream.WriteAsync(Encoding.ASCII.GetBytes(head));
                    await stream.WriteAsync(body);
                    await stream.FlushAsync();
                }
            }
        }

        public void Dispose()
        {
            stop.Cancel();
            listener.Stop();
            try { loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
        }
    }
}
