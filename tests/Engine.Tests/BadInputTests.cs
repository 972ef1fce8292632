using System.Buffers.Binary;
using System.Text;
using Dsl.Engine.IO;
using NUnit.Framework;

namespace Dsl.Engine.Tests;

/// <summary>
/// Bad input must raise an ordinary .NET exception (never crash the process), and the message must
/// name the op and the shapes of the tensors involved, without a C++ backtrace.
/// </summary>
[TestFixture]
public class BadInputTests
{
    DisposeScope? scope;
    string dir = "";

    [SetUp]
    public void Open()
    {
        scope = DisposeScope.Enter();
        dir = Directory.CreateTempSubdirectory("dsl-badinput-").FullName;
    }

    [TearDown]
    public void Close()
    {
        scope?.Dispose();
        scope = null;
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    // ---- helpers ----

    static void NoBacktrace(Exception e)
    {
        for (var x = e; x is not null; x = x.InnerException)
        {
            Assert.That(x.Message, Does.Not.Contain("frame #"), "C++ backtrace leaked into the message");
            Assert.That(x.Message, Does.Not.Contain("Exception raised from"), "C++ backtrace leaked into the message");
            Assert.That(x.Message, Does.Not.Contain("Compile stack"), "C++ backtrace leaked into the message");
        }
    }

    static string Shape(params long[] s) => "[" + string.Join(", ", s) + "]";

    /// <summary>Runs <paramref name="bad"/>, expects a TorchException for <paramref name="op"/> whose message names every shape.</summary>
    static TorchException Torch_(string op, TestDelegate bad, params string[] mentions)
    {
        var e = Assert.Throws<TorchException>(bad)!;
        TestContext.Out.WriteLine(e.Message);
        NoBacktrace(e);
        Assert.That(e.Op, Is.EqualTo(op), "TorchException.Op");
        Assert.That(e.Message, Does.StartWith(op + ":"), "the message should start with the op name");
        Assert.That(e.NativeMessage, Is.Not.Empty.And.Not.EqualTo("unknown native error"));
        foreach (var m in mentions) Assert.That(e.Message, Does.Contain(m), $"the message should mention {m}");
        return e;
    }

    static Tensor Randn(params long[] shape) => Torch.Randn(shape);
    static Tensor Longs(long[] values, params long[] shape) => Torch.From(values, shape.Length == 0 ? new[] { (long)values.Length } : shape);

    // ---- matmul / mm / linear / conv ----

    [Test]
    public void MatmulShapeMismatch()
    {
        using var a = Randn(2, 3);
        using var b = Randn(4, 5);
        var e = Torch_("matmul", () => a.Matmul(b), Shape(2, 3), Shape(4, 5), "float32");
        Assert.That(e.ArgumentShapes, Is.EqualTo(new[] { "[2, 3] float32", "[4, 5] float32" }));
        Assert.That(e.Message, Does.Contain("Hint:"));
    }

    [Test]
    public void BatchedMatmulShapeMismatch()
    {
        using var a = Randn(7, 2, 3);
        using var b = Randn(7, 4, 5);
        Torch_("matmul", () => a.Matmul(b), Shape(7, 2, 3), Shape(7, 4, 5));
    }

    [Test]
    public void MmShapeMismatch()
    {
        using var a = Randn(2, 3);
        using var b = Randn(4, 5);
        Torch_("mm", () => a.Mm(b), Shape(2, 3), Shape(4, 5));
    }

    [Test]
    public void MmOfVectorIsRejected()
    {
        using var a = Randn(3);
        using var b = Randn(3, 2);
        Torch_("mm", () => a.Mm(b), Shape(3), Shape(3, 2));
    }

    [Test]
    public void BmmShapeMismatch()
    {
        using var a = Randn(2, 3, 4);
        using var b = Randn(3, 4, 5);
        Torch_("bmm", () => a.Bmm(b), Shape(2, 3, 4), Shape(3, 4, 5));
    }

    [Test]
    public void LinearInFeaturesMismatch()
    {
        using var x = Randn(8, 3);
        using var w = Randn(5, 4);
        using var b = Randn(5);
        Torch_("linear", () => Functional.Linear(x, w, b), Shape(8, 3), Shape(5, 4), Shape(5));
    }

    [Test]
    public void LinearBiasMismatch()
    {
        using var x = Randn(8, 4);
        using var w = Randn(5, 4);
        using var b = Randn(6);
        Torch_("linear", () => Functional.Linear(x, w, b), Shape(8, 4), Shape(5, 4), Shape(6));
    }

    [Test]
    public void Conv2dChannelMismatch()
    {
        using var x = Randn(1, 3, 8, 8);
        using var w = Randn(4, 2, 3, 3);
        var e = Torch_("conv2d", () => Functional.Conv2d(x, w), Shape(1, 3, 8, 8), Shape(4, 2, 3, 3));
        Assert.That(e.Message, Does.Contain("channels"));
    }

    [Test]
    public void Conv2dNhwcInputMismatch()
    {
        // NHWC data given to an NCHW conv: 32 "channels" against a 3-channel weight.
        using var x = Randn(2, 32, 32, 3);
        using var w = Randn(16, 3, 3, 3);
        Torch_("conv2d", () => Functional.Conv2d(x, w), Shape(2, 32, 32, 3), Shape(16, 3, 3, 3));
    }

    [Test]
    public void Conv2dWrongRank()
    {
        using var x = Randn(3, 8);
        using var w = Randn(4, 3, 3, 3);
        Torch_("conv2d", () => Functional.Conv2d(x, w), Shape(3, 8), Shape(4, 3, 3, 3));
    }

    // ---- broadcasting ----

    [Test]
    public void AddBroadcastMismatch()
    {
        using var a = Randn(2, 3);
        using var b = Randn(2, 4);
        var e = Torch_("add", () => { using var _ = a + b; }, Shape(2, 3), Shape(2, 4));
        Assert.That(e.Message, Does.Contain("Hint:"));
    }

    [Test]
    public void MulBroadcastMismatch()
    {
        using var a = Randn(3);
        using var b = Randn(4);
        Torch_("mul", () => { using var _ = a * b; }, Shape(3), Shape(4));
    }

    [Test]
    public void InPlaceAddCannotGrowTheReceiver()
    {
        // a += b where the broadcast result is larger than a.
        using var a = Randn(3);
        using var b = Randn(2, 3);
        Torch_("add_", () => a.Add_(b), Shape(3), Shape(2, 3));
    }

    // ---- dtypes ----

    [Test]
    public void CrossEntropyWithFloatTargetsOfTheWrongShape()
    {
        using var logits = Randn(4, 3);
        using var target = Torch.From(new float[] { 0, 1, 2, 1 }, 4);
        Torch_("cross_entropy", () => Functional.CrossEntropy(logits, target), Shape(4, 3), Shape(4), "float32");
    }

    [Test]
    public void CrossEntropyWithInt32Labels()
    {
        using var logits = Randn(4, 3);
        using var target = Torch.From(new int[] { 0, 1, 2, 1 }, 4);
        Torch_("cross_entropy", () => Functional.CrossEntropy(logits, target), Shape(4, 3), Shape(4), "int32");
    }

    [Test]
    public void MatmulOfIntAndFloat()
    {
        using var a = Torch.From(new int[] { 1, 2, 3, 4, 5, 6 }, 2, 3);
        using var b = Randn(3, 2);
        Torch_("matmul", () => a.Matmul(b), Shape(2, 3) + " int32", Shape(3, 2) + " float32");
    }

    [Test]
    public void IndexSelectWithFloatIndex()
    {
        using var a = Randn(3, 4);
        using var idx = Torch.From(new float[] { 0, 1 }, 2);
        Torch_("index_select", () => a.IndexSelect(0, idx), Shape(3, 4), Shape(2) + " float32");
    }

    [Test]
    public void GatherWithFloatIndex()
    {
        using var a = Randn(2, 3);
        using var idx = Torch.From(new float[] { 0, 1, 0, 1 }, 2, 2);
        Torch_("gather", () => a.Gather(1, idx), Shape(2, 3), Shape(2, 2) + " float32");
    }

    [Test]
    public void EmbeddingWithFloatIndices()
    {
        using var w = Randn(10, 4);
        using var idx = Torch.From(new float[] { 1, 2 }, 2);
        Torch_("embedding", () => Functional.Embedding(idx, w), Shape(10, 4), Shape(2) + " float32");
    }

    /// <summary>A wrong index dtype is a dtype problem: the hint must suggest a conversion, not talk about index ranges.</summary>
    [Test]
    public void IndexDtypeErrorsGetTheDtypeHint()
    {
        using var a = Randn(3, 4);
        using var idx = Torch.From(new float[] { 0, 1 }, 2);
        var e = Torch_("index_select", () => a.IndexSelect(0, idx), Shape(3, 4));
        Assert.That(e.Message, Does.Contain(".To(DType.Int64").Or.Contain(".To(DType."), "expected the dtype hint");
        Assert.That(e.Message, Does.Not.Contain("must lie in"), "the range hint is wrong for a dtype error");
        using var g = Torch.From(new float[] { 0, 1, 0, 1 }, 2, 2);
        e = Torch_("gather", () => a.Gather(1, g), Shape(3, 4));
        Assert.That(e.Message, Does.Contain(".To(DType."), "expected the dtype hint");
        Assert.That(e.Message, Does.Not.Contain("must lie in"), "the range hint is wrong for a dtype error");
    }

    [Test]
    public void CopyToWrongElementTypeNamesBothTypes()
    {
        using var a = Randn(2, 3);
        var e = Assert.Throws<TorchException>(() => a.ToArray<int>())!;
        NoBacktrace(e);
        Assert.That(e.Message, Does.Contain("copy_to").And.Contain("float32").And.Contain("Int32").And.Contain(Shape(2, 3)));
    }

    // ---- indices out of range ----

    [Test]
    public void IndexSelectOutOfRange()
    {
        using var a = Randn(3, 4);
        using var idx = Longs(new long[] { 0, 5 });
        var e = Torch_("index_select", () => a.IndexSelect(0, idx), Shape(3, 4), Shape(2) + " int64");
        Assert.That(e.Message, Does.Contain("out of range"));
    }

    [Test]
    public void IndexSelectNegativeIndex()
    {
        using var a = Randn(3, 4);
        using var idx = Longs(new long[] { -1 });
        Torch_("index_select", () => a.IndexSelect(0, idx), Shape(3, 4), Shape(1) + " int64");
    }

    [Test]
    public void IndexSelectDimOutOfRange()
    {
        using var a = Randn(3, 4);
        using var idx = Longs(new long[] { 0 });
        Torch_("index_select", () => a.IndexSelect(2, idx), Shape(3, 4));
    }

    [Test]
    public void GatherOutOfRange()
    {
        using var a = Randn(2, 3);
        using var idx = Longs(new long[] { 0, 3, 1, 1 }, 2, 2);
        var e = Torch_("gather", () => a.Gather(1, idx), Shape(2, 3), Shape(2, 2) + " int64");
        Assert.That(e.Message, Does.Contain("out of bounds").Or.Contain("out of range"));
    }

    [Test]
    public void SelectOutOfRange()
    {
        using var a = Randn(3, 4);
        var e = Torch_("select", () => a.Select(0, 5), Shape(3, 4));
        Assert.That(e.Message, Does.Contain("5"));
        Torch_("select", () => { using var _ = a[-4]; }, Shape(3, 4));
        Torch_("select", () => a.Select(2, 0), Shape(3, 4));
    }

    [Test]
    public void NarrowOutOfRange()
    {
        using var a = Randn(3, 4);
        Torch_("narrow", () => a.Narrow(0, 2, 5), Shape(3, 4));
        Torch_("narrow", () => a.Narrow(1, 5, 1), Shape(3, 4));
        Torch_("narrow", () => a.Narrow(3, 0, 1), Shape(3, 4));
    }

    [Test]
    public void EmbeddingIndexOutOfRange()
    {
        using var w = Randn(10, 4);
        using var idx = Longs(new long[] { 1, 10 });
        var e = Torch_("embedding", () => Functional.Embedding(idx, w), Shape(10, 4), Shape(2) + " int64");
        Assert.That(e.Message, Does.Contain("out of range"));
    }

    [Test]
    public void CrossEntropyLabelNotBelowClassCount()
    {
        using var logits = Randn(2, 3);
        using var target = Longs(new long[] { 0, 3 });
        var e = Torch_("cross_entropy", () => Functional.CrossEntropy(logits, target), Shape(2, 3), Shape(2) + " int64");
        Assert.That(e.Message, Does.Contain("3"));
    }

    [Test]
    public void CrossEntropyNegativeLabel()
    {
        using var logits = Randn(2, 3);
        using var target = Longs(new long[] { 0, -2 });
        Torch_("cross_entropy", () => Functional.CrossEntropy(logits, target), Shape(2, 3), Shape(2) + " int64");
    }

    [Test]
    public void CrossEntropyBatchMismatch()
    {
        using var logits = Randn(4, 3);
        using var target = Longs(new long[] { 0, 1, 2 });
        Torch_("cross_entropy", () => Functional.CrossEntropy(logits, target), Shape(4, 3), Shape(3) + " int64");
    }

    [Test]
    public void SizeOutOfRange()
    {
        using var a = Randn(3, 4);
        Torch_("size", () => a.Size(2), Shape(3, 4));
    }

    // ---- shapes ----

    [Test]
    public void ReshapeToIncompatibleSize()
    {
        using var a = Randn(2, 3);
        var e = Torch_("reshape", () => a.Reshape(4, 2), Shape(2, 3));
        Assert.That(e.Message, Does.Contain("[4, 2]").And.Contain("6"));
    }

    [Test]
    public void ReshapeWithTwoInferredSizes()
    {
        using var a = Randn(2, 3);
        Torch_("reshape", () => a.Reshape(-1, -1), Shape(2, 3));
    }

    [Test]
    public void ViewOfNonContiguous()
    {
        using var a = Randn(2, 3);
        using var t = a.T;
        Torch_("view", () => t.View(6), Shape(3, 2));
    }

    [Test]
    public void CatOfMismatchedShapes()
    {
        using var a = Randn(2, 3);
        using var b = Randn(2, 4);
        var e = Torch_("cat", () => Torch.Cat(new[] { a, b }, 0), Shape(2, 3), Shape(2, 4));
        Assert.That(e.ArgumentShapes, Has.Count.EqualTo(2));
    }

    [Test]
    public void CatOfMismatchedRanks()
    {
        using var a = Randn(2, 3);
        using var b = Randn(3);
        Torch_("cat", () => Torch.Cat(new[] { a, b }, 0), Shape(2, 3), Shape(3));
    }

    [Test]
    public void StackOfMismatchedShapes()
    {
        using var a = Randn(2, 3);
        using var b = Randn(3, 2);
        Torch_("stack", () => Torch.Stack(new[] { a, b }), Shape(2, 3), Shape(3, 2));
    }

    [Test]
    public void CatOfNothing()
    {
        var e = Assert.Throws<TorchException>(() => Torch.Cat(Array.Empty<Tensor>()))!;
        Assert.That(e.Message, Does.StartWith("cat:"));
    }

    [Test]
    public void FromDataWithTheWrongElementCount()
    {
        var e = Assert.Throws<TorchException>(() => Torch.From(new float[] { 1, 2, 3, 4, 5 }, 2, 3))!;
        NoBacktrace(e);
        Assert.That(e.Message, Does.StartWith("from_data:").And.Contain("[2, 3]").And.Contain("5"));
    }

    [Test]
    public void NegativeSizeInCreation()
    {
        var e = Assert.Throws<TorchException>(() => Torch.Zeros(2, -3))!;
        Assert.That(e.Message, Does.StartWith("zeros:").And.Contain("[2, -3]"));
    }

    [Test]
    public void CudaTensorOnACpuOnlyBuild()
    {
        Assume.That(Device.CudaAvailable, Is.False);
        var e = Assert.Throws<TorchException>(() => Torch.Zeros(new long[] { 2 }, DType.Float32, Device.Cuda(0)))!;
        NoBacktrace(e);
        Assert.That(e.Message, Does.StartWith("zeros:"));
    }

    [Test]
    public void ItemOfManyElements()
    {
        using var a = Randn(2, 3);
        Torch_("item", () => a.ToDouble(), Shape(2, 3));
    }

    // ---- use after dispose ----

    [Test]
    public void DisposedReceiver()
    {
        var a = Randn(2, 3);
        a.Dispose();
        Assert.That(a.IsDisposed);
        void Disposed(string op, TestDelegate d)
        {
            var e = Assert.Throws<ObjectDisposedException>(d)!;
            NoBacktrace(e);
            Assert.That(e.Message, Does.Contain(op), "the message should name the op");
        }
        Disposed("reshape", () => a.Reshape(6));
        Disposed("exp", () => a.Exp());
        Disposed("sum", () => a.Sum());
        Disposed("transpose", () => { using var _ = a.T; });
        Disposed("shape", () => _ = a.Shape);
        Disposed("numel", () => _ = a.Numel);
        Disposed("dtype", () => _ = a.DType);
        Disposed("add_", () => a.Add_(1.0));
        Disposed("fill_", () => a.Fill_(0));
        Disposed("item", () => a.ToDouble());
        Disposed("", () => a.ToArray<float>());
        Disposed("relu", () => Functional.Relu(a));
        Assert.That(a.ToString(), Is.EqualTo("Tensor(<disposed>)"));
    }

    [Test]
    public void DisposedArgument()
    {
        using var a = Randn(2, 3);
        var b = Randn(2, 3);
        b.Dispose();
        var e = Assert.Throws<ObjectDisposedException>(() => { using var _ = a + b; })!;
        Assert.That(e.Message, Does.Contain("add").And.Contain("argument 2"));
        e = Assert.Throws<ObjectDisposedException>(() => a.Matmul(b))!;
        Assert.That(e.Message, Does.Contain("matmul"));
        e = Assert.Throws<ObjectDisposedException>(() => Torch.Cat(new[] { a, b }))!;
        Assert.That(e.Message, Does.Contain("cat"));
        e = Assert.Throws<ObjectDisposedException>(() => Functional.Linear(a, b))!;
        Assert.That(e.Message, Does.Contain("linear"));
        e = Assert.Throws<ObjectDisposedException>(() => a.Copy_(b))!;
        Assert.That(e.Message, Does.Contain("copy_"));
        using var idx = Longs(new long[] { 0 });
        e = Assert.Throws<ObjectDisposedException>(() => b.IndexSelect(0, idx))!;
        Assert.That(e.Message, Does.Contain("index_select").And.Contain("argument 1"));
    }

    /// <summary>
    /// A disposed tensor passed where an optional tensor is accepted (a bias, a class weight, running
    /// statistics) must be rejected, not silently treated as "no tensor given".
    /// </summary>
    [Test]
    public void DisposedOptionalArgument()
    {
        using var x = Randn(4, 3);
        using var w = Randn(5, 3);
        var bias = Randn(5);
        bias.Dispose();
        var e = Assert.Throws<ObjectDisposedException>(() => { using var _ = Functional.Linear(x, w, bias); },
            "linear with a disposed bias computed x·Wᵀ without the bias instead of failing")!;
        Assert.That(e.Message, Does.Contain("linear"));

        using var logits = Randn(4, 3);
        using var target = Longs(new long[] { 0, 1, 2, 1 });
        var classWeight = Torch.Ones(3);
        classWeight.Dispose();
        e = Assert.Throws<ObjectDisposedException>(() => { using var _ = Functional.CrossEntropy(logits, target, classWeight); },
            "cross_entropy with a disposed class weight ran unweighted instead of failing")!;
        Assert.That(e.Message, Does.Contain("cross_entropy"));
    }

    [Test]
    public void DoubleDisposeIsHarmless()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var a = Torch.Zeros(3);
        a.DetachFromScope();
        var live = Tensor.LiveCount;
        a.Dispose();
        Assert.That(Tensor.LiveCount, Is.EqualTo(live - 1));
        Assert.DoesNotThrow(() => a.Dispose());
        Assert.DoesNotThrow(() => a.Dispose());
        Assert.That(Tensor.LiveCount, Is.EqualTo(live - 1), "a second Dispose must not free anything");

        // A tensor disposed by hand and then by its scope.
        var before = Tensor.LiveCount;
        using (DisposeScope.Enter())
        {
            var b = Torch.Ones(2);
            b.Dispose();
        }
        Assert.That(Tensor.LiveCount, Is.EqualTo(before));
    }

