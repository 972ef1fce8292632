using System.Runtime.InteropServices;
using Dsl.Engine.Interop;

namespace Dsl.Engine;

/// <summary>
/// The engine's entry point, named like PyTorch's <c>torch</c> module: tensor creation, random
/// numbers, seeds, threads and version information. Every creation function takes a dtype
/// (float32 by default), a device (the CPU by default) and a requires-grad flag.
/// </summary>
public static unsafe class Torch
{
    internal static NativeOptions Opt(DType dtype, Device? device, bool requiresGrad)
    {
        var d = device ?? Device.Cpu;
        return new NativeOptions { DType = EnumChecks.Code(dtype, "create"), DeviceType = EnumChecks.Code(d.Type, "create"), DeviceIndex = d.Index, RequiresGrad = requiresGrad ? 1 : 0 };
    }

    static void CheckShape(string op, long[] shape)
    {
        foreach (var s in shape)
            if (s < 0) throw Errors.Bad(op, $"shape [{string.Join(", ", shape)}] has a negative size; every size must be ≥ 0.");
    }

    // ---- filled tensors ----

    /// <summary>A tensor of zeros of the given shape.</summary>
    public static Tensor Zeros(params long[] shape) => Zeros(shape, DType.Float32);
    /// <summary>A tensor of zeros.</summary>
    public static Tensor Zeros(long[] shape, DType dtype, Device? device = null, bool requiresGrad = false)
    { CheckShape("zeros", shape); fixed (long* p = shape) return Errors.T(Native.dsl_tensor_zeros(p, shape.Length, Opt(dtype, device, requiresGrad)), "zeros"); }

    /// <summary>A tensor of ones of the given shape.</summary>
    public static Tensor Ones(params long[] shape) => Ones(shape, DType.Float32);
    /// <summary>A tensor of ones.</summary>
    public static Tensor Ones(long[] shape, DType dtype, Device? device = null, bool requiresGrad = false)
    { CheckShape("ones", shape); fixed (long* p = shape) return Errors.T(Native.dsl_tensor_ones(p, shape.Length, Opt(dtype, device, requiresGrad)), "ones"); }

    /// <summary>An uninitialised tensor (contents are arbitrary).</summary>
    public static Tensor Empty(long[] shape, DType dtype = DType.Float32, Device? device = null, bool requiresGrad = false)
    { CheckShape("empty", shape); fixed (long* p = shape) return Errors.T(Native.dsl_tensor_empty(p, shape.Length, Opt(dtype, device, requiresGrad)), "empty"); }

    /// <summary>A tensor filled with <paramref name="value"/>.</summary>
    public static Tensor Full(long[] shape, double value, DType dtype = DType.Float32, Device? device = null, bool requiresGrad = false)
    { CheckShape("full", shape); fixed (long* p = shape) return Errors.T(Native.dsl_tensor_full(p, shape.Length, value, Opt(dtype, device, requiresGrad)), "full"); }

    /// <summary>Ones with the shape, dtype and device of <paramref name="like"/>.</summary>
    public static Tensor OnesLike(Tensor like) => Ones(like.Shape, like.DType, like.Device);

    /// <summary>Zeros with the shape, dtype and device of <paramref name="like"/>.</summary>
    public static Tensor ZerosLike(Tensor like) => Zeros(like.Shape, like.DType, like.Device);

    /// <summary>One-hot encoding of int64 class indices: [N] → float32 [N, classes].</summary>
    public static Tensor OneHot(Tensor labels, long classes)
    {
        using var scope = DisposeScope.Enter();
        var idx = labels.To(DType.Int64).Unsqueeze(-1);
        var shape = labels.Shape.Append(classes).ToArray();
        var z = Zeros(shape, DType.Float32, labels.Device);
        return scope.MoveOut(z.Scatter(-1, idx, Ones(idx.Shape, DType.Float32, labels.Device)));
    }

    /// <summary>A 0-dimensional tensor holding <paramref name="value"/>.</summary>
    public static Tensor Scalar(double value, DType dtype = DType.Float32, Device? device = null, bool requiresGrad = false) =>
        Full(Array.Empty<long>(), value, dtype, device, requiresGrad);

