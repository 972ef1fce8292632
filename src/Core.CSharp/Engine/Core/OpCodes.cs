namespace Dsl.Engine;

// Op codes of the native op tables (native/tensor_math.cpp and nn.cpp). The order is the code, and
// OpTableTests checks every name against dsl_op_name, so an edit on one side only fails a test.

internal enum OpFamily { Unary = 0, Binary = 1, Reduce = 2, Activation = 3, RegressionLoss = 4 }

/// <summary>Op names as the native tables spell them (for error messages).</summary>
internal static class OpNames
{
    internal static unsafe string[] Of<TEnum>(OpFamily family) where TEnum : struct, Enum =>
        Enumerable.Range(0, Enum.GetValues<TEnum>().Length)
            .Select(i => System.Runtime.InteropServices.Marshal.PtrToStringUTF8((nint)Interop.Native.dsl_op_name((int)family, i)) ?? Enum.GetName(typeof(TEnum), i)!.ToLowerInvariant())
            .ToArray();
}

internal enum UnaryOp
{
    Neg, Abs, Exp, Log, Log1p, Sqrt, Rsqrt, Sign, Floor, Ceil, Round, Trunc, Sin, Cos, Tan, Square, Reciprocal, Expm1,
    Log2, Log10, Erf, LogicalNot, Frac, IsNan, IsFinite, Asin, Acos, Atan,
}

internal enum BinaryOp
{
    Add, Sub, Mul, Div, Pow, Maximum, Minimum, Atan2, Remainder, Fmod, Eq, Ne, Lt, Le, Gt, Ge, LogicalAnd, LogicalOr,
    LogicalXor, FloorDivide, Matmul, Mm, Bmm, Outer, Dot, Xlogy,
}

internal enum ReduceOp { Sum, Mean, Prod, Amax, Amin, LogSumExp, All, Any, NanSum }

internal enum ActivationOp
{
    Relu, LeakyRelu, Elu, Selu, Gelu, Silu, Tanh, Sigmoid, Softplus, Mish, Hardtanh, Relu6, Softsign, Hardswish,
    Hardsigmoid, Celu, LogSigmoid,
}

internal enum RegressionLossOp { Mse, L1, SmoothL1, Huber }
