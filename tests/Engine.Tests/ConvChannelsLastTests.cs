using FsCheck;
using FsCheck.Fluent;
using NUnit.Framework;
using PropertyAttribute = FsCheck.NUnit.PropertyAttribute;

namespace Dsl.Engine.Tests;

/// <summary>
/// Torch.ConvChannelsLast runs float32 CPU 2-D convolutions on channels-last copies of input and weights (oneDNN then
/// skips its layout reorders). Outputs and gradients of a small CNN (convolution, ReLU, max-pool, a second
/// convolution, flatten, dense layer) must agree with the NCHW path to float rounding, the switch must turn the
/// layout off and on, and no tensor may be left behind.
/// </summary>
[NonParallelizable]
public class ConvChannelsLastTests
{
    bool saved;
    [OneTimeSetUp] public void Save() => saved = Torch.ConvChannelsLast;
    [OneTimeTearDown] public void Restore() => Torch.ConvChannelsLast = saved;

    /// <summary>A CNN case: batch, input channels, size, both convolutions' output channels, kernel, stride, padding, groups of the second.</summary>
    public sealed record ConvCase(int Batch, int Channels, int Size, int Out1, int Out2, int Kernel, int Stride, int Padding, bool Grouped, int Seed)
    {
        public override string ToString() =>
            $"ConvCase(batch={Batch}, channels={Channels}, size={Size}, out={Out1}/{Out2}, kernel={Kernel}, stride={Stride}, padding={Padding}, grouped={Grouped}, seed={Seed})";
    }

    static Arbitrary<ConvCase> Cases()
    {
        var gen = from batch in Gen.Choose(1, 9)
                  from channels in Gen.Choose(1, 5)
                  from size in Gen.Choose(6, 20)
                  from out1 in Gen.Elements(2, 4, 8, 16)
                  from out2 in Gen.Elements(4, 8, 12)
                  from kernel in Gen.Elements(1, 3, 5)
                  from stride in Gen.Choose(1, 2)
                  from padding in Gen.Choose(0, 2)
                  from grouped in Gen.Elements(false, true)
                  from seed in Gen.Choose(0, 10_000)
                  select new ConvCase(batch, channels, size, out1, out2, kernel, stride, padding, grouped, seed);
        return Arb.From(gen, c => new[]
        {
            c with { Batch = c.Batch / 2 }, c with { Channels = 1 }, c with { Size = c.Size - 2 }, c with { Kernel = 1 }, c with { Stride = 1 },
            c with { Padding = 0 }, c with { Grouped = false }, c with { Seed = 0 },
        }.Where(x => x.Batch >= 1 && x.Size >= 6 && x != c));
    }

    /// <summary>Largest max|a − b| / (1 + max|b|) over the CNN's output and every gradient, channels-last against NCHW.</summary>
    static double Disagreement(ConvCase c)
    {
        using var scope = DisposeScope.Enter();
        using var g = new Generator(c.Seed);
        var x0 = Torch.Randn(new long[] { c.Batch, c.Channels, c.Size, c.Size }, g);
        var w10 = Torch.Randn(new long[] { c.Out1, c.Channels, c.Kernel, c.Kernel }, g);
        var b10 = Torch.Randn(new long[] { c.Out1 }, g);
        var groups = c.Grouped ? 2L : 1L;   // out1 and out2 are even
        var w20 = Torch.Randn(new long[] { c.Out2, c.Out1 / groups, 3, 3 }, g);
        Tensor[] Run(bool channelsLast)
        {
            Torch.ConvChannelsLast = channelsLast;
            var x = x0.Detach().RequiresGrad_();
            var w1 = w10.Detach().RequiresGrad_();
            var b1 = b10.Detach().RequiresGrad_();
            var w2 = w20.Detach().RequiresGrad_();
            var h = Functional.Relu(Functional.Conv2d(x, w1, b1, c.Stride, c.Padding));
            if (h.Size(2) >= 2 && h.Size(3) >= 2) h = Functional.MaxPool2d(h, 2);
            var y = Functional.Conv2d(h, w2, null, 1, 1, 1, groups);
            var flat = y.Flatten(1);
            var loss = (flat * flat).Mean() + flat.Sum() * 0.01;
            loss.Backward();
            return new[] { y, x.Grad!, w1.Grad!, b1.Grad!, w2.Grad! };
        }
        var nchw = Run(false);
        var last = Run(true);
        double worst = 0;
        for (int i = 0; i < nchw.Length; i++)
        {
            Assert.That(last[i].Shape, Is.EqualTo(nchw[i].Shape), $"{c}: tensor {i}");
            var o = nchw[i].To(DType.Float64);
            var d = (last[i].To(DType.Float64) - o).Abs().Max().ToDouble() / (o.Abs().Max().ToDouble() + 1.0);
            worst = Math.Max(worst, d);
        }
        return worst;
    }

