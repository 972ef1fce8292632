// Trains a small CNN on the real Fashion-MNIST with the engine's C# API and prints its test accuracy.
//   conv 1→32 3×3 pad 1, ReLU, max-pool 2 → conv 32→64 3×3 pad 1, ReLU, max-pool 2 → dense 3136→128, ReLU → dense 128→10
// Adam (lr 1e-3), batch 128, seeded. Usage: Demo [--epochs N] [--limit N] [--data DIR]
using System.Diagnostics;
using Dsl.Engine;
using Dsl.Engine.Data;
using static Dsl.Engine.Functional;

int epochs = 3, limit = 0;
string? dataDir = null;
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--epochs": epochs = int.Parse(args[++i]); break;
        case "--limit": limit = int.Parse(args[++i]); break;
        case "--data": dataDir = args[++i]; break;
        default: Console.Error.WriteLine($"unknown argument {args[i]}; usage: Demo [--epochs N] [--limit N] [--data DIR]"); return 2;
    }
}

const long Seed = 42;
Torch.ManualSeed(Seed);
using var gen = new Generator(Seed);
Console.WriteLine($"Dsl demo: Fashion-MNIST CNN · libtorch {Torch.LoadedVersion} · {Torch.NumThreads} threads · device {Device.Best}");
var device = Device.Best;

// Data: uint8 images → float in [0,1] → standardised with the training set's mean and std.
var sw = Stopwatch.StartNew();
var (trainX, trainY) = Prepare(train: true);
var (testX, testY) = Prepare(train: false);
Console.WriteLine($"Loaded {trainX.Size(0):N0} training and {testX.Size(0):N0} test images in {sw.Elapsed.TotalSeconds:F2}s");

(Tensor, Tensor) Prepare(bool train)
{
    var (images, labels) = FashionMnist.Load(train, dataDir);
    using var scope = DisposeScope.Enter();
    var x = images.To(DType.Float32).Div_(255.0).Sub_(0.2860).Div_(0.3530).Unsqueeze(1);
    var y = labels;
    if (limit > 0) { x = x.Narrow(0, 0, Math.Min(limit, x.Size(0))); y = y.Narrow(0, 0, Math.Min(limit, y.Size(0))); }
    return (scope.MoveOut(x.To(device)), scope.MoveOut(y.To(device)));
}

// Parameters with PyTorch's default init (Kaiming uniform a=√5 for weights, U(±1/√fan_in) for biases).
Tensor Weight(params long[] shape)
{
    var w = Torch.Empty(shape, DType.Float32, device);
    Init.KaimingUniform(w, a: Math.Sqrt(5), generator: gen);
    return w.RequiresGrad_();
}
Tensor Bias(long n, long fanIn)
{
    var b = Torch.Empty(new[] { n }, DType.Float32, device);
    var bound = 1 / Math.Sqrt(fanIn);
    return b.Uniform_(-bound, bound, gen).RequiresGrad_();
}
var ps = new[]
{
    Weight(32, 1, 3, 3), Bias(32, 9),
    Weight(64, 32, 3, 3), Bias(64, 32 * 9),
    Weight(128, 3136), Bias(128, 3136),
    Weight(10, 128), Bias(10, 128),
};

Tensor Forward(Tensor x)
{
    var h = MaxPool2d(Relu(Conv2d(x, ps[0], ps[1], stride: 1, padding: 1)), 2);
    h = MaxPool2d(Relu(Conv2d(h, ps[2], ps[3], stride: 1, padding: 1)), 2);
    h = Relu(Linear(h.Flatten(1), ps[4], ps[5]));
    return Linear(h, ps[6], ps[7]);
}

// Adam, as torch.optim.Adam (β = 0.9, 0.999; ε = 1e-8; bias-corrected).
var m = ps.Select(p => Torch.Zeros(p.Shape, DType.Float32, device)).ToArray();
var v = ps.Select(p => Torch.Zeros(p.Shape, DType.Float32, device)).ToArray();
double lr = 1e-3, b1 = 0.9, b2 = 0.999, eps = 1e-8;
int step = 0;
void AdamStep()
{
    step++;
    using var _ = Autograd.NoGrad();
    for (int i = 0; i < ps.Length; i++)
    {
        using var scope = DisposeScope.Enter();
        var g = ps[i].Grad!;
        m[i].Mul_(b1).Add_(g * (1 - b1));
        v[i].Mul_(b2).Add_(g.Square() * (1 - b2));
        var denom = (v[i] / (1 - Math.Pow(b2, step))).Sqrt_().Add_(eps);
        ps[i].Sub_(m[i] / denom * (lr / (1 - Math.Pow(b1, step))));
        ps[i].ZeroGrad();
    }
}

const int Batch = 128;
long n = trainX.Size(0);
for (int epoch = 1; epoch <= epochs; epoch++)
{
    sw.Restart();
    double lossSum = 0; long correct = 0;
    using (var perm = Torch.Randperm(n, gen).To(device))
    {
        for (long start = 0; start < n; start += Batch)
        {
            using var scope = DisposeScope.Enter();
            var idx = perm.Narrow(0, start, Math.Min(Batch, n - start));
            var x = trainX.IndexSelect(0, idx);
            var y = trainY.IndexSelect(0, idx);
            var logits = Forward(x);
            var loss = CrossEntropy(logits, y);
            loss.Backward();
            AdamStep();
            lossSum += loss.ToDouble() * idx.Size(0);
            correct += logits.Argmax(1).Eq(y).Sum().ToInt64();
        }
    }
    Console.WriteLine($"Epoch {epoch}/{epochs} - {sw.Elapsed.TotalSeconds:F1}s - loss: {lossSum / n:F4} - accuracy: {(double)correct / n:F4}");
}

long testCorrect = 0;
using (Autograd.NoGrad())
{
    for (long start = 0; start < testX.Size(0); start += 1000)
    {
        using var scope = DisposeScope.Enter();
        var len = Math.Min(1000, testX.Size(0) - start);
        testCorrect += Forward(testX.Narrow(0, start, len)).Argmax(1).Eq(testY.Narrow(0, start, len)).Sum().ToInt64();
    }
}
var acc = (double)testCorrect / testX.Size(0);
Console.WriteLine($"Test accuracy: {acc:P2} ({testCorrect}/{testX.Size(0)})");
return 0;
