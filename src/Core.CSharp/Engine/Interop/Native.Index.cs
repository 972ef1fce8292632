using System.Runtime.InteropServices;

namespace Dsl.Engine.Interop;

internal static unsafe partial class Native
{
    [LibraryImport(Lib)] internal static partial nint dsl_shape_index(Tensor t, long* spec, nint* tensors, int n);
    [LibraryImport(Lib)] internal static partial int dsl_shape_index_put_(Tensor t, long* spec, nint* tensors, int n, Tensor value);
}
