using System.Runtime.InteropServices;
using Dsl.Engine.Interop;
using NUnit.Framework;

namespace Dsl.Engine.Tests;

/// <summary>
/// The managed op enums (Core/OpCodes.cs) must list the native op tables' entries in the same order:
/// the enum value is the code passed to dsl_math_unary, dsl_nn_activation, ... and dsl_op_name(family, code)
/// returns the native entry's name.
/// </summary>
[TestFixture]
public class OpTableTests
{
    static readonly (OpFamily Family, Type Enum)[] Families =
    {
        (OpFamily.Unary, typeof(UnaryOp)),
        (OpFamily.Binary, typeof(BinaryOp)),
        (OpFamily.Reduce, typeof(ReduceOp)),
        (OpFamily.Activation, typeof(ActivationOp)),
        (OpFamily.RegressionLoss, typeof(RegressionLossOp)),
    };

    static unsafe string? NativeName(int family, int code)
    {
        var p = Native.dsl_op_name(family, code);
        return p == null ? null : Marshal.PtrToStringUTF8((nint)p);
    }

    /// <summary>Case-insensitive, underscores removed: "log_sigmoid" ~ "LogSigmoid", "isnan" ~ "IsNan".</summary>
    static string Norm(string s) => s.Replace("_", "").ToLowerInvariant();

    static IEnumerable<TestCaseData> Cases() =>
        Families.Select(f => new TestCaseData((int)f.Family, f.Enum).SetArgDisplayNames(f.Family.ToString()));

    [Test]
    public void EveryFamilyHasAnEnum()
    {
        // OpFamily's codes are the native Family codes (shim.h): Unary = 0, Binary, Reduce, Activation, RegressionLoss.
        Assert.That(Enum.GetValues<OpFamily>().Select(f => (int)f), Is.EqualTo(Enumerable.Range(0, Enum.GetValues<OpFamily>().Length)));
        Assert.That(Families.Select(f => f.Family), Is.EquivalentTo(Enum.GetValues<OpFamily>()), "each OpFamily member needs a row in this test");
        foreach (var (family, type) in Families)
            Assert.That(type.Name, Is.EqualTo(family + "Op"));
    }

    [TestCaseSource(nameof(Cases))]
    public void ManagedNamesMatchTheNativeTable(int familyCode, Type enumType)
    {
        var family = (OpFamily)familyCode;
        var names = Enum.GetNames(enumType);
        var values = Enum.GetValues(enumType).Cast<object>().Select(Convert.ToInt32).ToArray();
        Assert.That(values, Is.EqualTo(Enumerable.Range(0, names.Length)), $"{enumType.Name} values must be 0, 1, 2, ... in declaration order (the value is the native code)");
        Assert.Multiple(() =>
        {
            for (int code = 0; code < names.Length; code++)
            {
                var native = NativeName((int)family, code);
                Assert.That(native, Is.Not.Null, $"{enumType.Name}.{names[code]} (code {code}) has no native entry: the native {family} table is shorter than the enum");
                if (native is null) continue;
                Assert.That(Norm(native), Is.EqualTo(Norm(names[code])),
                    $"{enumType.Name} code {code}: managed {names[code]} but native table says \"{native}\"");
            }
        });
    }

    [TestCaseSource(nameof(Cases))]
    public void NativeTableHasNoExtraEntries(int familyCode, Type enumType)
    {
        var family = (OpFamily)familyCode;
        int n = Enum.GetNames(enumType).Length;
        var extra = new List<string>();
        for (int code = n; code < n + 64; code++)
            if (NativeName((int)family, code) is { } name) extra.Add($"{code}: {name}");
        Assert.That(extra, Is.Empty, $"the native {family} table has entries that {enumType.Name} lacks");
        Assert.That(NativeName((int)family, -1), Is.Null, "a negative code must have no name");
        Assert.That(NativeName((int)family, int.MaxValue), Is.Null);
    }

    [Test]
    public void UnknownFamiliesHaveNoNames()
    {
        int past = Enum.GetValues<OpFamily>().Length;
        Assert.That(NativeName(past, 0), Is.Null);
        Assert.That(NativeName(-1, 0), Is.Null);
        Assert.That(NativeName(int.MaxValue, 0), Is.Null);
    }

    [Test]
    public void NativeNamesAreUniqueWithinAFamily()
    {
        foreach (var (family, type) in Families)
        {
            var names = Enumerable.Range(0, Enum.GetNames(type).Length).Select(c => NativeName((int)family, c)).ToList();
            Assert.That(names, Is.Unique, $"{family} table");
        }
    }

    /// <summary>An out-of-range op code reaching the native side fails cleanly, naming the family and the code.</summary>
    [Test]
    public void UnknownOpCodesFailCleanly()
    {
        using var a = Torch.Ones(2);
        var h = Native.dsl_math_unary(Enum.GetNames<UnaryOp>().Length, a);
        Assert.That(h, Is.EqualTo((nint)0));
        unsafe
        {
            var msg = Marshal.PtrToStringUTF8((nint)Native.dsl_error_message());
            Native.dsl_error_clear();
            Assert.That(msg, Does.Contain("unary").And.Contain(Enum.GetNames<UnaryOp>().Length.ToString()));
        }
        Assert.That(Native.dsl_nn_activation(-1, a, 0, 0), Is.EqualTo((nint)0));
        Native.dsl_error_clear();
    }
}
