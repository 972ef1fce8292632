using System.Buffers.Binary;
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Dsl.Engine.IO;
using NUnit.Framework;

namespace Dsl.Engine.Tests;

/// <summary>
/// Safetensors save/load: round trips of every dtype and of awkward shapes, metadata, atomic writes,
/// and interchange with an independent implementation of the published format
/// (tests/fixtures/safetensors_interop.py, run with /usr/bin/python3 and numpy).
/// </summary>
[TestFixture]
public class SafetensorsTests
{
    string dir = "";
    DisposeScope? scope;

    [SetUp]
    public void Open()
    {
        dir = Directory.CreateTempSubdirectory("dsl-safetensors-").FullName;
        scope = DisposeScope.Enter();
    }

    [TearDown]
    public void Close()
    {
        scope?.Dispose();
        scope = null;
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    string PathOf(string name) => Path.Combine(dir, name);

    // ---- helpers ----

    /// <summary>A tensor of <paramref name="dtype"/> and <paramref name="shape"/> with varied values.</summary>
    static Tensor Sample(DType dtype, long[] shape, int seed)
    {
        using var g = new Generator(seed);
        switch (dtype)
        {
            case DType.Bool:
                using (var r = Torch.Randint(0, 2, shape, g)) return r.To(DType.Bool);
            case DType.UInt8:
                using (var r = Torch.Randint(0, 256, shape, g)) return r.To(DType.UInt8);
            case DType.Int8:
                using (var r = Torch.Randint(-128, 128, shape, g)) return r.To(DType.Int8);
            case DType.Int16:
                using (var r = Torch.Randint(short.MinValue, short.MaxValue + 1L, shape, g)) return r.To(DType.Int16);
            case DType.Int32:
                using (var r = Torch.Randint(int.MinValue, int.MaxValue + 1L, shape, g)) return r.To(DType.Int32);
            case DType.Int64:
                return Torch.Randint(long.MinValue / 2, long.MaxValue / 2, shape, g);
            default:
                using (var r = Torch.Randn(shape, g, DType.Float64))
                using (var s = r * 1000.0)
                    return s.To(dtype);
        }
    }

    static long[] Shape(JsonElement e) => e.EnumerateArray().Select(x => x.GetInt64()).ToArray();

    static void AssertSame(Tensor expected, Tensor actual, string what)
    {
        Assert.That(actual.DType, Is.EqualTo(expected.DType), $"{what}: dtype");
        Assert.That(actual.Shape, Is.EqualTo(expected.Shape), $"{what}: shape");
        Assert.That(actual.Equal(expected), Is.True, $"{what}: values differ");
    }

    static readonly DType[] AllDTypes =
    {
        DType.Float32, DType.Float64, DType.Float16, DType.BFloat16, DType.Int64, DType.Int32, DType.Int16, DType.Int8, DType.UInt8, DType.Bool,
    };

    static readonly long[][] Shapes =
    {
        Array.Empty<long>(), new long[] { 0 }, new long[] { 1 }, new long[] { 7 }, new long[] { 2, 3 }, new long[] { 2, 0, 3 },
        new long[] { 2, 3, 4, 5 }, new long[] { 1, 1, 1, 1, 1 },
    };

    static IEnumerable<TestCaseData> DTypeCases() => AllDTypes.Select(d => new TestCaseData(d).SetArgDisplayNames(d.Name()));

    // ---- round trips ----

    [TestCaseSource(nameof(DTypeCases))]
    public void RoundTripsEveryShapeOfADType(DType dtype)
    {
        var path = PathOf($"rt-{dtype.Name()}.safetensors");
        var tensors = Shapes.Select((s, i) => new KeyValuePair<string, Tensor>($"t{i}_[{string.Join(",", s)}]", Sample(dtype, s, 100 + i))).ToList();
        Safetensors.Save(path, tensors);
        var loaded = Safetensors.Load(path);
        Assert.That(loaded.Select(kv => kv.Key), Is.EqualTo(tensors.Select(kv => kv.Key)), "names, in saved order");
        for (int i = 0; i < tensors.Count; i++) AssertSame(tensors[i].Value, loaded[i].Value, tensors[i].Key);
        Assert.That(Safetensors.LoadMetadata(path), Is.Empty);
    }

    [Test]
    public void RoundTripsMixedDTypesWithMetadata()
    {
        var path = PathOf("mixed.safetensors");
        var tensors = AllDTypes.Select((d, i) => new KeyValuePair<string, Tensor>("layer." + d.Name(), Sample(d, new long[] { 3, 2 }, i))).ToList();
        tensors.Add(new("scalar", Torch.Scalar(-2.5)));
        tensors.Add(new("empty", Torch.Zeros(new long[] { 0, 4 }, DType.Int64)));
        var meta = new Dictionary<string, string> { ["format"] = "pt", ["epoch"] = "12", ["note"] = "héllo ✓ \"quoted\" \\ \n", ["empty"] = "" };
        Safetensors.Save(path, tensors, meta);

        var loaded = Safetensors.Load(path);
        Assert.That(loaded.Select(kv => kv.Key), Is.EqualTo(tensors.Select(kv => kv.Key)));
        for (int i = 0; i < tensors.Count; i++) AssertSame(tensors[i].Value, loaded[i].Value, tensors[i].Key);
        Assert.That(loaded.Single(kv => kv.Key == "scalar").Value.Shape, Is.Empty, "a 0-d tensor stays 0-d");
        Assert.That(loaded.Single(kv => kv.Key == "scalar").Value.ToDouble(), Is.EqualTo(-2.5));
        Assert.That(Safetensors.LoadMetadata(path), Is.EquivalentTo(meta));
    }

    [Test]
    public void RoundTripsSpecialFloats()
    {
        var path = PathOf("special.safetensors");
        var values = new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity, -0.0f, float.Epsilon, float.MaxValue, float.MinValue, 1e-38f };
        using var t = Torch.From(values, values.Length);
        Safetensors.Save(path, new Dictionary<string, Tensor> { ["x"] = t });
        var back = Safetensors.Load(path).Single().Value.ToArray<float>();
        Assert.That(back.Select(BitConverter.SingleToInt32Bits), Is.EqualTo(values.Select(BitConverter.SingleToInt32Bits)), "bit patterns, including NaN and -0");
    }

