using System.Runtime.InteropServices;

namespace Dsl.Engine.Interop;

internal static unsafe partial class Native
{
    [LibraryImport(Lib)] internal static partial nint dsl_shape_reshape(Tensor t, long* shape, int n);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_view(Tensor t, long* shape, int n);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_permute(Tensor t, long* dims, int n);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_expand(Tensor t, long* shape, int n);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_repeat(Tensor t, long* repeats, int n);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_flip(Tensor t, long* dims, int n);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_roll(Tensor t, long* shifts, int nShifts, long* dims, int nDims);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_transpose(Tensor t, long dim0, long dim1);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_flatten(Tensor t, long startDim, long endDim);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_squeeze(Tensor t, long dim, int all);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_unsqueeze(Tensor t, long dim);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_narrow(Tensor t, long dim, long start, long length);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_slice(Tensor t, long dim, long start, long end, long step);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_select(Tensor t, long dim, long index);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_index_select(Tensor t, long dim, Tensor index);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_gather(Tensor t, long dim, Tensor index);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_scatter(Tensor t, long dim, Tensor index, Tensor src, int add);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_contiguous(Tensor t);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_clone(Tensor t);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_cat(nint* ts, int count, long dim);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_stack(nint* ts, int count, long dim);
    [LibraryImport(Lib)] internal static partial int dsl_shape_split(Tensor t, long splitSize, long dim, nint* outs, int capacity);
    [LibraryImport(Lib)] internal static partial int dsl_shape_chunk(Tensor t, long chunks, long dim, nint* outs, int capacity);
}
