using System.Runtime.InteropServices;

namespace Dsl.Engine.Interop;

/// <summary>Tensor options passed by value to creation exports (mirrors <c>dsl_options</c>).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeOptions
{
    public int DType;
    public int DeviceType;
    public int DeviceIndex;
    public int RequiresGrad;
}

internal static unsafe partial class Native
{
    [LibraryImport(Lib)] internal static partial void dsl_tensor_free(nint t);
    [LibraryImport(Lib)] internal static partial nint dsl_tensor_alias(Tensor t);
    [LibraryImport(Lib)] internal static partial int dsl_tensor_shape(Tensor t, long* shape, int capacity);
    [LibraryImport(Lib)] internal static partial int dsl_tensor_dtype(Tensor t);
    [LibraryImport(Lib)] internal static partial int dsl_tensor_device(Tensor t, int* index);
    [LibraryImport(Lib)] internal static partial long dsl_tensor_numel(Tensor t);
    [LibraryImport(Lib)] internal static partial int dsl_tensor_is_contiguous(Tensor t);
    [LibraryImport(Lib)] internal static partial int dsl_tensor_is_sole_owner(Tensor t);
    [LibraryImport(Lib)] internal static partial nint dsl_tensor_zeros(long* shape, int n, NativeOptions o);
    [LibraryImport(Lib)] internal static partial nint dsl_tensor_ones(long* shape, int n, NativeOptions o);
    [LibraryImport(Lib)] internal static partial nint dsl_tensor_empty(long* shape, int n, NativeOptions o);
    [LibraryImport(Lib)] internal static partial nint dsl_tensor_full(long* shape, int n, double value, NativeOptions o);
    [LibraryImport(Lib)] internal static partial nint dsl_tensor_eye(long rows, long cols, NativeOptions o);
    [LibraryImport(Lib)] internal static partial nint dsl_tensor_arange(double start, double end, double step, NativeOptions o);
    [LibraryImport(Lib)] internal static partial nint dsl_tensor_linspace(double start, double end, long steps, NativeOptions o);
    [LibraryImport(Lib)] internal static partial nint dsl_tensor_rand(long* shape, int n, nint g, NativeOptions o);
    [LibraryImport(Lib)] internal static partial nint dsl_tensor_randn(long* shape, int n, nint g, NativeOptions o);
    [LibraryImport(Lib)] internal static partial nint dsl_tensor_randint(long low, long high, long* shape, int n, nint g, NativeOptions o);
    [LibraryImport(Lib)] internal static partial nint dsl_tensor_normal(double mean, double std, long* shape, int n, nint g, NativeOptions o);
    [LibraryImport(Lib)] internal static partial nint dsl_tensor_randperm(long n, nint g, NativeOptions o);
    [LibraryImport(Lib)] internal static partial int dsl_tensor_uniform_(Tensor t, double low, double high, nint g);
    [LibraryImport(Lib)] internal static partial int dsl_tensor_normal_(Tensor t, double mean, double std, nint g);
    [LibraryImport(Lib)] internal static partial int dsl_tensor_bernoulli_(Tensor t, double p, nint g);
    [LibraryImport(Lib)] internal static partial int dsl_tensor_fill_(Tensor t, double value);
    [LibraryImport(Lib)] internal static partial int dsl_tensor_copy_(Tensor dst, Tensor src);
    [LibraryImport(Lib)] internal static partial nint dsl_tensor_to(Tensor t, int dtype, int deviceType, int deviceIndex, int copy);
    [LibraryImport(Lib)] internal static partial int dsl_tensor_item(Tensor t, double* value);
    [LibraryImport(Lib)] internal static partial int dsl_tensor_item_int64(Tensor t, long* value);

    [LibraryImport(Lib)] internal static partial nint dsl_io_from_data(void* data, long nbytes, long* shape, int n, NativeOptions o);
    [LibraryImport(Lib)] internal static partial int dsl_io_copy_to(Tensor t, void* dst, long nbytes);
    [LibraryImport(Lib)] internal static partial long dsl_io_element_size(int dtype);
}