    /// <summary>The identity matrix (rows × cols, cols defaulting to rows).</summary>
    public static Tensor Eye(long rows, long? cols = null, DType dtype = DType.Float32, Device? device = null, bool requiresGrad = false) =>
        Errors.T(Native.dsl_tensor_eye(rows, cols ?? rows, Opt(dtype, device, requiresGrad)), "eye");

    /// <summary>Values from <paramref name="start"/> (inclusive) to <paramref name="end"/> (exclusive) spaced by <paramref name="step"/>.</summary>
    public static Tensor Arange(double start, double end, double step = 1, DType dtype = DType.Float32, Device? device = null, bool requiresGrad = false) =>
        Errors.T(Native.dsl_tensor_arange(start, end, step, Opt(dtype, device, requiresGrad)), "arange");

    /// <summary>0, 1, …, end−1 as int64.</summary>
    public static Tensor Arange(long end, Device? device = null) =>
        Errors.T(Native.dsl_tensor_arange(0, end, 1, Opt(DType.Int64, device, false)), "arange");

    /// <summary><paramref name="steps"/> evenly spaced values from start to end inclusive.</summary>
    public static Tensor Linspace(double start, double end, long steps, DType dtype = DType.Float32, Device? device = null, bool requiresGrad = false) =>
        Errors.T(Native.dsl_tensor_linspace(start, end, steps, Opt(dtype, device, requiresGrad)), "linspace");

    // ---- random tensors (global generator unless one is given) ----

    /// <summary>Uniform samples in [0, 1).</summary>
    public static Tensor Rand(long[] shape, Generator? generator = null, DType dtype = DType.Float32, Device? device = null, bool requiresGrad = false)
    { CheckShape("rand", shape); fixed (long* p = shape) return Errors.T(Native.dsl_tensor_rand(p, shape.Length, Generator.H(generator), Opt(dtype, device, requiresGrad)), "rand", generator); }

    /// <summary>Standard normal samples.</summary>
    public static Tensor Randn(long[] shape, Generator? generator = null, DType dtype = DType.Float32, Device? device = null, bool requiresGrad = false)
    { CheckShape("randn", shape); fixed (long* p = shape) return Errors.T(Native.dsl_tensor_randn(p, shape.Length, Generator.H(generator), Opt(dtype, device, requiresGrad)), "randn", generator); }

    /// <summary>Uniform integers in [low, high), int64 by default.</summary>
    public static Tensor Randint(long low, long high, long[] shape, Generator? generator = null, DType dtype = DType.Int64, Device? device = null)
    {
        CheckShape("randint", shape);
        if (high <= low) throw Errors.Bad("randint", $"empty range [{low}, {high}); high must be greater than low.");
        fixed (long* p = shape) return Errors.T(Native.dsl_tensor_randint(low, high, p, shape.Length, Generator.H(generator), Opt(dtype, device, false)), "randint", generator);
    }

    /// <summary>Normal samples with the given mean and standard deviation.</summary>
    public static Tensor Normal(double mean, double std, long[] shape, Generator? generator = null, DType dtype = DType.Float32, Device? device = null, bool requiresGrad = false)
    {
        CheckShape("normal", shape);
        if (!(std >= 0)) throw Errors.Bad("normal", $"std must be ≥ 0, got {std}.");
        fixed (long* p = shape) return Errors.T(Native.dsl_tensor_normal(mean, std, p, shape.Length, Generator.H(generator), Opt(dtype, device, requiresGrad)), "normal", generator);
    }

    /// <summary>A random permutation of 0 … n−1 (int64).</summary>
    public static Tensor Randperm(long n, Generator? generator = null, Device? device = null) =>
        Errors.T(Native.dsl_tensor_randperm(n, Generator.H(generator), Opt(DType.Int64, device, false)), "randperm", generator);

    /// <summary>Seeds the global generators (CPU and every CUDA device). The same seed gives bit-identical results on the CPU.</summary>
    public static void ManualSeed(long seed) => Errors.S(Native.dsl_runtime_manual_seed(seed), "manual_seed");

    // ---- data from .NET ----