    [Test]
    public void SavesNonContiguousViewsInLogicalOrder()
    {
        var path = PathOf("views.safetensors");
        using var a = Torch.Arange(0, 12, 1).Reshape(3, 4);
        using var t = a.T;                       // [4, 3], not contiguous
        using var s = a.Slice(1, 0, 4, 2);       // [3, 2], strided
        Assume.That(t.IsContiguous, Is.False);
        Safetensors.Save(path, new Dictionary<string, Tensor> { ["t"] = t, ["s"] = s });
        var loaded = Safetensors.Load(path);
        AssertSame(t, loaded[0].Value, "transposed");
        AssertSame(s, loaded[1].Value, "sliced");
        Assert.That(loaded[0].Value.ToArray<float>(), Is.EqualTo(new float[] { 0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11 }));
    }

    [Test]
    public void SavesTensorsThatRequireGrad()
    {
        var path = PathOf("grad.safetensors");
        using var w = Torch.Ones(new long[] { 2, 2 }, DType.Float32, requiresGrad: true);
        using var y = w * 3.0;
        Safetensors.Save(path, new Dictionary<string, Tensor> { ["w"] = w, ["y"] = y });
        var loaded = Safetensors.Load(path);
        Assert.That(loaded[1].Value.ToArray<float>(), Is.EqualTo(new float[] { 3, 3, 3, 3 }));
        Assert.That(loaded[0].Value.RequiresGrad, Is.False, "loaded tensors are plain data");
    }

    [Test]
    public void RoundTripsNoTensorsAtAll()
    {
        var path = PathOf("nothing.safetensors");
        Safetensors.Save(path, new Dictionary<string, Tensor>());
        Assert.That(Safetensors.Load(path), Is.Empty);
        var bytes = File.ReadAllBytes(path);
        Assert.That(bytes.Length, Is.EqualTo(16), "8-byte length + \"{}\" padded to 8");
        Safetensors.Save(path, new Dictionary<string, Tensor>(), new Dictionary<string, string> { ["only"] = "metadata" });
        Assert.That(Safetensors.Load(path), Is.Empty);
        Assert.That(Safetensors.LoadMetadata(path)["only"], Is.EqualTo("metadata"));
    }

