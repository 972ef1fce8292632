using System.Security.Cryptography;
using System.Text;

namespace Dsl.Data.Tests.Sets;

/// <summary>
/// Pretrained weights into a cache (<see cref="Pretrained"/>), from the 127.0.0.1 servers of <see cref="DownloadTests"/>:
/// verified by the SHA-256 prefix in the file name or by the full hash, fetched once, fetched again when the cached file
/// is corrupted or partial, refused when the server sends other bytes or cuts the body short; and torchvision's table.
/// </summary>
public partial class DownloadTests
{
    static readonly byte[] Weights = Enumerable.Range(0, 300_000).Select(i => (byte)(i * 13 % 241)).ToArray();
    static readonly string WeightsSha = Convert.ToHexString(SHA256.HashData(Weights)).ToLowerInvariant();
    static readonly string WeightsPath = $"/models/tiny-{WeightsSha[..8]}.pth";

    [Test]
    public void PretrainedIsVerifiedByTheHashPrefixInItsNameAndFetchedOnce()
    {
        using var server = new TinyHttpServer(new() { [WeightsPath] = Weights });
        var cache = Path.Combine(Dir, "cache");
        var path = Pretrained.Fetch(server.Url(WeightsPath), directory: cache, progress: false);
        Assert.That(path, Is.EqualTo(Path.Combine(cache, $"tiny-{WeightsSha[..8]}.pth")));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(Weights));
        Assert.That(Pretrained.Fetch(server.Url(WeightsPath), directory: cache, progress: false), Is.EqualTo(path));
        Assert.That(server.Requests, Has.Count.EqualTo(1), "a verified cached file is not fetched again");
        Assert.That(Leftovers(cache), Is.Empty);
    }

    [Test]
    public void ACorruptedOrPartialCachedFileIsFetchedAgain()
    {
        using var server = new TinyHttpServer(new() { [WeightsPath] = Weights });
        var cache = Path.Combine(Dir, "cache");
        var path = Pretrained.Fetch(server.Url(WeightsPath), directory: cache, progress: false);
        var corrupted = (byte[])Weights.Clone();
        corrupted[12345] ^= 0xFF;
        File.WriteAllBytes(path, corrupted);
        Assert.That(File.ReadAllBytes(Pretrained.Fetch(server.Url(WeightsPath), directory: cache, progress: false)), Is.EqualTo(Weights));
        File.WriteAllBytes(path, Weights[..(Weights.Length / 2)]);
        Assert.That(File.ReadAllBytes(Pretrained.Fetch(server.Url(WeightsPath), directory: cache, progress: false)), Is.EqualTo(Weights));
        Assert.That(server.Requests, Has.Count.EqualTo(3));
    }

    [Test]
    public void OtherBytesOrACutBodyAreRefusedAndLeaveNothing()
    {
        var other = (byte[])Weights.Clone();
        other[0] ^= 1;
        using (var server = new TinyHttpServer(new() { [WeightsPath] = other }))
        {
            var e = Assert.Throws<InvalidDataException>(() => Pretrained.Fetch(server.Url(WeightsPath), directory: Dir, progress: false))!;
            Names(e, $"tiny-{WeightsSha[..8]}.pth", $"expected a SHA-256 starting {WeightsSha[..8]}", "discarded");
        }
        using (var cut = new ScriptedServer(async (s, _, ct) =>
        {
            await s.WriteAsync(Encoding.ASCII.GetBytes($"HTTP/1.1 200 OK\r\nContent-Length: {Weights.Length}\r\nConnection: close\r\n\r\n"), ct);
            await s.WriteAsync(Weights.AsMemory(0, Weights.Length / 3), ct);
        }))
        {
            var e = Assert.Throws<IOException>(() => Pretrained.Fetch(cut.Url(WeightsPath), directory: Dir, progress: false))!;
            Names(e, "connection closed after");
        }
        Assert.That(Directory.GetFiles(Dir), Is.Empty, "no partial or unverified file is left");
    }

    [Test]
    public void AFullSha256IsCheckedWhenGivenAndANameWithoutHashNeedsOne()
    {
        using var server = new TinyHttpServer(new() { ["/w.pth"] = Weights });
        Assert.That(File.ReadAllBytes(Pretrained.Fetch(server.Url("/w.pth"), WeightsSha, Dir, progress: false)), Is.EqualTo(Weights));
        var wrong = new string('0', 64);
        Names(Assert.Throws<InvalidDataException>(() => Pretrained.Fetch(server.Url("/w.pth"), wrong, Path.Combine(Dir, "b"), progress: false))!, "expected SHA-256 " + wrong);
        Names(Assert.Throws<ArgumentException>(() => Pretrained.Fetch(server.Url("/w.pth"), directory: Dir, progress: false))!, "give its SHA-256");
    }

    [Test]
    public void TheProgressLineReportsMegabytes()
    {
        using var server = new TinyHttpServer(new() { [WeightsPath] = Weights });
        var text = new StringWriter();
        var line = new Pretrained.ProgressLine("tiny.pth", text);
        Download.Fetch(new PretrainedWeights("tiny", server.Url(WeightsPath)).Remote, Dir, progress: line);
        line.Done();
        Assert.That(text.ToString(), Does.Contain("downloading tiny.pth  0.3 MB").And.EndWith(Environment.NewLine));
    }

    [Test]
    public void TheCacheFolderFollowsDslCache()
    {
        var old = Environment.GetEnvironmentVariable("DSL_CACHE");
        try
        {
            Environment.SetEnvironmentVariable("DSL_CACHE", Dir);
            Assert.That(Pretrained.CacheDirectory, Is.EqualTo(Path.Combine(Dir, "weights")));
            Environment.SetEnvironmentVariable("DSL_CACHE", null);
            Assert.That(Pretrained.CacheDirectory, Does.EndWith(Path.Combine(".cache", "dsl", "weights")));
        }
        finally { Environment.SetEnvironmentVariable("DSL_CACHE", old); }
    }

    [Test]
    public void TheTorchvisionTableHoldsTheUrlsTorchvisionPublishes()
    {
        var dir = "/usr/lib/python3/dist-packages/torchvision/models";
        Assume.That(Directory.Exists(dir), "python3-torchvision (build.fsx setup installs it)");
        var source = string.Concat(Directory.GetFiles(dir, "*.py").Select(File.ReadAllText));
        Assert.That(Pretrained.Torchvision.Keys, Is.SupersetOf(new[]
        {
            "resnet18", "resnet34", "resnet50", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16", "vgg16_bn", "vgg19", "vgg19_bn",
            "mobilenet_v2", "mobilenet_v3_small", "efficientnet_b0",
        }));
        foreach (var w in Pretrained.Torchvision.Values)
        {
            Assert.That(source, Does.Contain($"url=\"{w.Url}\""), w.Name);
            Assert.That(w.HashPrefix, Has.Length.EqualTo(8), w.Name);
        }
        Assert.That(Pretrained.Torchvision["efficientnet_b0"].Interpolation, Is.EqualTo("bicubic"));
        Assert.That(Pretrained.Torchvision["resnet50.v2"].ResizeSize, Is.EqualTo(232));
        Names(Assert.Throws<ArgumentException>(() => Pretrained.FetchTorchvision("resnet9000", Dir))!, "no torchvision weights named 'resnet9000'", "resnet18");
    }
}