    /// <summary>A tensor holding a copy of <paramref name="data"/> with the given shape (one memcpy, no per-element marshalling).</summary>
    public static Tensor From<T>(ReadOnlySpan<T> data, ReadOnlySpan<long> shape, Device? device = null, bool requiresGrad = false) where T : unmanaged
    {
        long n = 1;
        foreach (var s in shape) n *= s;
        if (n != data.Length)
            throw Errors.Bad("from_data", $"shape [{string.Join(", ", shape.ToArray())}] holds {n} elements but {data.Length} were given; fix the shape or the data.");
        var opt = Opt(DTypes.Of<T>(), device, requiresGrad);
        fixed (T* d = data)
        fixed (long* s = shape)
            return Errors.T(Native.dsl_io_from_data(d, (long)data.Length * sizeof(T), s, shape.Length, opt), "from_data");
    }

    /// <summary>A tensor from a flat array and a shape.</summary>
    public static Tensor From<T>(T[] data, params long[] shape) where T : unmanaged =>
        From<T>(data.AsSpan(), shape.Length == 0 ? new[] { (long)data.Length } : shape);

    /// <summary>A tensor from a .NET array of any rank (float[,], double[,,], ...); the shape is the array's.</summary>
    public static Tensor FromArray(Array array, Device? device = null, bool requiresGrad = false)
    {
        var et = array.GetType().GetElementType()!;
        var shape = Enumerable.Range(0, array.Rank).Select(i => (long)array.GetLength(i)).ToArray();
        if (et == typeof(float)) return From(Flat<float>(array), shape, device, requiresGrad);
        if (et == typeof(double)) return From(Flat<double>(array), shape, device, requiresGrad);
        if (et == typeof(int)) return From(Flat<int>(array), shape, device, requiresGrad);
        if (et == typeof(long)) return From(Flat<long>(array), shape, device, requiresGrad);
        if (et == typeof(byte)) return From(Flat<byte>(array), shape, device, requiresGrad);
        if (et == typeof(bool)) return From(Flat<bool>(array), shape, device, requiresGrad);
        if (et == typeof(short)) return From(Flat<short>(array), shape, device, requiresGrad);
        if (et == typeof(sbyte)) return From(Flat<sbyte>(array), shape, device, requiresGrad);
        if (et == typeof(Half)) return From(Flat<Half>(array), shape, device, requiresGrad);
        throw Errors.Bad("from_array", $"arrays of {et.Name} cannot become tensors; use float, double, int, long, byte, sbyte, short, bool or Half.");
    }

    internal static Span<T> Flat<T>(Array array) where T : unmanaged =>
        MemoryMarshal.CreateSpan(ref System.Runtime.CompilerServices.Unsafe.As<byte, T>(ref MemoryMarshal.GetArrayDataReference(array)), array.Length);

    // ---- joining ----

    /// <summary>Concatenates tensors along an existing dimension.</summary>
    public static Tensor Cat(IReadOnlyList<Tensor> tensors, long dim = 0) => Join("cat", tensors, dim, stack: false);

    /// <summary>Stacks tensors along a new dimension.</summary>
    public static Tensor Stack(IReadOnlyList<Tensor> tensors, long dim = 0) => Join("stack", tensors, dim, stack: true);

    static Tensor Join(string op, IReadOnlyList<Tensor> tensors, long dim, bool stack)
    {
        if (tensors.Count == 0) throw Errors.Bad(op, "needs at least one tensor.");
        using var hs = new HandleArray(tensors, op);
        nint r;
        fixed (nint* p = hs.Raw) r = stack ? Native.dsl_shape_stack(p, tensors.Count, dim) : Native.dsl_shape_cat(p, tensors.Count, dim);
        if (r == 0) throw Errors.Fail(op, tensors);
        return new Tensor(r);
    }

