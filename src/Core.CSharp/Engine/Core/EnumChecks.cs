namespace Dsl.Engine;

/// <summary>
/// Checks of enum values before they cross into the shim: a value outside its enum (an F# <c>enum&lt;DType&gt; 250</c>,
/// a corrupt file's code) is an <see cref="ArgumentOutOfRangeException"/> naming the op, the value and the
/// enum's members, never a code libtorch is handed. The shim checks every code again.
/// </summary>
internal static class EnumChecks
{
    /// <summary>The dtype's code, or the error for one outside <see cref="DType"/>.</summary>
    internal static int Code(DType t, string op) =>
        t is >= DType.UInt8 and <= DType.Float64 or DType.Bool or DType.BFloat16 ? (int)t : throw Outside(t, op, "dtype");

    /// <summary>The device type's code, or the error for one outside <see cref="DeviceType"/>.</summary>
    internal static int Code(DeviceType t, string op) => t is DeviceType.Cpu or DeviceType.Cuda ? (int)t : throw Outside(t, op, "device");

    /// <summary>The value's code, or the error for one outside its enum (for enums used off the hot path).</summary>
    internal static int Code<TEnum>(TEnum value, string op, string what) where TEnum : struct, Enum =>
        Enum.IsDefined(value) ? Convert.ToInt32(value) : throw Outside(value, op, what);

    static ArgumentOutOfRangeException Outside<TEnum>(TEnum value, string op, string what) where TEnum : struct, Enum =>
        new(what, $"{op}: {Convert.ToInt64(value)} is not a {typeof(TEnum).Name}; use one of {string.Join(", ", Enum.GetNames<TEnum>())}.");
}
