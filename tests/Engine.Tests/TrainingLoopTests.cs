using System.Diagnostics;
using Dsl.Engine;
using NUnit.Framework;

namespace Dsl.Engine.Tests;

/// <summary>
/// An end-to-end C# training loop over the engine alone: conv2d → relu → max_pool2d → flatten →
/// linear → cross_entropy, trained with hand-written SGD on a synthetic, linearly separable image
/// task, to 100% accuracy on the training set and on a held-out set.
/// </summary>
public class TrainingLoopTests
{
    const int Side = 8;

    /// <summary>
    /// n images 1×8×8: class 0 has a bright left half, class 1 a bright right half (+1 on those
    /// pixels), both with N(0, 0.3²) noise everywhere. Labels alternate and are then shuffled.
    /// </summary>
    static (Tensor X, Tensor Y) MakeData(int n, Generator g)
    {
        using var scope = DisposeScope.Enter();
        var half = new float[Side * Side];
        for (int r = 0; r < Side; r++) for (int c = 0; c < Side / 2; c++) half[r * Side + c] = 1;
        var left = Torch.From(half, 1, 1, Side, Side);
        var right = left.Flip(3);
        using var perm = Torch.Randperm(n, g);
        var labels = Torch.From(perm.ToArray<long>().Select(v => v % 2).ToArray(), n); // int64 0/1, balanced, shuffled
        var isRight = labels.To(DType.Float32).Reshape(n, 1, 1, 1);
        var clean = left * (1.0 - isRight) + right * isRight;
        var x = clean + Torch.Randn(new long[] { n, 1, Side, Side }, g) * 0.3;
        return (scope.MoveOut(x), scope.MoveOut(labels));
    }

    sealed class Net(Generator g) : IDisposable
    {
        // conv 1→4, 3×3, padding 1: [N,1,8,8] → [N,4,8,8]; pool 2 → [N,4,4,4]; flatten → 64; linear → 2.
        public readonly Tensor ConvW = Init.KaimingUniform(Torch.Empty(new long[] { 4, 1, 3, 3 }), a: Math.Sqrt(5), generator: g).RequiresGrad_();
        public readonly Tensor ConvB = Init.Uniform(Torch.Empty(new long[] { 4 }), -1 / 3.0, 1 / 3.0, g).RequiresGrad_();
        public readonly Tensor FcW = Init.KaimingUniform(Torch.Empty(new long[] { 2, 64 }), a: Math.Sqrt(5), generator: g).RequiresGrad_();
        public readonly Tensor FcB = Init.Uniform(Torch.Empty(new long[] { 2 }), -1 / 8.0, 1 / 8.0, g).RequiresGrad_();
        public Tensor[] Parameters => new[] { ConvW, ConvB, FcW, FcB };

        public Tensor Forward(Tensor x)
        {
            var h = Functional.Conv2d(x, ConvW, ConvB, padding: (1, 1));
            h = Functional.MaxPool2d(Functional.Relu(h), 2);
            return Functional.Linear(h.Flatten(1), FcW, FcB);
        }

        public void Dispose() { foreach (var p in Parameters) p.Dispose(); }
    }

    static double Accuracy(Net net, Tensor x, Tensor y)
    {
        using var scope = DisposeScope.Enter();
        using var ng = Autograd.NoGrad();
        var predicted = net.Forward(x).Argmax(1).ToArray<long>();
        var truth = y.ToArray<long>();
        return predicted.Zip(truth, (p, t) => p == t ? 1.0 : 0.0).Average();
    }

    [Test]
    public void ConvNetLearnsBrightHalvesToFullTrainAndHeldOutAccuracy()
    {
        const int nTrain = 128, nTest = 64, batch = 16, epochs = 8;
        const double lr = 0.1;
        var sw = Stopwatch.StartNew();
        var baseline = Tensor.LiveCount;
        using var g = new Generator(2024);
        var (xTrain, yTrain) = MakeData(nTrain, g);
        var (xTest, yTest) = MakeData(nTest, g);
        using var net = new Net(g);

        Assert.That(xTrain.Shape, Is.EqualTo(new long[] { nTrain, 1, Side, Side }));
        Assert.That(yTrain.ToArray<long>().Count(v => v == 1), Is.EqualTo(nTrain / 2));

        var initialAccuracy = Accuracy(net, xTrain, yTrain);
        var epochLoss = new List<double>();
        for (int epoch = 0; epoch < epochs; epoch++)
        {
            double total = 0;
            using (var epochScope = DisposeScope.Enter())
            {
                var order = Torch.Randperm(nTrain, g);
                for (int start = 0; start < nTrain; start += batch)
                {
                    using var stepScope = DisposeScope.Enter();
                    var idx = order.Narrow(0, start, batch);
                    var loss = Functional.CrossEntropy(net.Forward(xTrain.IndexSelect(0, idx)), yTrain.IndexSelect(0, idx));
                    loss.Backward();
                    using (Autograd.NoGrad())
                        foreach (var p in net.Parameters) p.Sub_(lr * p.Grad!);
                    foreach (var p in net.Parameters) p.ZeroGrad();
                    total += loss.ToDouble();
                }
            }
            epochLoss.Add(total / (nTrain / batch));
        }

        var trainAccuracy = Accuracy(net, xTrain, yTrain);
        var testAccuracy = Accuracy(net, xTest, yTest);
        TestContext.Out.WriteLine($"initial accuracy {initialAccuracy:P0}; epoch losses {string.Join(" ", epochLoss.Select(l => l.ToString("F4")))}");
        TestContext.Out.WriteLine($"train {trainAccuracy:P1}, held-out {testAccuracy:P1}, {sw.Elapsed.TotalSeconds:F2} s");

        Assert.That(epochLoss[^1], Is.LessThan(epochLoss[0] / 4), "the loss falls");
        Assert.That(trainAccuracy, Is.EqualTo(1.0), "100% on the training set");
        Assert.That(testAccuracy, Is.EqualTo(1.0), "100% on the held-out set");

        foreach (var t in new[] { xTrain, yTrain, xTest, yTest }) t.Dispose();
        net.Dispose();
        Assert.That(Tensor.LiveCount, Is.EqualTo(baseline), "the loop leaves no native tensors behind");
        Assert.That(sw.Elapsed.TotalSeconds, Is.LessThan(30), "a few seconds");
    }

    /// <summary>The same loop with labels that carry no signal (shuffled independently of the images) must not reach 100% held-out accuracy: guards against a test that passes vacuously.</summary>
    [Test]
    public void SameLoopCannotLearnRandomLabels()
    {
        using var g = new Generator(7);
        var (xTrain, _) = MakeData(128, g);
        var (xTest, _) = MakeData(64, g);
        using var yTrain = Torch.Randint(0, 2, new long[] { 128 }, g);
        using var yTest = Torch.Randint(0, 2, new long[] { 64 }, g);
        using var net = new Net(g);
        for (int step = 0; step < 40; step++)
        {
            using var scope = DisposeScope.Enter();
            var loss = Functional.CrossEntropy(net.Forward(xTrain), yTrain);
            loss.Backward();
            using (Autograd.NoGrad())
                foreach (var p in net.Parameters) p.Sub_(0.1 * p.Grad!);
            foreach (var p in net.Parameters) p.ZeroGrad();
        }
        Assert.That(Accuracy(net, xTest, yTest), Is.LessThan(0.8));
        xTrain.Dispose(); xTest.Dispose();
    }
}
