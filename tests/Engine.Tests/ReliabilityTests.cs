using System.Diagnostics;
using System.Runtime.InteropServices;
using Dsl.Engine.Interop;
using NUnit.Framework;

namespace Dsl.Engine.Tests;

/// <summary>
/// Values that used to crash the process or leak: enum codes outside their enums (checked on the managed side
/// and again in the shim), a tensor disposed while another thread uses it, generators, and native memory the
/// garbage collector did not know about.
/// </summary>
[TestFixture]
public class ReliabilityTests
{
    static unsafe string LastNativeError()
    {
        var p = Native.dsl_error_message();
        return p == null ? "" : Marshal.PtrToStringUTF8((nint)p) ?? "";
    }

    [Test]
    public void EnumValuesOutsideTheirEnumsAreRefusedBeforeLibtorch()
    {
        using var scope = DisposeScope.Enter();
        var x = Torch.Zeros(2, 3);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => x.To((DType)250))!;
        Assert.That(e.Message, Does.Contain("to").And.Contain("250").And.Contain("DType").And.Contain("Float32"));
        Assert.Throws<ArgumentOutOfRangeException>(() => x.To(Device.Cpu, (DType)99));
        Assert.Throws<ArgumentOutOfRangeException>(() => Torch.Zeros(new long[] { 2 }, (DType)(-1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => Torch.Full(new long[] { 2 }, 1.0, (DType)8));
        var d = Assert.Throws<ArgumentOutOfRangeException>(() => Torch.Zeros(new long[] { 2 }, DType.Float32, new Device((DeviceType)7)))!;
        Assert.That(d.Message, Does.Contain("7").And.Contain("DeviceType"));
        Assert.Throws<ArgumentOutOfRangeException>(() => x.To(new Device((DeviceType)(-3))));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = new Generator(1, new Device((DeviceType)9)));
        var r = Assert.Throws<ArgumentOutOfRangeException>(() => Functional.MseLoss(x, x, (Reduction)9))!;
        Assert.That(r.Message, Does.Contain("9").And.Contain("Reduction"));
        Assert.Throws<ArgumentOutOfRangeException>(() => Functional.CrossEntropy(Torch.Zeros(2, 3), Torch.Zeros(new long[] { 2 }, DType.Int64), reduction: (Reduction)3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Functional.Pad(x, new long[] { 1, 1 }, (PadMode)8));
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = ((DType)77).SizeOf());
        Assert.That(x.DType, Is.EqualTo(DType.Float32), "the tensor is untouched");
    }

    [Test]
    public void TheShimRefusesUnknownCodesOnItsOwn()
    {
        // Straight through the exports, past the managed checks: every code is checked again natively.
        using var scope = DisposeScope.Enter();
        var x = Torch.Zeros(2, 3);
        Assert.That(Native.dsl_tensor_to(x, 250, 0, 0, 0), Is.EqualTo((nint)0));
        Assert.That(LastNativeError(), Does.Contain("unknown dtype code 250"));
        Assert.That(Native.dsl_tensor_to(x, 6, 7, 0, 0), Is.EqualTo((nint)0));
        Assert.That(LastNativeError(), Does.Contain("unknown device type code 7"));
        Assert.That(Native.dsl_io_element_size(250), Is.EqualTo(-1L));
        Assert.That(LastNativeError(), Does.Contain("unknown dtype code 250"));
        unsafe
        {
            long two = 2;
            var bad = new NativeOptions { DType = 99, DeviceType = 0, DeviceIndex = 0, RequiresGrad = 0 };
            Assert.That(Native.dsl_tensor_zeros(&two, 1, bad), Is.EqualTo((nint)0));
            Assert.That(LastNativeError(), Does.Contain("unknown dtype code 99"));
        }
        Assert.That(Native.dsl_nn_regression_loss(0, x, x, 9, 0), Is.EqualTo((nint)0));
        Assert.That(LastNativeError(), Does.Contain("unknown reduction code 9"));
        Assert.That(Native.dsl_runtime_generator_new(1, 9, 0), Is.EqualTo((nint)0));
        Assert.That(LastNativeError(), Does.Contain("unknown device type code 9"));
    }

    [Test]
    public void DisposingATensorWhileAnotherThreadUsesItIsAnObjectDisposedExceptionNotACrash()
    {
        // One thread multiplies a matrix by itself in a loop; the main thread disposes the matrix at a varying
        // moment, often in the middle of a product. The user thread must either finish a product or be told,
        // with an ObjectDisposedException, that the tensor is gone.
        int told = 0, finished = 0;
        var before = Tensor.LiveCount;
        for (int round = 0; round < 150; round++)
        {
            var t = Torch.Randn(new long[] { 192, 192 });
            using var start = new Barrier(2);
            var user = Task.Run(() =>
            {
                start.SignalAndWait();
                try
                {
                    for (int i = 0; i < 40; i++)
                    {
                        using var y = t.Matmul(t);
                        using var s = t.Sum();
                    }
                    Interlocked.Increment(ref finished);
                }
                catch (ObjectDisposedException) { Interlocked.Increment(ref told); }
            });
            start.SignalAndWait();
            Thread.SpinWait(50 * (round % 40));
            t.Dispose();
            Assert.That(user.Wait(TimeSpan.FromSeconds(30)), Is.True, "the user thread finishes");
            Assert.That(t.IsDisposed, Is.True);
        }
        TestContext.Out.WriteLine($"{told} uses were told the tensor was disposed, {finished} finished first");
        Assert.That(told, Is.GreaterThan(0), "some uses lost the race and got ObjectDisposedException");
        Assert.That(Tensor.LiveCount, Is.EqualTo(before), "every matrix was freed once its last use returned");
    }

    static double RssMb()
    {
        using var p = Process.GetCurrentProcess();
        return p.WorkingSet64 / 1048576.0;
    }

    [Test]
    public void TwentyThousandDropoutStepsWithAGeneratorEachKeepMemoryFlat()
    {
        // As the DSL's dropout does: a generator seeded per step. libtorch 1.13 leaked 2.6 KB a cloned generator.
        using var x = Torch.Ones(32, 32);
        void Steps(int n)
        {
            for (int i = 0; i < n; i++)
            {
                using var g = new Generator(i);
                using var y = Functional.Dropout(x, 0.5, true, g);
            }
        }
        Steps(2000);
        GC.Collect();
        var before = RssMb();
        Steps(20_000);
        GC.Collect();
        var growth = RssMb() - before;
        TestContext.Out.WriteLine($"RSS grew {growth:F1} MB over 20,000 steps");
        Assert.That(growth, Is.LessThan(20.0), "no memory grows with the number of generators");
    }

    [Test]
    public void TensorsNobodyDisposesAreCollectedBeforeNativeMemoryRunsOut()
    {
        // 250 tensors of 64 MB (16 GB in all) made outside any scope and dropped: only finalizers free them. The
        // garbage collector sees a few KB of tensor objects, so without the engine's budget it never runs.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var start = RssMb();
        double peak = start;
        for (int i = 0; i < 250; i++)
        {
            Torch.Zeros(16L << 20);                       // 64 MB, never disposed
            if (i % 10 == 0)
            {
                peak = Math.Max(peak, RssMb());
                Assert.That(peak - start, Is.LessThan(4096), $"after {i + 1} tensors RSS grew {peak - start:F0} MB: the dropped tensors were not collected");
            }
        }
        TestContext.Out.WriteLine($"RSS grew at most {peak - start:F0} MB; {NativeMemory.Collections} collections; budget {NativeMemory.Budget >> 20} MB");
        GC.Collect();
        GC.WaitForPendingFinalizers();
    }
}