    [Property(MaxTest = 40)]
    public Property ChannelsLastConvolutionsMatchNchwOutputsAndGradients() =>
        Prop.ForAll(Cases(), c => Disagreement(c) <= 1e-5);

    /// <summary>
    /// oneDNN 2.6 corrupts the heap computing a 1×1 stride-2 convolution's weight gradient in channels-last layout on
    /// more than one thread (Python's torch 1.13 aborts the same way); the shim runs such convolutions in NCHW. The
    /// cases CI and a Python reproduction found, 20 rounds each on two threads, channels-last by the switch and by an
    /// input whose strides are channels-last, must agree with NCHW (a regression shows as wrong values or an abort).
    /// </summary>
    [Test]
    public void PointwiseStridedConvolutionsRunInNchwWhateverTheLayout()
    {
        var threads = Torch.NumThreads;
        Torch.NumThreads = 2;
        try
        {
            foreach (var c in new[] { new ConvCase(7, 5, 14, 4, 4, 1, 2, 0, false, 1), new ConvCase(2, 3, 8, 16, 8, 1, 2, 0, false, 0), new ConvCase(5, 3, 16, 4, 12, 1, 2, 0, false, 13) })
                for (int round = 0; round < 20; round++)
                    Assert.That(Disagreement(c), Is.LessThanOrEqualTo(1e-5), $"{c}, round {round}");
            var baseline = Tensor.LiveCount;
            using (var scope = DisposeScope.Enter())
            {
                Torch.ConvChannelsLast = false;
                var x = Torch.Randn(new long[] { 5, 16, 16, 3 }).Permute(0, 3, 1, 2).RequiresGrad_();   // NCHW sizes, NHWC strides
                var w = Torch.Randn(new long[] { 4, 3, 1, 1 }).RequiresGrad_();
                for (int round = 0; round < 20; round++)
                {
                    var y = Functional.Conv2d(x, w, null, 2, 0);
                    Assert.That(y.IsContiguous, Is.True, "a 1×1 stride-2 convolution runs (and answers) in NCHW");
                    y.Sum().Backward();
                }
                var reference = Functional.Conv2d(x.Detach().Contiguous(), w.Detach(), null, 2, 0);
                Assert.That((Functional.Conv2d(x, w, null, 2, 0) - reference).Abs().Max().ToDouble(), Is.LessThan(1e-5));
                // The weight gradient of sum(y), 20 times: for every output channel, 20 × the sum of channel c's pixels
                // at even rows and columns.
                var even = Torch.Arange(0, 16, 2, DType.Int64);
                var picked = x.Detach().IndexSelect(2, even).IndexSelect(3, even);
                var expected = (picked.Sum(new long[] { 0, 2, 3 }) * 20.0).Unsqueeze(0).Expand(4, 3);
                var grad = w.Grad!.Reshape(4, 3);
                Assert.That((grad - expected).Abs().Max().ToDouble() / (expected.Abs().Max().ToDouble() + 1.0), Is.LessThan(1e-5));
            }
            Assert.That(Tensor.LiveCount, Is.EqualTo(baseline));
        }
        finally
        {
            Torch.NumThreads = threads;
        }
    }

    [Test]
    public void TheSwitchChangesTheLayoutAndLeavesNoTensorBehind()
    {
        var baseline = Tensor.LiveCount;
        using (var scope = DisposeScope.Enter())
        {
            var x = Torch.Randn(new long[] { 4, 3, 12, 12 });
            var w = Torch.Randn(new long[] { 8, 3, 3, 3 });
            Torch.ConvChannelsLast = true;
            Assert.That(Torch.ConvChannelsLast, Is.True);
            var last = Functional.Conv2d(x, w, null, 1, 1);
            Assert.That(last.IsContiguous, Is.False, "a channels-last output is not contiguous in NCHW order");
            Assert.That(last.Contiguous().IsContiguous, Is.True);
            Torch.ConvChannelsLast = false;
            Assert.That(Torch.ConvChannelsLast, Is.False);
            var nchw = Functional.Conv2d(x, w, null, 1, 1);
            Assert.That(nchw.IsContiguous, Is.True);
            Assert.That((last - nchw).Abs().Max().ToDouble(), Is.LessThan(1e-4));
            // float64 and other ranks take libtorch's path unchanged.
            Torch.ConvChannelsLast = true;
            Assert.That(Functional.Conv2d(x.To(DType.Float64), w.To(DType.Float64), null, 1, 1).IsContiguous, Is.True);
        }
        Assert.That(Tensor.LiveCount, Is.EqualTo(baseline));
    }
}
