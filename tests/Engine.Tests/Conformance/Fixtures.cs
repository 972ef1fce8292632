using System.Text.Json;

namespace Dsl.Engine.Tests.Conformance;

/// <summary>One tensor of a fixture case: an input, the output, the upstream gradient, a gradient or an extra field.</summary>
public sealed record FixtureTensor(long[] Shape, string DType, JsonElement Data, bool Grad)
{
    /// <summary>Reads {"shape", "dtype"?, "data", "grad"?}; dtype defaults to float32 (upstream and grads carry none).</summary>
    public static FixtureTensor Parse(JsonElement e) => new(
        e.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64()).ToArray(),
        e.TryGetProperty("dtype", out var dt) ? dt.GetString()! : "float32",
        e.GetProperty("data"),
        e.TryGetProperty("grad", out var g) && g.GetBoolean());

    /// <summary>The float data; null stands for NaN (cases that test NaN behaviour).</summary>
    public float[] Floats => Data.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Null ? float.NaN : (float)x.GetDouble()).ToArray();
    public long[] Longs => Data.EnumerateArray().Select(x => x.GetInt64()).ToArray();
    public bool[] Bools => Data.EnumerateArray().Select(x => x.GetBoolean()).ToArray();

    /// <summary>The tensor in the stated dtype, requiring grad when the fixture says so.</summary>
    public Tensor ToTensor() => DType switch
    {
        "float32" => Torch.From<float>(Floats.AsSpan(), Shape.AsSpan(), requiresGrad: Grad),
        "int64" => Torch.From<long>(Longs.AsSpan(), Shape.AsSpan()),
        "bool" => Torch.From<bool>(Bools.AsSpan(), Shape.AsSpan()),
        _ => throw new NotSupportedException($"fixture dtype {DType}"),
    };
}

/// <summary>One case of tests/fixtures/*.json (format: tests/fixtures/README.md).</summary>
public sealed record FixtureCase(
    string Name, string Op, string File, FixtureTensor[] Inputs, JsonElement Args, FixtureTensor Output,
    FixtureTensor? Upstream, FixtureTensor?[] Grads, IReadOnlyDictionary<string, FixtureTensor> Extras)
{
    static readonly HashSet<string> StandardKeys = ["name", "op", "inputs", "args", "output", "upstream", "grads"];

    public static FixtureCase Parse(JsonElement c, string file)
    {
        static FixtureTensor? Nullable(JsonElement e) => e.ValueKind == JsonValueKind.Null ? null : FixtureTensor.Parse(e);
        return new FixtureCase(
            c.GetProperty("name").GetString()!,
            c.GetProperty("op").GetString()!,
            file,
            c.GetProperty("inputs").EnumerateArray().Select(FixtureTensor.Parse).ToArray(),
            c.GetProperty("args"),
            FixtureTensor.Parse(c.GetProperty("output")),
            Nullable(c.GetProperty("upstream")),
            c.GetProperty("grads").EnumerateArray().Select(Nullable).ToArray(),
            c.EnumerateObject().Where(p => !StandardKeys.Contains(p.Name)).ToDictionary(p => p.Name, p => FixtureTensor.Parse(p.Value)));
    }

    public override string ToString() => Name;
}

/// <summary>Loads every fixture file copied to the test output folder under fixtures/.</summary>
public static class Fixtures
{
    public static string Directory => Path.Combine(AppContext.BaseDirectory, "fixtures");

    static readonly Lazy<IReadOnlyList<FixtureCase>> all = new(() =>
    {
        var files = System.IO.Directory.GetFiles(Directory, "*.json").OrderBy(f => f, StringComparer.Ordinal).ToArray();
        if (files.Length == 0) throw new FileNotFoundException($"no fixture files in {Directory}");
        // The documents stay alive for the process: the cases keep JsonElements into them.
        return files.SelectMany(f =>
        {
            var doc = JsonDocument.Parse(File.ReadAllBytes(f));
            return doc.RootElement.GetProperty("cases").EnumerateArray().Select(c => FixtureCase.Parse(c, Path.GetFileName(f)));
        }).ToArray();
    });

    public static IReadOnlyList<FixtureCase> All => all.Value;
}
