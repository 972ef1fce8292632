using System.IO.Compression;
using System.Text.Json;
using Dsl.Engine.IO;
using NUnit.Framework;

namespace Dsl.Engine.Tests;

/// <summary>
/// Weights trained elsewhere: PyTorch state dicts (real torch.save files and crafted pickles that name other globals)
/// and Keras HDF5 files in Keras's layout, all made by tests/fixtures/make_weights_fixtures.py (weights.json holds
/// what torch computed). Every test checks that the live-tensor count returns to where it started.
/// </summary>
[TestFixture]
public class WeightFileTests
{
    static readonly string Dir = Path.Combine(AppContext.BaseDirectory, "fixtures");
    static readonly JsonElement Cases = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Dir, "weights.json"))).RootElement;

    static string FileOf(string name) => Path.Combine(Dir, "weights", name);

    long baseline;

    [SetUp]
    public void Count() => baseline = Tensor.LiveCount;

    [TearDown]
    public void NoLeaks() => Assert.That(Tensor.LiveCount, Is.EqualTo(baseline), "every tensor the readers made is freed");

    static void DisposeAll(IEnumerable<KeyValuePair<string, Tensor>> ts)
    {
        foreach (var kv in ts) kv.Value.Dispose();
    }

    [Test]
    public void RealStateDictHasTorchKeysShapesAndDtypes()
    {
        var sd = PyTorchWeights.Load(FileOf("mlp.pth"));
        try
        {
            var keys = Cases.GetProperty("mlp").GetProperty("keys").EnumerateArray().Select(k => k.GetString()!).ToArray();
            Assert.That(sd.Select(kv => kv.Key), Is.EqualTo(keys), "every key, in the file's order");
            var d = sd.ToDictionary(kv => kv.Key, kv => kv.Value);
            Assert.That(d["fc1.weight"].Shape, Is.EqualTo(new long[] { 8, 4 }));
            Assert.That(d["fc1.weight"].DType, Is.EqualTo(DType.Float32));
            Assert.That(d["bn.num_batches_tracked"].DType, Is.EqualTo(DType.Int64));
            Assert.That(d["bn.num_batches_tracked"].Shape, Is.Empty);
            Assert.That(d["bn.num_batches_tracked"].ToInt64(), Is.EqualTo(7));
        }
        finally { DisposeAll(sd); }
    }

    [Test]
    public void HalfStorageIsReadAsFloat16()
    {
        var sd = PyTorchWeights.Load(FileOf("cnn_half.pth"));
        try
        {
            var d = sd.ToDictionary(kv => kv.Key, kv => kv.Value);
            Assert.That(d["conv.weight"].DType, Is.EqualTo(DType.Float16));
            Assert.That(d["conv.weight"].Shape, Is.EqualTo(new long[] { 4, 2, 3, 3 }));
            Assert.That(d["bn.num_batches_tracked"].DType, Is.EqualTo(DType.Int64));
            var full = PyTorchWeights.Load(FileOf("cnn.pth"));
            try
            {
                using var h = d["conv.weight"].To(DType.Float32);
                var a = h.ToArray<float>();
                var b = full.Single(kv => kv.Key == "conv.weight").Value.ToArray<float>();
                for (int i = 0; i < a.Length; i++) Assert.That(a[i], Is.EqualTo(b[i]).Within(1e-3 * Math.Max(1, Math.Abs(b[i]))), $"element {i} is the float32 weight rounded to half");
            }
            finally { DisposeAll(full); }
        }
        finally { DisposeAll(sd); }
    }

    [Test]
    public void ViewsOfOneStorageAtOffsetsAndStridesAreCopiedOut()
    {
        var sd = PyTorchWeights.Load(FileOf("views.pth"));
        try
        {
            var expected = Cases.GetProperty("views").GetProperty("tensors");
            Assert.That(sd.Select(kv => kv.Key), Is.EqualTo(expected.EnumerateObject().Select(p => p.Name)), "a plain dict's keys, in order");
            foreach (var (name, t) in sd)
            {
                var e = expected.GetProperty(name);
                Assert.That(t.Shape, Is.EqualTo(e.GetProperty("shape").EnumerateArray().Select(x => x.GetInt64())), name);
                var want = e.GetProperty("data").EnumerateArray().Select(x => x.GetDouble()).ToArray();
                double[] got = t.DType == DType.Int64 ? t.ToArray<long>().Select(x => (double)x).ToArray() : t.ToArray<float>().Select(x => (double)x).ToArray();
                Assert.That(got, Is.EqualTo(want), name);
                Assert.That(t.DType.Name(), Is.EqualTo(e.GetProperty("dtype").GetString()), name);
            }
        }
        finally { DisposeAll(sd); }
    }

    [TestCase("evil_os_system.pth")]
    [TestCase("evil_builtins_eval.pth")]
    [TestCase("evil_posix_system.pth")]
    [TestCase("evil_whole_module.pth")]
    public void APickleNamingAnotherGlobalIsRefusedWithItsName(string file)
    {
        var global = Cases.GetProperty("evil").GetProperty(file).GetString()!;
        var e = Assert.Throws<InvalidDataException>(() => PyTorchWeights.Load(FileOf(file)))!;
        Assert.That(e.Message, Does.Contain($"'{global}'").And.Contain(file).And.Contain("never runs code"));
    }

    [Test]
    public void CraftedPicklesInTheTestAreRefusedToo()
    {
        var dir = Directory.CreateTempSubdirectory("dsl-pth-").FullName;
        try
        {
            string Zip(string name, byte[] pkl)
            {
                var p = Path.Combine(dir, name);
                using (var z = ZipFile.Open(p, ZipArchiveMode.Create))
                using (var s = z.CreateEntry("archive/data.pkl", CompressionLevel.NoCompression).Open())
                    s.Write(pkl);
                return p;
            }
            byte[] B(string s) => s.Select(c => (byte)c).ToArray();
            // INST names subprocess.Popen; protocol 0 GLOBAL of nt.system; STACK_GLOBAL whose names come from the memo
            var inst = Zip("inst.pth", B("(S'ls'\nisubprocess\nPopen\n."));
            var nt = Zip("nt.pth", B("cnt\nsystem\n(S'dir'\ntR."));
            var memo = Zip("memo.pth", [0x80, 4, 0x8c, 2, (byte)'o', (byte)'s', 0x94, 0x8c, 6, .. B("system"), 0x94, 0x68, 0, 0x68, 1, 0x93, 0x29, 0x52, (byte)'.']);
            // the stack, not the last two strings, decides: "collections OrderedDict" is pushed and popped again
            var popped = Zip("popped.pth", [0x80, 4, 0x8c, 2, .. B("os"), 0x8c, 6, .. B("system"), (byte)'(', 0x8c, 11, .. B("collections"), 0x8c, 11, .. B("OrderedDict"), (byte)'1', 0x93, (byte)'.']);
            foreach (var (path, global) in new[] { (inst, "subprocess.Popen"), (nt, "nt.system"), (memo, "os.system"), (popped, "os.system") })
                Assert.That(Assert.Throws<InvalidDataException>(() => PyTorchWeights.Load(path))!.Message, Does.Contain($"'{global}'"), path);
            var ext = Zip("ext.pth", [0x80, 2, 0x82, 1, (byte)'.']);
            Assert.That(Assert.Throws<InvalidDataException>(() => PyTorchWeights.Load(ext))!.Message, Does.Contain("extension registry"));
            var truncated = Zip("truncated.pth", [0x80, 2, (byte)'X', 200, 0, 0, 0, (byte)'a']);
            Assert.That(Assert.Throws<InvalidDataException>(() => PyTorchWeights.Load(truncated))!.Message, Does.Contain("truncated"));
        }
        finally { Directory.Delete(dir, true); }
    }

    [Test]
    public void LegacyFormatAndOtherFilesAreRefusedWithTheFix()
    {
        var e = Assert.Throws<InvalidDataException>(() => PyTorchWeights.Load(FileOf("legacy.pth")))!;
        Assert.That(e.Message, Does.Contain("legacy (pre-1.6)").And.Contain("save it again"));
        var e2 = Assert.Throws<InvalidDataException>(() => PyTorchWeights.Load(FileOf("keras_mlp.h5")))!;
        Assert.That(e2.Message, Does.Contain("not a PyTorch zip archive"));
        Assert.Throws<FileNotFoundException>(() => PyTorchWeights.Load(FileOf("absent.pth")));
    }

    [Test]
    public void ATruncatedArchiveIsRefused()
    {
        var bytes = File.ReadAllBytes(FileOf("cnn.pth"));
        var p = Path.Combine(Path.GetTempPath(), $"dsl-cut-{Guid.NewGuid():N}.pth");
        File.WriteAllBytes(p, bytes[..(bytes.Length / 2)]);
        try { Assert.That(Assert.Throws<InvalidDataException>(() => PyTorchWeights.Load(p))!.Message, Does.Contain("damaged")); }
        finally { File.Delete(p); }
    }

    [Test]
    public void KerasWholeModelFileIsConvertedToTorchLayout()
    {
        var w = KerasWeights.Load(FileOf("keras_mlp.h5"));
        try
        {
            Assert.That(w.Select(kv => kv.Key), Is.EqualTo(new[]
            {
                "dense.weight", "dense.bias", "batch_normalization.weight", "batch_normalization.bias",
                "batch_normalization.running_mean", "batch_normalization.running_var", "dense_1.weight", "dense_1.bias",
            }));
            var d = w.ToDictionary(kv => kv.Key, kv => kv.Value);
            Assert.That(d["dense.weight"].Shape, Is.EqualTo(new long[] { 8, 4 }), "[in, out] becomes [out, in]");
            Assert.That(d["dense_1.weight"].Shape, Is.EqualTo(new long[] { 3, 8 }));
        }
        finally { DisposeAll(w); }
    }

    [Test]
    public void KerasSaveWeightsFileConvertsConvAndDepthwiseKernels()
    {
        var w = KerasWeights.Load(FileOf("keras_cnn.h5"));
        try
        {
            var d = w.ToDictionary(kv => kv.Key, kv => kv.Value);
            Assert.That(d["conv2d.weight"].Shape, Is.EqualTo(new long[] { 4, 2, 3, 3 }), "HWIO becomes OIHW");
            Assert.That(d["depthwise_conv2d.weight"].Shape, Is.EqualTo(new long[] { 8, 1, 3, 3 }), "HWCM becomes (C·M)1HW");
            Assert.That(d["depthwise_conv2d.bias"].Shape, Is.EqualTo(new long[] { 8 }));
            Assert.That(d["batch_normalization.running_var"].Shape, Is.EqualTo(new long[] { 8 }));
            Assert.That(d.Keys, Has.None.Contain("global_average_pooling2d"), "a layer without weights adds nothing");
        }
        finally { DisposeAll(w); }
    }

    [Test]
    public void NonKerasHdf5AndNonHdf5FilesAreRefused()
    {
        Assert.That(Assert.Throws<InvalidDataException>(() => KerasWeights.Load(FileOf("cnn.pth")))!.Message, Does.Contain("not a readable HDF5 file"));
        Assert.Throws<FileNotFoundException>(() => KerasWeights.Load(FileOf("absent.h5")));
    }
}