    // ---- safetensors ----

    static byte[] File_(string json, int dataBytes, ulong? claimedLength = null)
    {
        var h = Encoding.UTF8.GetBytes(json);
        var bytes = new byte[8 + h.Length + dataBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, claimedLength ?? (ulong)h.Length);
        h.CopyTo(bytes, 8);
        for (int i = 0; i < dataBytes; i++) bytes[8 + h.Length + i] = (byte)i;
        return bytes;
    }

    InvalidDataException? Corrupt(byte[] bytes, params string[] mentions)
    {
        var path = Path.Combine(dir, "bad.safetensors");
        File.WriteAllBytes(path, bytes);
        var live = Tensor.LiveCount;
        var shown = bytes.Length <= 8 ? $"{bytes.Length} bytes" :
            $"header length {BinaryPrimitives.ReadUInt64LittleEndian(bytes)}, header text {Encoding.UTF8.GetString(bytes, 8, (int)Math.Min((ulong)Math.Min(bytes.Length - 8, 300), BinaryPrimitives.ReadUInt64LittleEndian(bytes)))}";
        var e = Assert.Throws<InvalidDataException>(() => Safetensors.Load(path), $"loading a corrupt file ({shown})");
        if (e is null) return null;
        TestContext.Out.WriteLine(e.Message);
        Assert.That(e.Message, Does.Contain(path), "the message should name the file");
        Assert.That(e.Message, Does.Contain("safetensors"));
        foreach (var m in mentions) Assert.That(e.Message, Does.Contain(m));
        Assert.That(Tensor.LiveCount, Is.LessThanOrEqualTo(live), "a failed load must not leave tensors behind");
        return e;
    }

