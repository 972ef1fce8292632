using System.Runtime.InteropServices;

namespace Dsl.Engine.Interop;

internal static unsafe partial class Native
{
    [LibraryImport(Lib)] internal static partial int dsl_math_sort(Tensor a, long dim, int descending, nint* values, nint* indices);
    [LibraryImport(Lib)] internal static partial int dsl_math_median(Tensor a, long dim, int hasDim, int keepdim, int ignoreNan, nint* values, nint* indices);
    [LibraryImport(Lib)] internal static partial nint dsl_math_quantile(Tensor a, Tensor? q, double qScalar, long dim, int hasDim, int keepdim, int interpolation, int ignoreNan);
    [LibraryImport(Lib)] internal static partial int dsl_math_kthvalue(Tensor a, long k, long dim, int keepdim, nint* values, nint* indices);
    [LibraryImport(Lib)] internal static partial nint dsl_math_masked_select(Tensor a, Tensor mask);
    [LibraryImport(Lib)] internal static partial nint dsl_math_where_scalar(Tensor cond, Tensor? a, double aScalar, long aLong, Tensor? b, double bScalar, long bLong, int integral);
    [LibraryImport(Lib)] internal static partial nint dsl_math_nonzero(Tensor a);
}
