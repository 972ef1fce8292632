using System.Runtime.InteropServices;

namespace Dsl.Engine.Interop;

// The managed declaration of every export in native/dsl_api.h, one partial file per native area.
// ExportTests parses dsl_api.h and checks each declaration here against its C prototype and the built library.
internal static unsafe partial class Native
{
    internal const string Lib = "dsl_native";

    [LibraryImport(Lib)] internal static partial byte* dsl_error_message();
    [LibraryImport(Lib)] internal static partial void dsl_error_clear();
    [LibraryImport(Lib)] internal static partial long dsl_tensor_live_count();
    [LibraryImport(Lib)] internal static partial long dsl_tensor_live_bytes();
    [LibraryImport(Lib)] internal static partial int* dsl_memory_over_budget_flag();
    [LibraryImport(Lib)] internal static partial void dsl_memory_set_budget(long bytes);
    [LibraryImport(Lib)] internal static partial byte* dsl_op_name(int family, int code);
}
