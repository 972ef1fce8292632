using System.Runtime.InteropServices;

namespace Dsl.Engine.Interop;

internal static unsafe partial class Native
{
    [LibraryImport(Lib)] internal static partial nint dsl_math_unary(int op, Tensor a);
    [LibraryImport(Lib)] internal static partial int dsl_math_unary_(int op, Tensor a);
    [LibraryImport(Lib)] internal static partial nint dsl_math_binary(int op, Tensor a, Tensor b);
    [LibraryImport(Lib)] internal static partial int dsl_math_binary_(int op, Tensor a, Tensor b);
    [LibraryImport(Lib)] internal static partial nint dsl_math_binary_scalar(int op, Tensor a, double s, int integral, int scalarFirst);
    [LibraryImport(Lib)] internal static partial int dsl_math_binary_scalar_(int op, Tensor a, double s, int integral);
    [LibraryImport(Lib)] internal static partial nint dsl_math_binary_long(int op, Tensor a, long s, int scalarFirst);
    [LibraryImport(Lib)] internal static partial int dsl_math_binary_long_(int op, Tensor a, long s);
    [LibraryImport(Lib)] internal static partial nint dsl_math_clamp(Tensor a, double min, double max, int hasMin, int hasMax);
    [LibraryImport(Lib)] internal static partial int dsl_math_clamp_(Tensor a, double min, double max, int hasMin, int hasMax);
    [LibraryImport(Lib)] internal static partial nint dsl_math_where(Tensor cond, Tensor a, Tensor b);
    [LibraryImport(Lib)] internal static partial nint dsl_math_masked_fill(Tensor a, Tensor mask, double value);
    [LibraryImport(Lib)] internal static partial int dsl_math_masked_fill_(Tensor a, Tensor mask, double value);
    [LibraryImport(Lib)] internal static partial nint dsl_math_reduce(int op, Tensor a, long* dims, int n, int keepdim);
    [LibraryImport(Lib)] internal static partial nint dsl_math_var(Tensor a, long* dims, int n, int unbiased, int keepdim, int takeSqrt);
    [LibraryImport(Lib)] internal static partial nint dsl_math_norm(Tensor a, double p, long* dims, int n, int keepdim);
    [LibraryImport(Lib)] internal static partial int dsl_math_minmax_dim(int isMax, Tensor a, long dim, int keepdim, nint* values, nint* indices);
    [LibraryImport(Lib)] internal static partial nint dsl_math_argminmax(int isMax, Tensor a, long dim, int hasDim, int keepdim);
    [LibraryImport(Lib)] internal static partial int dsl_math_topk(Tensor a, long k, long dim, int largest, nint* values, nint* indices);
    [LibraryImport(Lib)] internal static partial nint dsl_math_linear(Tensor x, Tensor w, Tensor? b);
    [LibraryImport(Lib)] internal static partial int dsl_math_qr(Tensor a, nint* q, nint* r);
    [LibraryImport(Lib)] internal static partial int dsl_math_svd(Tensor a, int fullMatrices, nint* u, nint* s, nint* vh);
    [LibraryImport(Lib)] internal static partial int dsl_math_equal(Tensor a, Tensor? b);
}
