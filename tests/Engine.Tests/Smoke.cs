using Dsl.Engine;
using NUnit.Framework;

namespace Dsl.Engine.Tests;

public class Smoke
{
    [Test]
    public void AddsAndReadsBack()
    {
        using var a = Torch.From(new float[] { 1, 2, 3 }, 3);
        using var b = a * 2.0 + 1.0;
        Assert.That(b.ToArray<float>(), Is.EqualTo(new float[] { 3, 5, 7 }));
        TestContext.Out.WriteLine($"{b} threads={Torch.NumThreads} blas={Torch.BlasThreads} built={Torch.BuiltVersion} loaded={Torch.LoadedVersion}");
    }
}