    [Test]
    public void RoundTripsALargeTensor()
    {
        var path = PathOf("large.safetensors");
        using var g = new Generator(7);
        using var t = Torch.Randn(new long[] { 1024, 1024 }, g);
        Safetensors.Save(path, new Dictionary<string, Tensor> { ["big"] = t });
        Assert.That(new FileInfo(path).Length, Is.GreaterThan(4L * 1024 * 1024));
        AssertSame(t, Safetensors.Load(path).Single().Value, "big");
    }

    [Test]
    public void HeaderIsPaddedTo8BytesAndDescribesEveryTensor()
    {
        var path = PathOf("layout.safetensors");
        using var a = Torch.From(new float[] { 1, 2, 3 }, 3);
        using var b = Torch.From(new byte[] { 9 }, 1);
        Safetensors.Save(path, new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b }, new Dictionary<string, string> { ["k"] = "v" });
        var bytes = File.ReadAllBytes(path);
        var n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.That(n % 8, Is.Zero, "the header is padded so the data starts 8-byte aligned");
        Assert.That(bytes.Length, Is.EqualTo(8 + n + 12 + 1));
        var header = Encoding.UTF8.GetString(bytes, 8, (int)n);
        Assert.That(header, Does.StartWith("{"));
        Assert.That(header.TrimEnd(' '), Does.EndWith("}"), "padding is trailing spaces only");
        using var doc = JsonDocument.Parse(header);
        Assert.That(doc.RootElement.GetProperty("__metadata__").GetProperty("k").GetString(), Is.EqualTo("v"));
        Assert.That(doc.RootElement.GetProperty("a").GetProperty("dtype").GetString(), Is.EqualTo("F32"));
        Assert.That(Shape(doc.RootElement.GetProperty("a").GetProperty("data_offsets")), Is.EqualTo(new long[] { 0, 12 }));
        Assert.That(doc.RootElement.GetProperty("b").GetProperty("dtype").GetString(), Is.EqualTo("U8"));
        Assert.That(Shape(doc.RootElement.GetProperty("b").GetProperty("data_offsets")), Is.EqualTo(new long[] { 12, 13 }));
        Assert.That(BitConverter.ToSingle(bytes, 8 + (int)n + 4), Is.EqualTo(2f), "data is little-endian float32");
    }

    [Test]
    public void DuplicateNamesAreRejectedOnSave()
    {
        using var a = Torch.Ones(1);
        var e = Assert.Throws<ArgumentException>(() => Safetensors.Save(PathOf("dup.safetensors"),
            new[] { new KeyValuePair<string, Tensor>("w", a), new KeyValuePair<string, Tensor>("w", a) }))!;
        Assert.That(e.Message, Does.Contain("w").And.Contain("duplicate"));
        Assert.That(Directory.GetFiles(dir), Is.Empty);
    }

    [Test]
    public void SavingADisposedTensorFailsAndWritesNothing()
    {
        var a = Torch.Ones(1);
        a.Dispose();
        Assert.Throws<ObjectDisposedException>(() => Safetensors.Save(PathOf("gone.safetensors"), new Dictionary<string, Tensor> { ["a"] = a }));
        Assert.That(Directory.GetFiles(dir), Is.Empty);
    }

    // ---- atomic writes ----

    [Test]
    public void SaveLeavesNoTemporaryFiles()
    {
        var path = PathOf("model.safetensors");
        using var a = Torch.Ones(4, 4);
        for (int i = 0; i < 3; i++) Safetensors.Save(path, new Dictionary<string, Tensor> { ["a"] = a });
        Assert.That(Directory.GetFiles(dir).Select(Path.GetFileName), Is.EqualTo(new[] { "model.safetensors" }));
    }

    [Test]
    public void SaveReplacesAnExistingFileWhole()
    {
        var path = PathOf("model.safetensors");
        var junk = new byte[1 << 20];
        new Random(3).NextBytes(junk);
        File.WriteAllBytes(path, junk);
        using var a = Torch.From(new float[] { 1, 2 }, 2);
        Safetensors.Save(path, new Dictionary<string, Tensor> { ["a"] = a });
        var bytes = File.ReadAllBytes(path);
        var n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.That(bytes.LongLength, Is.EqualTo(8 + n + 8), "no tail of the old, longer file may remain");
        Assert.That(Safetensors.Load(path).Single().Value.ToArray<float>(), Is.EqualTo(new float[] { 1, 2 }));
        Assert.That(Directory.GetFiles(dir), Has.Length.EqualTo(1));
    }

    [Test]
    public void SaveCreatesMissingDirectories()
    {
        var path = Path.Combine(dir, "a", "b", "model.safetensors");
        using var a = Torch.Ones(1);
        Safetensors.Save(path, new Dictionary<string, Tensor> { ["a"] = a });
        Assert.That(Safetensors.Load(path), Has.Count.EqualTo(1));
    }

    [Test]
    public void AFailedWriteKeepsTheOldFileAndLeavesNoTemporaryFile()
    {
        var path = PathOf("model.safetensors");
        using (var a = Torch.Ones(3))
            Safetensors.Save(path, new Dictionary<string, Tensor> { ["a"] = a });
        var before = File.ReadAllBytes(path);

        // A writer that dies half way through.
        var e = Assert.Throws<IOException>(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[1000]);
            throw new IOException("disk full (simulated)");
        }))!;
        Assert.That(e.Message, Does.Contain("simulated"));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(before), "the target must be untouched");
        Assert.That(Directory.GetFiles(dir).Select(Path.GetFileName), Is.EqualTo(new[] { "model.safetensors" }), "the temporary file must be removed");

        // A failed Save (duplicate names) also leaves the old file as it was.
        using var b = Torch.Zeros(5);
        Assert.Throws<ArgumentException>(() => Safetensors.Save(path, new[] { new KeyValuePair<string, Tensor>("x", b), new KeyValuePair<string, Tensor>("x", b) }));
        Assert.That(File.ReadAllBytes(path), Is.EqualTo(before));
        Assert.That(Directory.GetFiles(dir), Has.Length.EqualTo(1));
    }

    [Test]
    public void ConcurrentSavesToOnePathLeaveOneCompleteFile()
    {
        var path = PathOf("model.safetensors");
        var tensors = Enumerable.Range(0, 8).Select(i => Torch.Full(new long[] { 256, 256 }, i).DetachFromScope()).ToArray();
        try
        {
            Parallel.For(0, tensors.Length, i => Safetensors.Save(path, new Dictionary<string, Tensor> { ["w"] = tensors[i] }, new Dictionary<string, string> { ["i"] = i.ToString() }));
            var meta = Safetensors.LoadMetadata(path);
            var w = Safetensors.Load(path).Single().Value;
            var i = int.Parse(meta["i"]);
            Assert.That(w.Equal(tensors[i]), "the file is one writer's complete output");
            Assert.That(Directory.GetFiles(dir), Has.Length.EqualTo(1));
        }
        finally
        {
            foreach (var t in tensors) t.Dispose();
        }
    }

    [Test]
    public void AWriteRemovesTheTemporaryFilesOfDeadWritersOnly()
    {
        var path = PathOf("model.safetensors");
        // A process that has exited: its pid names a writer killed mid-write.
        using var gone = Process.Start(new ProcessStartInfo("true"))!;
        gone.WaitForExit();
        var dead = PathOf($".model.safetensors.{gone.Id}.0123abcd.tmp");
        var old = PathOf(".model.safetensors.0123abcd.tmp"); // an older version's name, without a pid
        var live = PathOf($".model.safetensors.{Environment.ProcessId}.4567cdef.tmp"); // another thread's, in progress
        foreach (var f in new[] { dead, old, live }) File.WriteAllBytes(f, new byte[10]);
        using var t = Torch.Zeros(3);
        Safetensors.Save(path, new Dictionary<string, Tensor> { ["w"] = t });
        Assert.That(Directory.GetFiles(dir).Select(Path.GetFileName).Order(), Is.EqualTo(new[] { Path.GetFileName(live), "model.safetensors" }));
    }

    // ---- interop with the reference format (Python, numpy, no safetensors package) ----

    const string PythonExe = "/usr/bin/python3";

    static string ScriptPath([CallerFilePath] string thisFile = "")
    {
        var candidates = new List<string>();
        if (!string.IsNullOrEmpty(thisFile))
            candidates.Add(Path.GetFullPath(Path.Combine(Path.GetDirectoryName(thisFile)!, "..", "fixtures", "safetensors_interop.py")));
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            candidates.Add(Path.Combine(d.FullName, "tests", "fixtures", "safetensors_interop.py"));
        var found = candidates.FirstOrDefault(File.Exists);
        if (found is null) Assert.Fail($"tests/fixtures/safetensors_interop.py not found; looked in: {string.Join(", ", candidates)}");
        return found!;
    }

    static (int Code, string Out, string Err) Run(string exe, params string[] args)
    {
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8, StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["PYTHONIOENCODING"] = "utf-8";
        psi.Environment["PYTHONDONTWRITEBYTECODE"] = "1";
        using var p = Process.Start(psi) ?? throw new InvalidOperationException($"could not start {exe}");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{exe} {string.Join(" ", args)} did not finish within 120 s");
        }
        return (p.ExitCode, stdout.Result, stderr.Result);
    }

    /// <summary>Runs the interop script; fails (never skips) when Python or numpy is missing.</summary>
    static JsonDocument Python(string mode, string file)
    {
        if (!File.Exists(PythonExe))
            Assert.Fail($"{PythonExe} does not exist; the safetensors interop test needs Debian's python3 with numpy (apt-get install python3-numpy).");
        var probe = Run(PythonExe, "-c", "import numpy");
        if (probe.Code != 0)
            Assert.Fail($"{PythonExe} cannot import numpy, which the safetensors interop test needs (apt-get install python3-numpy): {probe.Err.Trim()}");
        var (code, stdout, stderr) = Run(PythonExe, ScriptPath(), mode, file);
        if (code != 0) Assert.Fail($"safetensors_interop.py {mode} failed (exit {code}):\n{stderr}\n{stdout}");
        if (!string.IsNullOrWhiteSpace(stderr)) TestContext.Out.WriteLine(stderr);
        return JsonDocument.Parse(stdout);
    }

    /// <summary>The tensor's values as the script prints them: long for integers, bool, double for floats (NaN and ±inf as strings).</summary>
    static object[] Values(Tensor t)
    {
        switch (t.DType)
        {
            case DType.Bool: return t.ToArray<bool>().Cast<object>().ToArray();
            case DType.Float16:
            case DType.BFloat16:
            case DType.Float32:
            case DType.Float64:
                using (var d = t.To(DType.Float64)) return d.ToArray<double>().Cast<object>().ToArray();
            default:
                using (var l = t.To(DType.Int64)) return l.ToArray<long>().Cast<object>().ToArray();
        }
    }

    static object Value(JsonElement e) => e.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        JsonValueKind.String => e.GetString() switch
        {
            "nan" => double.NaN,
            "inf" => double.PositiveInfinity,
            "-inf" => double.NegativeInfinity,
            var s => throw new FormatException($"unexpected value string '{s}'"),
        },
        JsonValueKind.Number when e.TryGetInt64(out var l) && !e.GetRawText().Contains('.') && !e.GetRawText().Contains('e') => l,
        JsonValueKind.Number => e.GetDouble(),
        _ => throw new FormatException($"unexpected value {e}"),
    };

    static bool SameValue(object expected, object actual) => (expected, actual) switch
    {
        (double a, double b) => BitConverter.DoubleToInt64Bits(a) == BitConverter.DoubleToInt64Bits(b) || (double.IsNaN(a) && double.IsNaN(b)),
        (double a, long b) => a == b,
        (long a, long b) => a == b,
        (bool a, bool b) => a == b,
        _ => false,
    };

    static readonly Dictionary<DType, string> Codes = new()
    {
        [DType.Float64] = "F64", [DType.Float32] = "F32", [DType.Float16] = "F16", [DType.BFloat16] = "BF16", [DType.Int64] = "I64",
        [DType.Int32] = "I32", [DType.Int16] = "I16", [DType.Int8] = "I8", [DType.UInt8] = "U8", [DType.Bool] = "BOOL",
    };

    [Test]
    public void PythonReadsAFileTheEngineWrote()
    {
        var path = PathOf("from-dsl.safetensors");
        using var bf = Torch.From(new float[] { 1.5f, -0.25f, 3.0f }, 3);
        var tensors = new List<KeyValuePair<string, Tensor>>
        {
            new("f32", Torch.From(new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity, -0.0f, float.Epsilon, float.MaxValue }, 2, 3)),
            new("f64", Torch.From(new[] { Math.PI, -1e-310, 1e300 }, 3)),
            new("f16", Torch.From(new[] { (Half)1.5, (Half)(-2), Half.MaxValue, Half.Epsilon }, 4)),
            new("bf16", bf.To(DType.BFloat16)),
            new("i64", Torch.From(new[] { long.MinValue, long.MaxValue, 0L, -1L }, 2, 2)),
            new("i32", Torch.From(new[] { int.MinValue, int.MaxValue, 7 }, 3)),
            new("i16", Torch.From(new short[] { short.MinValue, short.MaxValue }, 2)),
            new("i8", Torch.From(new sbyte[] { -128, 127, 0 }, 3)),
            new("u8", Torch.From(new byte[] { 0, 1, 2, 253, 254, 255 }, 2, 1, 3)),
            new("bool", Torch.From(new[] { true, false, false, true }, 2, 2)),
            new("scalar", Torch.Scalar(3.25, DType.Float64)),
            new("empty", Torch.Zeros(new long[] { 0, 4 }, DType.Float32)),
            new("empty_i64", Torch.Zeros(new long[] { 3, 0, 2 }, DType.Int64)),
            new("transposed", Torch.Arange(0, 6, 1).Reshape(2, 3).T),
            new("ünïcode name ✓", Torch.Ones(new long[] { 1 }, DType.Int32)),
        };
        var meta = new Dictionary<string, string> { ["format"] = "pt", ["epoch"] = "3", ["note"] = "héllo ✓", ["empty"] = "" };
        Safetensors.Save(path, tensors, meta);

        using var doc = Python("read", path);
        var root = doc.RootElement;
        Assert.That(root.GetProperty("header_size").GetInt64() % 8, Is.Zero);
        var pyMeta = root.GetProperty("metadata").EnumerateObject().ToDictionary(p => p.Name, p => p.Value.GetString()!);
        Assert.That(pyMeta, Is.EquivalentTo(meta));
        var pyTensors = root.GetProperty("tensors").EnumerateArray().ToList();
        Assert.That(pyTensors.Select(t => t.GetProperty("name").GetString()), Is.EqualTo(tensors.Select(kv => kv.Key)), "names in file order");
        Assert.Multiple(() =>
        {
            for (int i = 0; i < tensors.Count; i++)
            {
                var (name, t) = (tensors[i].Key, tensors[i].Value);
                var py = pyTensors[i];
                Assert.That(py.GetProperty("dtype").GetString(), Is.EqualTo(Codes[t.DType]), $"{name}: dtype");
                Assert.That(Shape(py.GetProperty("shape")), Is.EqualTo(t.Shape), $"{name}: shape");
                var expected = Values(t);
                var actual = py.GetProperty("values").EnumerateArray().Select(Value).ToArray();
                Assert.That(actual, Has.Length.EqualTo(expected.Length), $"{name}: element count");
                for (int k = 0; k < Math.Min(expected.Length, actual.Length); k++)
                    Assert.That(SameValue(expected[k], actual[k]), $"{name}[{k}]: engine wrote {expected[k]}, Python read {actual[k]}");
            }
        });
    }

    [Test]
    public void ReadsAFileWrittenByTheReferenceFormat()
    {
        var path = PathOf("from-python.safetensors");
        using var doc = Python("write", path);
        Assert.That(File.Exists(path));
        var bytes = File.ReadAllBytes(path);
        var n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.That(n % 8, Is.Zero, "the reference writer pads the header to 8 bytes");
        Assert.That(Encoding.UTF8.GetString(bytes, 8, (int)n), Does.EndWith(" "), "this file exercises header padding");

        var loaded = Safetensors.Load(path);
        var byName = loaded.ToDictionary(kv => kv.Key, kv => kv.Value);

        // The values written by safetensors_interop.py (REFERENCE there).
        var expected = new (string Name, DType DType, long[] Shape, object[] Values)[]
        {
            ("a_f32", DType.Float32, new long[] { 2, 3 }, new object[] { -1.5, 0.0, 0.25, 3.0, (double)1e-8f, -65504.0 }),
            ("b_f64", DType.Float64, new long[] { 3 }, new object[] { Math.PI, -1e300, 5e-324 }),
            ("c_i64", DType.Int64, new long[] { 2, 2 }, new object[] { long.MinValue, long.MaxValue, 0L, -1L }),
            ("d_i32", DType.Int32, new long[] { 4 }, new object[] { (long)int.MinValue, (long)int.MaxValue, 7L, -7L }),
            ("e_i16", DType.Int16, new long[] { 2 }, new object[] { -32768L, 32767L }),
            ("f_i8", DType.Int8, new long[] { 3 }, new object[] { -128L, 127L, 0L }),
            ("g_u8", DType.UInt8, new long[] { 2, 1, 3 }, new object[] { 0L, 1L, 2L, 253L, 254L, 255L }),
            ("h_bool", DType.Bool, new long[] { 2, 2 }, new object[] { true, false, false, true }),
            ("i_f16", DType.Float16, new long[] { 3 }, new object[] { 1.5, -2.0, 65504.0 }),
            ("j_bf16", DType.BFloat16, new long[] { 2 }, new object[] { 1.5, -0.25 }),
            ("k_scalar", DType.Float32, Array.Empty<long>(), new object[] { 42.5 }),
            ("l_empty", DType.Float32, new long[] { 0, 3 }, Array.Empty<object>()),
        };
        Assert.That(byName.Keys, Is.EquivalentTo(expected.Select(e => e.Name)));
        Assert.Multiple(() =>
        {
            foreach (var (name, dtype, shape, values) in expected)
            {
                if (!byName.TryGetValue(name, out var t)) continue;
                Assert.That(t.DType, Is.EqualTo(dtype), $"{name}: dtype");
                Assert.That(t.Shape, Is.EqualTo(shape), $"{name}: shape");
                var actual = Values(t);
                Assert.That(actual, Has.Length.EqualTo(values.Length), $"{name}: element count");
                for (int k = 0; k < Math.Min(actual.Length, values.Length); k++)
                    Assert.That(SameValue(values[k], actual[k]), $"{name}[{k}]: expected {values[k]}, engine read {actual[k]}");
            }
        });

        // File order is offset order; the reference writer puts larger dtypes first.
        var pyOrder = doc.RootElement.GetProperty("tensors").EnumerateArray().Select(t => t.GetProperty("name").GetString()).ToList();
        Assert.That(loaded.Select(kv => kv.Key), Is.EqualTo(pyOrder));

        var meta = Safetensors.LoadMetadata(path);
        Assert.That(meta, Is.EquivalentTo(new Dictionary<string, string> { ["format"] = "pt", ["source"] = "safetensors_interop.py", ["unicode"] = "héllo ✓" }));
    }

    [Test]
    public void EngineFileSurvivesAPythonRoundTripCheck()
    {
        // Save, let Python validate the layout (no holes, no overlaps, exact coverage), then load again.
        var path = PathOf("again.safetensors");
        var tensors = AllDTypes.Select((d, i) => new KeyValuePair<string, Tensor>(d.Name(), Sample(d, new long[] { 3, 1, 2 }, 40 + i))).ToList();
        Safetensors.Save(path, tensors);
        using var doc = Python("read", path);
        var offsets = doc.RootElement.GetProperty("tensors").EnumerateArray().Select(t => Shape(t.GetProperty("data_offsets"))).ToList();
        for (int i = 1; i < offsets.Count; i++) Assert.That(offsets[i][0], Is.EqualTo(offsets[i - 1][1]));
        var loaded = Safetensors.Load(path);
        for (int i = 0; i < tensors.Count; i++) AssertSame(tensors[i].Value, loaded[i].Value, tensors[i].Key);
    }
}
