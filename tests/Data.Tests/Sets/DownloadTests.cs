using System.Diagnostics;
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
/// Checks verification, skipping verified files, atomic replacement, mirrors and checksum errors, and (issue #12)
/// servers that stall, trickle, cut a body short, never end it or never answer, and cancellation.
/// </summary>
[TestFixture]
public partial class DownloadTests : DataTestBase
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

    // ---- issue #12: hangs and runaway downloads, against servers that misbehave on purpose ----

    /// <summary>Small limits, so that each test finishes in a few seconds.</summary>
    static readonly DownloadOptions Quick = new() { HeaderTimeout = TimeSpan.FromSeconds(1), StallTimeout = TimeSpan.FromSeconds(1) };

    static byte[] Head(long? length) =>
        Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\n{(length is long n ? $"Content-Length: {n}\r\n" : "")}Content-Type: application/octet-stream\r\nConnection: close\r\n\r\n");

    /// <summary>Response headers, the first <paramref name="bytes"/> of <see cref="Payload"/>, then silence until the server stops.</summary>
    static async Task HeadThenStall(Stream s, int bytes, CancellationToken ct)
    {
        await s.WriteAsync(Head(Payload.Length), ct);
        await s.WriteAsync(Payload.AsMemory(0, bytes), ct);
        await s.FlushAsync(ct);
        await Task.Delay(Timeout.Infinite, ct);
    }

    /// <summary>
    /// Runs <paramref name="fetch"/> on the thread pool and returns what it threw and how long it took; fails the test if
    /// it is still running after <paramref name="seconds"/> (before issue #12 such downloads hung or never ended).
    /// </summary>
    static (Exception? Error, double Seconds) Run(Func<string> fetch, double seconds = 8)
    {
        var clock = Stopwatch.StartNew();
        var task = Task.Run(fetch);
        if (!((IAsyncResult)task).AsyncWaitHandle.WaitOne(TimeSpan.FromSeconds(seconds)))
            Assert.Fail($"the download was still running after {seconds} s");
        return (task.Exception?.InnerException, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Asserts that <paramref name="fetch"/> throws a <typeparamref name="T"/> within <paramref name="seconds"/>.</summary>
    static T Fails<T>(Func<string> fetch, double seconds) where T : Exception
    {
        var (error, took) = Run(fetch);
        Assert.That(error, Is.InstanceOf<T>(), $"{error?.GetType().Name}: {error?.Message}");
        Assert.That(took, Is.LessThan(seconds), "it failed promptly");
        return (T)error!;
    }

    static void NothingLeft(string dir, params string[] except) =>
        Assert.That(Directory.Exists(dir) ? Directory.GetFiles(dir).Select(Path.GetFileName).Except(except) : [], Is.Empty, "no partial or unverified file is left");

    [Test]
    public void HeadersThenSilenceFailsWithinTheStallTimeout()
    {
        using var server = new ScriptedServer((s, _, ct) => HeadThenStall(s, 1_000, ct));
        var dest = Path.Combine(Dir, "cache");
        var file = new RemoteFile("stalled.bin", server.Url(), Md5(Payload), size: Payload.Length);
        var e = Fails<TimeoutException>(() => Download.Fetch(file, dest, options: Quick), seconds: 4);
        Names(e, "stalled.bin", server.Url(), "no data for 1 s after 1,000 of 200,000 bytes", "StallTimeout");
        NothingLeft(dest);
    }

    [Test]
    public void ATrickleWithinTheStallTimeoutCompletesAndTheTransferTimeoutBoundsIt()
    {
        var body = Payload[..15_000];
        using var server = new ScriptedServer(async (s, _, ct) =>
        {
            await s.WriteAsync(Head(body.Length), ct);
            for (int i = 0; i < body.Length; i += 1_000)
            {
                await s.WriteAsync(body.AsMemory(i, 1_000), ct);
                await s.FlushAsync(ct);
                await Task.Delay(100, ct);
            }
        });
        var dest = Path.Combine(Dir, "cache");
        var options = Quick with { StallTimeout = TimeSpan.FromSeconds(0.5) };
        var file = new RemoteFile("slow.bin", server.Url(), Md5(body), size: body.Length);
        var (error, seconds) = Run(() => Download.Fetch(file, dest, options: options));
        Assert.That(error, Is.Null, error?.Message);
        Assert.That(seconds, Is.GreaterThan(1), "the whole trickle took longer than the stall timeout; each gap was shorter");
        Assert.That(File.ReadAllBytes(Path.Combine(dest, "slow.bin")), Is.EqualTo(body));

        var late = file with { FileName = "late.bin" };
        var e = Fails<TimeoutException>(() => Download.Fetch(late, dest, options: options with { TransferTimeout = TimeSpan.FromSeconds(0.5) }), seconds: 3);
        Names(e, "late.bin", server.Url(), "not complete within 0.5 s", "of 15,000 bytes", "TransferTimeout");
        NothingLeft(dest, except: "slow.bin");
    }

    [Test]
    public void AConnectionClosedEarlyIsATruncationAndLeavesNothing()
    {
        using var server = new ScriptedServer(async (s, path, ct) =>
        {
            await s.WriteAsync(Head(path == "/announced" ? Payload.Length : null), ct);
            await s.WriteAsync(Payload.AsMemory(0, 50_000), ct);
        });
        var dest = Path.Combine(Dir, "cache");
        // the Content-Length says 200,000 (the RemoteFile has no size)
        var announced = new RemoteFile("cut.bin", server.Url("/announced"), Md5(Payload));
        Names(Fails<IOException>(() => Download.Fetch(announced, dest, options: Quick), seconds: 3), "cut.bin", "/announced", "closed after 50,000 of 200,000 bytes");
        // no Content-Length: the RemoteFile's size says 200,000
        var sized = new RemoteFile("cut2.bin", server.Url("/unannounced"), Md5(Payload), size: Payload.Length);
        Names(Fails<IOException>(() => Download.Fetch(sized, dest, options: Quick), seconds: 3), "cut2.bin", "/unannounced", "closed after 50,000 of 200,000 bytes");
        NothingLeft(dest);
    }

    [Test]
    public void MoreThanTheExpectedSizeStopsAtTheLimit()
    {
        using var server = new ScriptedServer(async (s, path, ct) =>
        {
            await s.WriteAsync(Head(path == "/huge" ? 10L << 30 : null), ct);
            var chunk = new byte[1 << 16];
            while (true) await s.WriteAsync(chunk, ct);
        });
        var dest = Path.Combine(Dir, "cache");
        long most = 0;
        var progress = new SyncProgress(n => most = Math.Max(most, n));

        // a known size: fails as soon as more bytes arrive, and never writes more than the size
        var known = new RemoteFile("endless.bin", server.Url("/endless"), Md5(Payload), size: Payload.Length);
        var e = Fails<InvalidDataException>(() => Download.Fetch(known, dest, progress: progress, options: Quick), seconds: 3);
        Names(e, "endless.bin", "/endless", "more than the expected 200,000 bytes", "RemoteFile.Size");
        Assert.That(most, Is.InRange(1, Payload.Length), "bytes written");

        // no known size: DownloadOptions.MaxUnknownSize is the limit
        most = 0;
        var unknown = new RemoteFile("unknown.bin", server.Url("/endless"), Md5(Payload));
        var small = Quick with { MaxUnknownSize = 1 << 20 };
        e = Fails<InvalidDataException>(() => Download.Fetch(unknown, dest, progress: progress, options: small), seconds: 3);
        Names(e, "unknown.bin", "/endless", "more than 1,048,576 bytes", "MaxUnknownSize");
        Assert.That(most, Is.InRange(1, 1 << 20), "bytes written");

        // a Content-Length beyond the limit fails before anything is written
        most = 0;
        var huge = new RemoteFile("huge.bin", server.Url("/huge"), Md5(Payload));
        e = Fails<InvalidDataException>(() => Download.Fetch(huge, dest, progress: progress, options: small), seconds: 3);
        Names(e, "huge.bin", "/huge", "10,737,418,240 bytes", "MaxUnknownSize");
        Assert.That(most, Is.Zero, "bytes written");

        // a local file that never ends
        if (File.Exists("/dev/zero"))
        {
            var zeros = new RemoteFile("zeros.bin", "file:///dev/zero", Md5(Payload));
            Names(Fails<InvalidDataException>(() => Download.Fetch(zeros, dest, options: small), seconds: 3), "zeros.bin", "/dev/zero", "more than 1,048,576 bytes");
        }
        NothingLeft(dest);
    }

    [Test]
    public void AServerThatNeverAnswersFailsWithinTheHeaderTimeout()
    {
        using var server = new ScriptedServer((_, _, ct) => Task.Delay(Timeout.Infinite, ct));
        var dest = Path.Combine(Dir, "cache");
        var file = new RemoteFile("silent.bin", server.Url(), Md5(Payload), size: Payload.Length);
        var e = Fails<TimeoutException>(() => Download.Fetch(file, dest, options: Quick), seconds: 4);
        Names(e, "silent.bin", server.Url(), "no response headers within 1 s", "HeaderTimeout");
        // an HttpClient of one's own keeps its Timeout, which covers the headers too
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(1) };
        e = Fails<TimeoutException>(() => Download.Fetch(file, dest, client), seconds: 4);
        Names(e, "silent.bin", server.Url(), "HttpClient passed in", "HttpClient.Timeout of 1 seconds");
        NothingLeft(dest);
    }

    [Test]
    public void AHostThatDoesNotAcceptFailsWithinTheConnectTimeout()
    {
        // a listener whose accept queue is full: Linux drops further SYNs, so a connection attempt hangs
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start(1);
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var fillers = new List<Socket>();
        try
        {
            while (fillers.Count < 8)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                fillers.Add(socket);
                if (!socket.ConnectAsync(IPAddress.Loopback, port).Wait(500)) break;
            }
            if (fillers[^1].Connected) Assert.Ignore("this system does not leave connection attempts to a full listener hanging");
            var dest = Path.Combine(Dir, "cache");
            var file = new RemoteFile("unreachable.bin", $"http://127.0.0.1:{port}/file.bin", Md5(Payload));
            var e = Fails<TimeoutException>(() => Download.Fetch(file, dest, options: Quick with { ConnectTimeout = TimeSpan.FromSeconds(1), HeaderTimeout = TimeSpan.FromSeconds(5) }), seconds: 4);
            Names(e, "unreachable.bin", file.Urls[0], "could not connect within 1 s", "ConnectTimeout");
            NothingLeft(dest);
        }
        finally
        {
            foreach (var socket in fillers) socket.Dispose();
            listener.Stop();
        }
    }

    [Test]
    public void CancellationStopsADownloadPromptly()
    {
        using var server = new ScriptedServer((s, path, ct) => path == "/silent" ? Task.Delay(Timeout.Infinite, ct) : HeadThenStall(s, 1_000, ct));
        var dest = Path.Combine(Dir, "cache");
        // the default options: the stall timeout (60 s) is not what ends it
        var file = new RemoteFile("cancel.bin", server.Url("/stall"), Md5(Payload), size: Payload.Length);
        using (var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300)))
        {
            var e = Fails<OperationCanceledException>(() => Download.Fetch(file, dest, cancellationToken: cts.Token), seconds: 2);
            Names(e, "cancel.bin", server.Url("/stall"), "cancelled after 1,000 of 200,000 bytes");
            Assert.That(e.CancellationToken, Is.EqualTo(cts.Token));
        }
        using (var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300)))
        {
            var silent = file with { Urls = [server.Url("/silent"), server.Url("/stall")] };
            var e = Fails<OperationCanceledException>(() => Download.FetchAsync(silent, dest, cancellationToken: cts.Token).GetAwaiter().GetResult(), seconds: 2);
            Names(e, "cancel.bin", server.Url("/silent"), "cancelled while waiting for the response headers");
        }
        Assert.That(server.Requests, Is.EqualTo(new[] { "/stall", "/silent" }), "a cancelled download does not move on to the next mirror");
        NothingLeft(dest);
    }

    [Test]
    public void AFailingMirrorMovesToTheNextAndTheErrorListsEach()
    {
        using var server = new ScriptedServer(async (s, path, ct) =>
        {
            switch (path)
            {
                case "/stall":
                    await HeadThenStall(s, 1_000, ct);
                    break;
                case "/silent":
                    await Task.Delay(Timeout.Infinite, ct);
                    break;
                case "/cut":
                    await s.WriteAsync(Head(Payload.Length), ct);
                    await s.WriteAsync(Payload.AsMemory(0, 50_000), ct);
                    break;
                default:
                    await s.WriteAsync(Head(Payload.Length), ct);
                    await s.WriteAsync(Payload, ct);
                    break;
            }
        });
        var dest = Path.Combine(Dir, "cache");
        var urls = new[] { "/stall", "/silent", "/cut" }.Select(server.Url).ToArray();
        var failing = new RemoteFile("mirrored.bin", urls, Md5(Payload), Size: Payload.Length);
        var e = Fails<HttpRequestException>(() => Download.Fetch(failing, dest, options: Quick), seconds: 6);
        Names(e, "mirrored.bin", urls[0] + ": no data for 1 s after 1,000 of 200,000 bytes", urls[1] + ": no response headers within 1 s",
              urls[2] + ": the connection closed after 50,000 of 200,000 bytes");
        Assert.That(((AggregateException)e.InnerException!).InnerExceptions.Select(x => x.GetType()),
                    Is.EqualTo(new[] { typeof(TimeoutException), typeof(TimeoutException), typeof(IOException) }), "each URL's failure");
        NothingLeft(dest);

        var (error, _) = Run(() => Download.Fetch(failing with { Urls = [.. urls, server.Url("/good")] }, dest, options: Quick));
        Assert.That(error, Is.Null, error?.Message);
        Assert.That(File.ReadAllBytes(Path.Combine(dest, "mirrored.bin")), Is.EqualTo(Payload));
        Assert.That(server.Requests, Is.EqualTo(new[] { "/stall", "/silent", "/cut", "/stall", "/silent", "/cut", "/good" }));
        NothingLeft(dest, except: "mirrored.bin");
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

    /// <summary>
    /// An HTTP server on 127.0.0.1 (an ephemeral port) that answers each connection, on a task of its own, with
    /// <c>respond</c>: given the connection's stream (the request already read), the request's path and a token that
    /// stops the server, it writes what it likes; the connection closes when it returns. So it can send headers and
    /// stall, trickle, cut a body short, never end one, or never answer at all.
    /// </summary>
    sealed class ScriptedServer : IDisposable
    {
        readonly TcpListener listener = new(IPAddress.Loopback, 0);
        readonly Func<Stream, string, CancellationToken, Task> respond;
        readonly CancellationTokenSource stop = new();
        readonly List<TcpClient> clients = new();
        readonly Task loop;
        public readonly List<string> Requests = new();

        public ScriptedServer(Func<Stream, string, CancellationToken, Task> respond)
        {
            this.respond = respond;
            listener.Start();
            loop = Task.Run(Accept);
        }

        public string Url(string path = "/file.bin") => $"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}{path}";

        async Task Accept()
        {
            var answers = new List<Task>();
            while (!stop.IsCancellationRequested)
            {
                TcpClient client;
                try { client = await listener.AcceptTcpClientAsync(stop.Token); }
                catch (Exception) { break; }
                lock (clients) clients.Add(client);
                answers.Add(Task.Run(() => Answer(client)));
            }
            await Task.WhenAll(answers);
        }

        async Task Answer(TcpClient client)
        {
            using (client)
            {
                try
                {
                    var stream = client.GetStream();
                    var reader = new StreamReader(stream, Encoding.ASCII);
                    var requestLine = await reader.ReadLineAsync(stop.Token) ?? "";
                    while (!string.IsNullOrEmpty(await reader.ReadLineAsync(stop.Token))) { }
                    var path = Regex.Match(requestLine, @"^GET (\S+) HTTP").Groups[1].Value;
                    lock (Requests) Requests.Add(path);
                    await respond(stream, path, stop.Token);
                    await stream.FlushAsync(stop.Token);
                }
                catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException)
                {
                    // the client went away, or the server stopped
                }
            }
        }

        public void Dispose()
        {
            stop.Cancel();
            listener.Stop();
            lock (clients) foreach (var c in clients) c.Dispose();
            try { loop.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
        }
    }
}