    /// <summary>Elementwise choice: <paramref name="a"/> where <paramref name="condition"/> is true, else <paramref name="b"/> (broadcasting).</summary>
    public static Tensor Where(Tensor condition, Tensor a, Tensor b) => Errors.T(Native.dsl_math_where(condition, a, b), "where", condition, a, b);
    /// <summary><paramref name="a"/> where <paramref name="condition"/> is true, else the scalar <paramref name="b"/> (a Python float in torch's type promotion: it keeps a float tensor's dtype).</summary>
    public static Tensor Where(Tensor condition, Tensor a, double b) => WhereScalar(condition, a, 0, 0, null, b, 0, false);
    /// <summary>The scalar <paramref name="a"/> where <paramref name="condition"/> is true, else <paramref name="b"/>.</summary>
    public static Tensor Where(Tensor condition, double a, Tensor b) => WhereScalar(condition, null, a, 0, b, 0, 0, false);
    /// <summary><paramref name="a"/> where <paramref name="condition"/> is true, else the integer <paramref name="b"/> (keeps an integer tensor's dtype).</summary>
    public static Tensor Where(Tensor condition, Tensor a, long b) => WhereScalar(condition, a, 0, 0, null, 0, b, true);
    /// <summary>The integer <paramref name="a"/> where <paramref name="condition"/> is true, else <paramref name="b"/>.</summary>
    public static Tensor Where(Tensor condition, long a, Tensor b) => WhereScalar(condition, null, 0, a, b, 0, 0, true);
    /// <summary>The scalar <paramref name="a"/> where <paramref name="condition"/> is true, else <paramref name="b"/>: a float32 tensor of the condition's shape.</summary>
    public static Tensor Where(Tensor condition, double a, double b) => WhereScalar(condition, null, a, 0, null, b, 0, false);
    /// <summary>The integer <paramref name="a"/> where <paramref name="condition"/> is true, else <paramref name="b"/>: an int64 tensor of the condition's shape.</summary>
    public static Tensor Where(Tensor condition, long a, long b) => WhereScalar(condition, null, 0, a, null, 0, b, true);

    static Tensor WhereScalar(Tensor condition, Tensor? a, double sa, long la, Tensor? b, double sb, long lb, bool integral)
    {
        if (condition.DType != DType.Bool)
            throw Errors.Bad("where", $"the condition is {condition.DType.Name()}, but it must be bool. Fix: build it with a comparison (x.Gt(0)) or convert it, cond.To(DType.Bool).", condition, a, b);
        return Errors.T(Native.dsl_math_where_scalar(condition, a, sa, la, b, sb, lb, integral ? 1 : 0), "where", condition, a, b);
    }

    // ---- runtime ----

    /// <summary>The libtorch version the native shim was compiled against.</summary>
    public static string BuiltVersion { get { NativeLoader.EnsureLoaded(); return NativeLoader.BuiltVersion; } }

    /// <summary>The libtorch version loaded at run time.</summary>
    public static string LoadedVersion { get { NativeLoader.EnsureLoaded(); return NativeLoader.LoadedVersion; } }

    /// <summary>libtorch's intra-op thread count. Defaults to the number of cores (or DSL_NUM_THREADS / OMP_NUM_THREADS when set).</summary>
    public static int NumThreads
    {
        get => Native.dsl_runtime_num_threads();
        set => Errors.S(Native.dsl_runtime_set_num_threads(value), "set_num_threads");
    }

    /// <summary>
    /// Limits the parallel regions started by the calling thread to <paramref name="threads"/> threads (OpenMP's
    /// per-thread setting); other threads keep <see cref="NumThreads"/>. Background threads that do light work
    /// beside training (the DataLoader's producer) use 1, so that they do not start a second team of spinning
    /// OpenMP threads on the cores the training step is using.
    /// </summary>
    public static void SetThreadLocalThreads(int threads)
    {
        if (threads < 1)
            throw new ArgumentOutOfRangeException(nameof(threads), $"Torch.SetThreadLocalThreads: a thread needs at least 1 OpenMP thread, got {threads}.");
        Errors.S(Native.dsl_runtime_set_thread_local_threads(threads), "set_thread_local_threads");
    }

    /// <summary>
    /// OpenBLAS's thread count (−1 when libtorch's BLAS is not OpenBLAS). Defaults to 1, because
    /// OpenBLAS threads compete with libtorch's OpenMP threads for the same cores.
    /// </summary>
    public static int BlasThreads
    {
        get => Native.dsl_runtime_blas_threads();
        set => Native.dsl_runtime_set_blas_threads(value);
    }

