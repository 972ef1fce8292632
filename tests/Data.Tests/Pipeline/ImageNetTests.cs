namespace Dsl.Data.Tests.Pipeline;

/// <summary>ImageNet's presets (torchvision's, Keras's caffe and tf) on small constant and gradient images, and the class names.</summary>
[TestFixture]
public class ImageNetTests
{
    static Tensor Constant(byte r, byte g, byte b, long h, long w)
    {
        var data = new byte[3 * h * w];
        for (int i = 0; i < h * w; i++) { data[i] = r; data[h * w + i] = g; data[2 * h * w + i] = b; }
        return Torch.From(data, [1, 3, h, w]);
    }

    [Test]
    public void TorchvisionPresetResizesTheShorterSideCropsAndNormalises()
    {
        using var scope = DisposeScope.Enter();
        var y = ImageNet.Torchvision().Apply(Constant(10, 128, 250, 300, 400));
        Assert.That(y.Shape, Is.EqualTo(new long[] { 1, 3, 224, 224 }));
        var v = y.ToArray<float>();
        double[] rgb = [10, 128, 250];
        for (int c = 0; c < 3; c++)
            Assert.That(v[c * 224 * 224 + 1000], Is.EqualTo((rgb[c] / 255 - ImageNet.Mean[c]) / ImageNet.Std[c]).Within(1e-5), $"channel {c}");
        Assert.That(ImageNet.ResizeShorter(256).Apply(Constant(0, 0, 0, 300, 400)).Shape, Is.EqualTo(new long[] { 1, 3, 256, 341 }), "256·400/300 truncated");
        Assert.That(ImageNet.ResizeShorter(256).Apply(Constant(0, 0, 0, 400, 300)).Shape, Is.EqualTo(new long[] { 1, 3, 341, 256 }));
    }

    [Test]
    public void CenterCropTakesTheMiddleAsTorchvisionRounds()
    {
        using var scope = DisposeScope.Enter();
        var x = Torch.Arange(0, 5 * 6, dtype: DType.Float32).Reshape(1, 1, 5, 6);
        var y = ImageNet.CenterCrop(2, 3).Apply(x);
        // top = round(1.5) = 2 (to even), left = round(1.5) = 2
        Assert.That(y.ToArray<float>(), Is.EqualTo(new float[] { 14, 15, 16, 20, 21, 22 }));
        Assert.Throws<ArgumentException>(() => ImageNet.CenterCrop(9, 9).Apply(x));
    }

    [Test]
    public void KerasCaffeFlipsToBgrAndSubtractsTheMeans()
    {
        using var scope = DisposeScope.Enter();
        var v = ImageNet.KerasCaffe.Apply(Constant(10, 20, 30, 2, 2)).ToArray<float>();
        Assert.That(v[0], Is.EqualTo(30 - 103.939).Within(1e-4), "B first");
        Assert.That(v[4], Is.EqualTo(20 - 116.779).Within(1e-4));
        Assert.That(v[8], Is.EqualTo(10 - 123.68).Within(1e-4));
        Assert.Throws<ArgumentException>(() => ImageNet.KerasCaffe.Apply(Torch.Zeros([1, 1, 2, 2])));
    }

    [Test]
    public void KerasTfScalesToMinusOneOne()
    {
        using var scope = DisposeScope.Enter();
        var v = ImageNet.KerasTf.Apply(Constant(0, 255, 51, 1, 1)).ToArray<float>();
        Assert.That(v, Is.EqualTo(new[] { -1f, 1f, -0.6f }).Within(1e-6));
    }

    [Test]
    public void TheClassNamesAreTorchvisionsThousand()
    {
        Assert.That(ImageNet.Classes, Has.Count.EqualTo(1000));
        Assert.That(ImageNet.Classes[0], Is.EqualTo("tench"));
        Assert.That(ImageNet.Classes[1], Is.EqualTo("goldfish"));
        Assert.That(ImageNet.Classes[207], Is.EqualTo("golden retriever"));
        Assert.That(ImageNet.Classes[999], Is.EqualTo("toilet tissue"));
        Assert.That(ImageNet.Classes.Distinct().Count(), Is.GreaterThan(990), "names are (nearly all) distinct");
    }
}
