using System.Runtime.InteropServices;

namespace Dsl.Engine.Interop;

internal static unsafe partial class Native
{
    [LibraryImport(Lib)] internal static partial nint dsl_dist_new(int storeKind, byte* address, int port, int worldSize, int rank, long timeoutMs);
    [LibraryImport(Lib)] internal static partial void dsl_dist_free(nint g);
    [LibraryImport(Lib)] internal static partial int dsl_dist_all_reduce(nint g, nint t, int op);
    [LibraryImport(Lib)] internal static partial int dsl_dist_broadcast(nint g, nint* ts, int n, int root);
    [LibraryImport(Lib)] internal static partial nint dsl_dist_all_gather(nint g, nint t);
    [LibraryImport(Lib)] internal static partial int dsl_dist_barrier(nint g);
    [LibraryImport(Lib)] internal static partial int dsl_dist_average_grads(nint g, nint* parameters, int n, long bucketBytes, long* sentBytes);
    [LibraryImport(Lib)] internal static partial int dsl_dist_store_set(nint g, byte* key, byte* value);
    [LibraryImport(Lib)] internal static partial int dsl_dist_store_get(nint g, byte* key, byte* output, int capacity);
}
