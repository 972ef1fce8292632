namespace Dsl.Data.Tests.Sets;

/// <summary>A temporary folder and a dispose scope per test, and small helpers for the loader tests.</summary>
public abstract class DataTestBase
{
    DisposeScope? scope;
    protected string Dir = "";

    [SetUp]
    public void OpenScope()
    {
        scope = DisposeScope.Enter();
        Dir = Directory.CreateTempSubdirectory("dsl-data-").FullName;
    }

    [TearDown]
    public void CloseScope()
    {
        scope?.Dispose();
        scope = null;
        try { Directory.Delete(Dir, true); } catch (IOException) { }
    }

    protected static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "fixtures", "data", name);

    protected string PathIn(params string[] parts)
    {
        var p = Path.Combine(new[] { Dir }.Concat(parts).ToArray());
        Directory.CreateDirectory(Path.GetDirectoryName(p)!);
        return p;
    }

    /// <summary>Writes <paramref name="bytes"/> cut to its first <paramref name="keep"/> bytes.</summary>
    protected static void Truncate(string path, int keep)
    {
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..keep]);
    }

    /// <summary>A uint8 image [C, H, W] whose pixel (c, y, x) is (seed + 40c + 7y + 3x) mod 256.</summary>
    protected static Tensor Pattern(int channels, int height, int width, int seed = 0)
    {
        var data = new byte[channels * height * width];
        for (int c = 0; c < channels; c++)
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                    data[(c * height + y) * width + x] = (byte)((seed + 40 * c + 7 * y + 3 * x) % 256);
        return Torch.From<byte>(data, new long[] { channels, height, width });
    }

    /// <summary>Asserts the exception's message names <paramref name="file"/> and contains each of <paramref name="words"/>.</summary>
    protected static void Names(Exception e, string file, params string[] words)
    {
        Assert.That(e.Message, Does.Contain(Path.GetFileName(file)), "the error must name the file");
        foreach (var w in words) Assert.That(e.Message, Does.Contain(w).IgnoreCase);
        TestContext.Out.WriteLine(e.GetType().Name + ": " + e.Message);
    }
}