    [Test]
    public void SafetensorsMissingFile()
    {
        var path = Path.Combine(dir, "nope.safetensors");
        var e = Assert.Throws<FileNotFoundException>(() => Safetensors.Load(path))!;
        Assert.That(e.Message, Does.Contain(path));
        Assert.That(e.FileName, Is.EqualTo(path));
        Assert.Throws<FileNotFoundException>(() => Safetensors.LoadMetadata(path));
    }

    [Test]
    public void SafetensorsEmptyAndTooShortFiles()
    {
        Corrupt(Array.Empty<byte>(), "0 bytes");
        Corrupt(new byte[] { 1, 2, 3 }, "3 bytes");
    }

    [Test]
    public void SafetensorsHeaderLengthBeyondTheFile()
    {
        Corrupt(File_("{}", 0, claimedLength: 1000), "1000");
        Corrupt(File_("{}", 0, claimedLength: ulong.MaxValue));
        Corrupt(File_("{}", 0, claimedLength: (ulong)int.MaxValue + 10));
    }

    [Test]
    public void SafetensorsZeroHeaderLength() => Corrupt(File_("", 16));

    [Test]
    public void SafetensorsBadJson()
    {
        Corrupt(File_("{\"a\": {\"dtype\": \"F32\", ", 0), "JSON");
        Corrupt(File_("not json at all", 0), "JSON");
        Corrupt(File_("[1, 2, 3]", 0), "JSON");
        Corrupt(File_("null", 0), "JSON");
        Corrupt(File_("\"a string\"", 0), "JSON");
        var bytes = File_("{\"a\": 1}", 0);
        bytes[9] = 0xFF; // invalid UTF-8 inside the header
        Corrupt(bytes);
    }

