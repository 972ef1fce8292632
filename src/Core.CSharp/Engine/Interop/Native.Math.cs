using System.Runtime.InteropServices;

namespace Dsl.Engine.Interop;

internal static unsafe partial class Native
{
    [LibraryImport(Lib)] internal static partial nint dsl_math_unary(int op, nint a);
    [LibraryImport(Lib)] internal static partial int dsl_math_unary_(int op, nint a);
    [LibraryImport(Lib)] internal static partial nint dsl_math_binary(int op, nint a, nint b);
    [LibraryImport(Lib)] internal static partial int dsl_math_binary_(int op, nint a, nint b);
    [LibraryImport(Lib)] internal static partial nint dsl_math_binary_scalar(int op, nint a, double s, int integral, int scalarFirst);
    [LibraryImport(Lib)] internal static partial int dsl_math_binary_scalar_(int op, nint a, double s, int integral);
    [LibraryImport(Lib)] internal static partial nint dsl_math_clamp(nint a, double min, double max, int hasMin, int hasMax);
    [LibraryImport(Lib)] internal static partial int dsl_math_clamp_(nint a, double min, double max, int hasMin, int hasMax);
    [LibraryImport(Lib)] internal static partial nint dsl_math_where(nint cond, nint a, nint b);
    [LibraryImport(Lib)] internal static partial nint dsl_math_masked_fill(nint a, nint mask, double value);
    [LibraryImport(Lib)] internal static partial int dsl_math_masked_fill_(nint a, nint mask, double value);
    [LibraryImport(Lib)] internal static partial nint dsl_math_reduce(int op, nint a, long* dims, int n, int keepdim);
    [LibraryImport(Lib)] internal static partial nint dsl_math_var(nint a, long* dims, int n, int unbiased, int keepdim, int takeSqrt);
    [LibraryImport(Lib)] internal static partial nint dsl_math_norm(nint a, double p, long* dims, int n, int keepdim);
    [LibraryImport(Lib)] internal static partial int dsl_math_minmax_dim(int isMax, nint a, long dim, int keepdim, nint* values, nint* indices);
    [LibraryImport(Lib)] internal static partial nint dsl_math_argminmax(int isMax, nint a, long dim, int hasDim, int keepdim);
    [LibraryImport(Lib)] internal static partial int dsl_math_topk(nint a, long k, long dim, int largest, nint* values, nint* indices);
    [LibraryImport(Lib)] internal static partial nint dsl_math_linear(nint x, nint w, nint b);
    [LibraryImport(Lib)] internal static partial int dsl_math_qr(nint a, nint* q, nint* r);
    [LibraryImport(Lib)] internal static partial int dsl_math_svd(nint a, int fullMatrices, nint* u, nint* s, nint* vh);
    [LibraryImport(Lib)] internal static partial int dsl_math_equal(nint a, nint b);
}