    /// <summary>
    /// Splits CPU matrix products (mm and addmm: dense layers, matmul, and their gradients) over the intra-op
    /// threads, one block of rows or columns each, while OpenBLAS itself runs single-threaded. On by default
    /// (DSL_PARALLEL_GEMM=0 turns the default off); small products, other dtypes and multi-threaded BLAS use
    /// libtorch's own kernel. Measured: an MLP training step (256-wide, batch 256) 1.9× faster on 2 cores (bench B2).
    /// </summary>
    public static bool ParallelGemm
    {
        get => Native.dsl_runtime_parallel_gemm() == 1;
        set => Errors.S(Native.dsl_runtime_set_parallel_gemm(value ? 1 : 0), "set_parallel_gemm");
    }

    /// <summary>
    /// Runs float32 CPU 2-D convolutions in channels-last (NHWC) layout: the input is made channels-last before
    /// libtorch's oneDNN kernel, which then reads and writes the tensors as they are instead of reordering them into
    /// its blocked layout and back in every convolution, forward and backward; outputs are channels-last tensors
    /// (same shape and values up to float rounding, other strides; ReLU, pooling and batch norm keep the layout).
    /// Off by default (DSL_CONV_CHANNELS_LAST=1 turns it on): PyTorch's Fashion-MNIST CNN step (bench B3) in
    /// channels-last took 13–20 % less CPU time on one thread, but the Dsl's step through this switch measured
    /// within noise of NCHW (bench/README.md, "The convolution gap").
    /// </summary>
    public static bool ConvChannelsLast
    {
        get => Native.dsl_runtime_conv_channels_last() == 1;
        set => Errors.S(Native.dsl_runtime_set_conv_channels_last(value ? 1 : 0), "set_conv_channels_last");
    }

    /// <summary>
    /// Draws CPU dropout masks from a counter-based generator: element i of a mask is SplitMix64's output for
    /// (key, i), where key is one 64-bit draw from the dropout's generator per call, so a mask is reproducible from
    /// the generator's seed, the same on any number of threads, and filled in parallel. On by default
    /// (DSL_COUNTER_DROPOUT=0 turns the default off); off, dropout uses libtorch's bernoulli_, which without MKL
    /// fills one element at a time on one thread (~20 ns an element: 23 ms of a Keras-style CNN's step at batch 128).
    /// The two give different masks with the same distribution. CUDA tensors always use bernoulli_.
    /// </summary>
    public static bool CounterDropout
    {
        get => Native.dsl_runtime_counter_dropout() == 1;
        set => Errors.S(Native.dsl_runtime_set_counter_dropout(value ? 1 : 0), "set_counter_dropout");
    }

    /// <summary>
    /// Runs CPU max pooling whose windows tile the input (stride equal to the kernel, no padding or dilation: the
    /// usual 2×2 pool) with the engine's kernels, for float32 and float64 NCHW tensors: the forward is one pass over
    /// the input, the backward writes each input gradient once instead of zero-filling and scattering. Results are
    /// libtorch's bit for bit (maxima, int64 indices, ties and NaN), so autograd, double backward and the indices
    /// are unchanged. On by default (DSL_TILED_MAX_POOL=0 turns the default off); other pools, channels-last
    /// tensors and CUDA use libtorch's kernels. Measured: 2×2 pool of 128×64×24×24 (bench/README.md, "Max pooling").
    /// </summary>
    public static bool TiledMaxPool
    {
        get => Native.dsl_runtime_tiled_max_pool() == 1;
        set => Errors.S(Native.dsl_runtime_set_tiled_max_pool(value ? 1 : 0), "set_tiled_max_pool");
    }
}

/// <summary>Engine defaults computed before the native library is first used.</summary>
internal static class Runtime
{
    /// <summary>
    /// Intra-op threads: DSL_NUM_THREADS, else OMP_NUM_THREADS, else the core count. Read with
    /// Environment.GetEnvironmentVariable because .NET's SetEnvironmentVariable does not reach native getenv.
    /// </summary>
    internal static int DefaultThreads()
    {
        foreach (var name in new[] { "DSL_NUM_THREADS", "OMP_NUM_THREADS" })
            if (int.TryParse(Environment.GetEnvironmentVariable(name), out var n) && n > 0) return n;
        return Environment.ProcessorCount;
    }
}