    /// <summary>Invalid UTF-8 in a tensor name or metadata key is a corrupt header.</summary>
    [Test]
    public void SafetensorsInvalidUtf8InAName()
    {
        var bytes = File_("{\"w\u0001\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]}}", 1);
        int at = Array.IndexOf(bytes, (byte)'w') + 1;
        Assert.That(bytes[at], Is.EqualTo(1));
        bytes[at] = 0xFF;
        Corrupt(bytes, "JSON");
    }

    [Test]
    public void SafetensorsMalformedEntries()
    {
        Corrupt(File_("{\"w\": 5}", 0), "'w'");
        Corrupt(File_("{\"w\": {\"shape\": [1], \"data_offsets\": [0, 4]}}", 4), "'w'");
        Corrupt(File_("{\"w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 4]}}", 4), "'w'");
        Corrupt(File_("{\"w\": {\"dtype\": \"F32\", \"shape\": [1]}}", 4), "'w'");
        Corrupt(File_("{\"w\": {\"dtype\": 7, \"shape\": [1], \"data_offsets\": [0, 4]}}", 4), "'w'");
        Corrupt(File_("{\"w\": {\"dtype\": \"F32\", \"shape\": \"1\", \"data_offsets\": [0, 4]}}", 4), "'w'");
        Corrupt(File_("{\"w\": {\"dtype\": \"F32\", \"shape\": [1.5], \"data_offsets\": [0, 4]}}", 4), "'w'");
        Corrupt(File_("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, \"4\"]}}", 4), "'w'");
        Corrupt(File_("{\"w\": {\"dtype\": \"C64\", \"shape\": [1], \"data_offsets\": [0, 8]}}", 8), "'w'", "C64");
        Corrupt(File_("{\"w\": {\"dtype\": \"F32\", \"shape\": [-1], \"data_offsets\": [0, 4]}}", 4), "'w'");
    }

