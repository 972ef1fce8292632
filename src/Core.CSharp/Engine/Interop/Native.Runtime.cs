using System.Runtime.InteropServices;

namespace Dsl.Engine.Interop;

internal static unsafe partial class Native
{
    [LibraryImport(Lib)] internal static partial byte* dsl_runtime_built_version();
    [LibraryImport(Lib)] internal static partial byte* dsl_runtime_loaded_version();
    [LibraryImport(Lib)] internal static partial int dsl_runtime_set_num_threads(int n);
    [LibraryImport(Lib)] internal static partial int dsl_runtime_num_threads();
    [LibraryImport(Lib)] internal static partial int dsl_runtime_set_thread_local_threads(int n);
    [LibraryImport(Lib)] internal static partial int dsl_runtime_set_blas_threads(int n);
    [LibraryImport(Lib)] internal static partial int dsl_runtime_blas_threads();
    [LibraryImport(Lib)] internal static partial int dsl_runtime_set_parallel_gemm(int enable);
    [LibraryImport(Lib)] internal static partial int dsl_runtime_parallel_gemm();
    [LibraryImport(Lib)] internal static partial int dsl_runtime_set_conv_channels_last(int enable);
    [LibraryImport(Lib)] internal static partial int dsl_runtime_conv_channels_last();
    [LibraryImport(Lib)] internal static partial int dsl_runtime_set_counter_dropout(int enable);
    [LibraryImport(Lib)] internal static partial int dsl_runtime_counter_dropout();
    [LibraryImport(Lib)] internal static partial int dsl_runtime_set_tiled_max_pool(int enable);
    [LibraryImport(Lib)] internal static partial int dsl_runtime_tiled_max_pool();
    [LibraryImport(Lib)] internal static partial int dsl_runtime_cuda_device_count();
    [LibraryImport(Lib)] internal static partial int dsl_runtime_manual_seed(long seed);
    [LibraryImport(Lib)] internal static partial nint dsl_runtime_generator_new(long seed, int deviceType, int deviceIndex);
    [LibraryImport(Lib)] internal static partial void dsl_runtime_generator_free(nint g);
    [LibraryImport(Lib)] internal static partial int dsl_runtime_generator_set_seed(nint g, long seed);
    [LibraryImport(Lib)] internal static partial nint dsl_runtime_generator_state(nint g);
    [LibraryImport(Lib)] internal static partial int dsl_runtime_generator_set_state(nint g, Tensor state);
}
