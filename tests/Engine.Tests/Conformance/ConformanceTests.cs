using NUnit.Framework;

namespace Dsl.Engine.Tests.Conformance;

/// <summary>
/// Checks the engine against the PyTorch 1.13 reference fixtures in tests/fixtures: for each case the
/// forward output (shape, dtype, values), the gradients of sum(output * upstream) with respect to
/// every input that requires grad, the extra outputs (running statistics, indices), and that every
/// native tensor handle created by the case is freed.
/// </summary>
[TestFixture]
public class ConformanceTests
{
    const double Tol = 1e-5;

    public static IEnumerable<TestCaseData> Cases() =>
        Fixtures.All.Select(c => new TestCaseData(c).SetName(c.Name).SetCategory(Path.GetFileNameWithoutExtension(c.File)));

    [TestCaseSource(nameof(Cases))]
    public void Case(FixtureCase fixture)
    {
        Assert.That(OpTable.Ops.TryGetValue(fixture.Op, out var op), Is.True, $"no op-table entry for \"{fixture.Op}\"");
        // Finalizers of tensors leaked by earlier tests must not run while this case counts handles.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        long before = Tensor.LiveCount;

        var errors = Run(fixture, op!);

        long after = Tensor.LiveCount;
        if (after != before) errors.Add($"leak: Tensor.LiveCount was {before} before the case and {after} after it");
        if (errors.Count > 0) Assert.Fail($"{fixture.Name} ({fixture.File}, op {fixture.Op}):\n  " + string.Join("\n  ", errors));
    }

    static List<string> Run(FixtureCase fixture, Func<OpCall, Tensor> op)
    {
        using var scope = DisposeScope.Enter();
        var errors = new List<string>();
        var inputs = fixture.Inputs.Select(i => i.ToTensor()).ToArray();
        var call = new OpCall(fixture, inputs);
        var output = op(call);

        Compare(errors, "output", output, fixture.Output, checkDType: true);

        foreach (var (field, expected) in fixture.Extras)
        {
            if (call.Extras.TryGetValue(field, out var actual)) Compare(errors, field, actual, expected, checkDType: true);
            else errors.Add($"{field}: the fixture has it but the op-table entry does not expose it");
        }

        if (fixture.Upstream is { } up)
        {
            var g = up.ToTensor();
            (output * g).Sum().Backward();
            for (int i = 0; i < inputs.Length; i++)
            {
                var grad = inputs[i].Grad;
                if (fixture.Grads[i] is { } expected)
                {
                    // libtorch leaves .grad undefined for a leaf the output does not use; the fixture writes zeros then.
                    if (grad is null && expected.Floats.All(v => v == 0)) continue;
                    if (grad is null) errors.Add($"grad[{i}]: expected a gradient of shape [{string.Join(", ", expected.Shape)}] but .Grad is null");
                    else Compare(errors, $"grad[{i}]", grad, expected, checkDType: false);
                }
                else if (inputs[i].RequiresGrad || grad is not null)
                    errors.Add($"grad[{i}]: the fixture has no gradient for this input but it requires grad or has one");
            }
        }
        else if (fixture.Grads.Any(g => g is not null))
            errors.Add("the fixture has gradients but no upstream");

        return errors;
    }

    static void Compare(List<string> errors, string what, Tensor actual, FixtureTensor expected, bool checkDType)
    {
        var shape = actual.Shape;
        if (!shape.SequenceEqual(expected.Shape))
        {
            errors.Add($"{what}: shape [{string.Join(", ", shape)}], expected [{string.Join(", ", expected.Shape)}]");
            return;
        }
        var dtype = actual.DType.Name();
        if (checkDType && dtype != expected.DType)
        {
            errors.Add($"{what}: dtype {dtype}, expected {expected.DType}");
            return;
        }
        switch (expected.DType)
        {
            case "float32":
                if (actual.DType != DType.Float32) { errors.Add($"{what}: dtype {dtype}, expected float32"); return; }
                CompareValues(errors, what, actual.ToArray<float>(), expected.Floats,
                    (a, e) => a == e || (float.IsNaN(a) && float.IsNaN(e)) || Math.Abs((double)a - e) <= Tol * Math.Max(1, Math.Abs((double)e)));
                break;
            case "int64": CompareValues(errors, what, actual.ToArray<long>(), expected.Longs, (a, e) => a == e); break;
            case "bool": CompareValues(errors, what, actual.ToArray<bool>(), expected.Bools, (a, e) => a == e); break;
            default: errors.Add($"{what}: unknown fixture dtype {expected.DType}"); break;
        }
    }

    static void CompareValues<T>(List<string> errors, string what, T[] actual, T[] expected, Func<T, T, bool> close)
    {
        var bad = Enumerable.Range(0, expected.Length).Where(i => !close(actual[i], expected[i])).ToArray();
        if (bad.Length == 0) return;
        string Fmt(T v) => v is float f ? f.ToString("R") : v!.ToString()!;
        var worst = actual is float[] a && expected is float[] e ? $", max |diff| {bad.Max(i => Math.Abs((double)a[i] - e[i])):G4}" : "";
        errors.Add($"{what}: {bad.Length}/{expected.Length} elements differ{worst}; " +
                   string.Join(", ", bad.Take(6).Select(i => $"[{i}] expected {Fmt(expected[i])} actual {Fmt(actual[i])}")));
    }

    [Test]
    public void FixturesCoverEnoughOpsAndEveryOpHasAMapping()
    {
        var ops = Fixtures.All.Select(c => c.Op).Distinct().ToArray();
        Assert.That(ops, Has.Length.GreaterThanOrEqualTo(60), "distinct op keys in the fixtures");
        Assert.That(ops.Where(o => !OpTable.Ops.ContainsKey(o)), Is.Empty, "op keys in the fixtures without an entry in OpTable.Ops");
        Assert.That(Fixtures.All.GroupBy(c => c.Name).Where(g => g.Count() > 1).Select(g => g.Key), Is.Empty, "duplicate case names");
    }
}
