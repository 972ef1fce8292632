namespace Dsl.Engine;

/// <summary>Element types. The values are libtorch's <c>c10::ScalarType</c> codes.</summary>
public enum DType
{
    /// <summary>8-bit unsigned integer (images).</summary>
    UInt8 = 0,
    /// <summary>8-bit signed integer.</summary>
    Int8 = 1,
    /// <summary>16-bit signed integer.</summary>
    Int16 = 2,
    /// <summary>32-bit signed integer.</summary>
    Int32 = 3,
    /// <summary>64-bit signed integer (indices and class labels).</summary>
    Int64 = 4,
    /// <summary>IEEE half precision (where libtorch supports it on the device).</summary>
    Float16 = 5,
    /// <summary>32-bit float, the default for parameters and activations.</summary>
    Float32 = 6,
    /// <summary>64-bit float.</summary>
    Float64 = 7,
    /// <summary>Boolean (masks and comparison results).</summary>
    Bool = 11,
    /// <summary>bfloat16 (where libtorch supports it on the device).</summary>
    BFloat16 = 15,
}

/// <summary>Maps .NET element types to <see cref="DType"/>.</summary>
public static class DTypes
{
    /// <summary>The dtype of a .NET element type: float, double, int, long, byte, sbyte, short, bool or Half.</summary>
    public static DType Of<T>() where T : unmanaged => Cache<T>.Value;

    /// <summary>Size in bytes of one element.</summary>
    public static int SizeOf(this DType t) => t switch
    {
        DType.UInt8 or DType.Int8 or DType.Bool => 1,
        DType.Int16 or DType.Float16 or DType.BFloat16 => 2,
        DType.Int32 or DType.Float32 => 4,
        DType.Int64 or DType.Float64 => 8,
        _ => throw new ArgumentOutOfRangeException(nameof(t), $"SizeOf: {(int)t} is not a DType; use one of {string.Join(", ", Enum.GetNames<DType>())}."),
    };

    /// <summary>True for float16, bfloat16, float32 and float64.</summary>
    public static bool IsFloating(this DType t) => t is DType.Float16 or DType.BFloat16 or DType.Float32 or DType.Float64;

    /// <summary>The lower-case name PyTorch uses (float32, int64, ...).</summary>
    public static string Name(this DType t) => t switch
    {
        DType.UInt8 => "uint8",
        DType.Int8 => "int8",
        DType.Int16 => "int16",
        DType.Int32 => "int32",
        DType.Int64 => "int64",
        DType.Float16 => "float16",
        DType.Float32 => "float32",
        DType.Float64 => "float64",
        DType.Bool => "bool",
        DType.BFloat16 => "bfloat16",
        _ => t.ToString(),
    };

    static class Cache<T> where T : unmanaged
    {
        internal static readonly DType Value = typeof(T) switch
        {
            var t when t == typeof(float) => DType.Float32,
            var t when t == typeof(double) => DType.Float64,
            var t when t == typeof(int) => DType.Int32,
            var t when t == typeof(long) => DType.Int64,
            var t when t == typeof(byte) => DType.UInt8,
            var t when t == typeof(sbyte) => DType.Int8,
            var t when t == typeof(short) => DType.Int16,
            var t when t == typeof(bool) => DType.Bool,
            var t when t == typeof(Half) => DType.Float16,
            var t => throw new NotSupportedException($"No tensor dtype for .NET type {t.Name}; use float, double, int, long, byte, sbyte, short, bool or Half."),
        };
    }
}
