using System.Runtime.InteropServices;

namespace Dsl.Engine.Interop;

internal static unsafe partial class Native
{
    [LibraryImport(Lib)] internal static partial nint dsl_shape_reshape(nint t, long* shape, int n);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_view(nint t, long* shape, int n);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_permute(nint t, long* dims, int n);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_expand(nint t, long* shape, int n);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_repeat(nint t, long* repeats, int n);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_flip(nint t, long* dims, int n);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_roll(nint t, long* shifts, int nShifts, long* dims, int nDims);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_transpose(nint t, long dim0, long dim1);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_flatten(nint t, long startDim, long endDim);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_squeeze(nint t, long dim, int all);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_unsqueeze(nint t, long dim);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_narrow(nint t, long dim, long start, long length);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_slice(nint t, long dim, long start, long end, long step);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_select(nint t, long dim, long index);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_index_select(nint t, long dim, nint index);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_gather(nint t, long dim, nint index);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_scatter(nint t, long dim, nint index, nint src, int add);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_contiguous(nint t);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_clone(nint t);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_cat(nint* ts, int count, long dim);
    [LibraryImport(Lib)] internal static partial nint dsl_shape_stack(nint* ts, int count, long dim);
    [LibraryImport(Lib)] internal static partial int dsl_shape_split(nint t, long splitSize, long dim, nint* outs, int capacity);
    [LibraryImport(Lib)] internal static partial int dsl_shape_chunk(nint t, long chunks, long dim, nint* outs, int capacity);
}