    [Test]
    public void SafetensorsOffsetsOutOfRange()
    {
        Corrupt(File_("{\"w\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]}}", 12), "'w'", "[0, 16]");
        Corrupt(File_("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [8, 4]}}", 12), "'w'");
        Corrupt(File_("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [-4, 0]}}", 12), "'w'");
        Corrupt(File_("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0]}}", 12), "'w'");
        Corrupt(File_("{\"w\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4, 8]}}", 12), "'w'");
    }

    [Test]
    public void SafetensorsWrongByteCount()
    {
        Corrupt(File_("{\"w\": {\"dtype\": \"F32\", \"shape\": [2, 3], \"data_offsets\": [0, 20]}}", 24), "'w'", "24", "20");
        Corrupt(File_("{\"w\": {\"dtype\": \"F64\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 16), "'w'");
        Corrupt(File_("{\"w\": {\"dtype\": \"I64\", \"shape\": [], \"data_offsets\": [0, 4]}}", 16), "'w'");
    }

    /// <summary>
    /// The format requires the tensors to cover the data section exactly (the reference loader rejects
    /// holes, overlapping tensors and trailing bytes with InvalidOffset / MetadataIncompleteBuffer).
    /// </summary>
    [Test]
    public void SafetensorsHolesOverlapsAndTrailingBytesAreRejected()
    {
        using var _ = Assert.EnterMultipleScope();
        // overlap: b reuses a's bytes
        Corrupt(File_("{\"a\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [0, 2]}, " +
                      "\"b\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [1, 3]}}", 3), "'b'");
        // hole: byte 0 belongs to nobody
        Corrupt(File_("{\"a\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [1, 2]}}", 2), "'a'");
        // trailing bytes after the last tensor
        Corrupt(File_("{\"a\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]}}", 5));
    }

    /// <summary>A shape whose element count overflows int64 must be reported as a corrupt file, not reach libtorch.</summary>
    [Test]
    public void SafetensorsShapeWhoseSizeOverflows()
    {
        // 2^32 · 2^32 · 4 bytes wraps to 0 in int64 arithmetic, matching the empty offsets [0, 0].
        Corrupt(File_("{\"w\": {\"dtype\": \"F32\", \"shape\": [4294967296, 4294967296], \"data_offsets\": [0, 0]}}", 0), "'w'");
    }

    /// <summary>The format requires "__metadata__" to map strings to strings; anything else is a corrupt file.</summary>
    [Test]
    public void SafetensorsMetadataThatIsNotStrings()
    {
        Corrupt(File_("{\"__metadata__\": {\"epoch\": 3}}", 0), "__metadata__");
        Corrupt(File_("{\"__metadata__\": {\"nested\": {\"a\": \"b\"}}}", 0), "__metadata__");
    }

    /// <summary>JSON with a tensor name given twice is ambiguous; it must be rejected as corrupt.</summary>
    [Test]
    public void SafetensorsDuplicateTensorNames()
    {
        Corrupt(File_("{\"w\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [0, 1]}, " +
                      "\"w\": {\"dtype\": \"U8\", \"shape\": [1], \"data_offsets\": [1, 2]}}", 2), "w");
    }

    [Test]
    public void SafetensorsEveryTruncationOfAValidFileIsRejected()
    {
        var path = Path.Combine(dir, "good.safetensors");
        using (var a = Torch.Arange(0, 6, 1).Reshape(2, 3))
        using (var b = Torch.From(new long[] { 7, 8, 9 }, 3))
            Safetensors.Save(path, new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b }, new Dictionary<string, string> { ["k"] = "v" });
        var full = File.ReadAllBytes(path);
        var cut = Path.Combine(dir, "cut.safetensors");
        for (int n = 0; n < full.Length; n++)
        {
            File.WriteAllBytes(cut, full.AsSpan(0, n).ToArray());
            var e = Assert.Throws<InvalidDataException>(() => Safetensors.Load(cut), $"a file cut to {n} of {full.Length} bytes loaded")!;
            Assert.That(e.Message, Does.Contain(cut));
        }
    }

    [Test]
    public void SafetensorsRandomCorruptionNeverEscapesAsAnotherException()
    {
        var path = Path.Combine(dir, "good.safetensors");
        using (var a = Torch.Arange(0, 6, 1).Reshape(2, 3))
        using (var b = Torch.From(new long[] { 7, 8, 9 }, 3))
            Safetensors.Save(path, new Dictionary<string, Tensor> { ["a"] = a, ["b"] = b }, new Dictionary<string, string> { ["k"] = "v" });
        var full = File.ReadAllBytes(path);
        int headerEnd = 8 + (int)BinaryPrimitives.ReadUInt64LittleEndian(full);
        var rng = new Random(1234);
        var bad = Path.Combine(dir, "fuzz.safetensors");
        var live = Tensor.LiveCount;
        var escapes = new Dictionary<string, string>();   // exception type and origin -> first example
        for (int i = 0; i < 1000; i++)
        {
            var bytes = (byte[])full.Clone();
            int flips = 1 + rng.Next(3);
            for (int f = 0; f < flips; f++) bytes[rng.Next(headerEnd)] = (byte)rng.Next(256);
            File.WriteAllBytes(bad, bytes);
            try
            {
                foreach (var kv in Safetensors.Load(bad)) kv.Value.Dispose();
            }
            catch (InvalidDataException) { }
            catch (Exception e)
            {
                var origin = e.StackTrace?.Split('\n').FirstOrDefault(l => l.Contains("Dsl.Engine"))?.Trim() ?? "";
                var key = e.GetType().Name + " " + origin;
                if (!escapes.ContainsKey(key))
                    escapes[key] = $"mutation {i}: {e.Message}\n    header: {Encoding.UTF8.GetString(bytes, 8, headerEnd - 8).TrimEnd()}";
            }
        }
        Assert.That(escapes.Count, Is.Zero, "exceptions other than InvalidDataException escaped from Safetensors.Load:\n" +
                    string.Join("\n", escapes.Select(kv => kv.Key + "\n  " + kv.Value)));
        Assert.That(Tensor.LiveCount, Is.LessThanOrEqualTo(live));
    }

    // ---- the process survives many failures without leaking ----

    [Test]
    public void AThousandFailingCallsDoNotLeakHandles()
    {
        using var a = Randn(2, 3);
        using var b = Randn(4, 5);
        using var idx = Longs(new long[] { 0, 9 });
        using var fidx = Torch.From(new float[] { 0 }, 1);
        using var logits = Randn(2, 3);
        using var labels = Longs(new long[] { 0, 7 });
        using var img = Randn(1, 3, 4, 4);
        using var kernel = Randn(2, 5, 3, 3);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var live = Tensor.LiveCount;
        int failures = 0;
        for (int i = 0; i < 1000; i++)
        {
            TestDelegate call = (i % 10) switch
            {
                0 => () => a.Matmul(b),
                1 => () => a.IndexSelect(0, idx),
                2 => () => Torch.Cat(new[] { a, b }),
                3 => () => a.Reshape(7),
                4 => () => Functional.CrossEntropy(logits, labels),
                5 => () => Functional.Conv2d(img, kernel),
                6 => () => a.IndexSelect(1, fidx),
                7 => () => a.TopK(10),
                8 => () => a.Max(5),
                _ => () => a.Split(0, 0),
            };
            try { call(); }
            catch (TorchException) { failures++; }
        }
        Assert.That(failures, Is.EqualTo(1000), "every call should have failed with a TorchException");
        Assert.That(Tensor.LiveCount, Is.LessThanOrEqualTo(live), "failed calls leaked native tensor handles");
        // The engine still works afterwards.
        using var ok = a + a;
        Assert.That(ok.Shape, Is.EqualTo(new long[] { 2, 3 }));
    }
}
