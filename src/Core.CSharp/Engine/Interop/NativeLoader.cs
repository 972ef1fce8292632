using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Dsl.Engine.Interop;

/// <summary>
/// Finds and loads the native shim (<c>libdsl_native.so</c>), then applies the engine's defaults:
/// checks that the libtorch it loaded is the one it was built against, sets libtorch's intra-op
/// threads to the number of cores and keeps OpenBLAS to one thread so the two pools do not
/// oversubscribe the cores. This runs once, on the first call into the native library, from any
/// host (a console app, a test runner, F# interactive) with no environment variables needed.
/// </summary>
internal static unsafe class NativeLoader
{
    internal const string FileName = "libdsl_native.so";
    const string Fix = "Fix: run `dotnet fsi build.fsx setup` then `dotnet fsi build.fsx build` (installs libtorch and builds the shim), " +
                       "or set LIBTORCH_DIR to another libtorch and rebuild.";

    static nint loaded;

#pragma warning disable CA2255 // the engine must register its resolver before any native call, from any host
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Register() =>
        NativeLibrary.SetDllImportResolver(typeof(NativeLoader).Assembly, Resolve);

    static nint Resolve(string name, Assembly assembly, DllImportSearchPath? path)
    {
        if (name != Native.Lib) return 0;
        if (loaded != 0) return loaded;
        lock (typeof(NativeLoader))
        {
            if (loaded != 0) return loaded;
            var candidates = Candidates().ToList();
            var file = candidates.FirstOrDefault(File.Exists);
            if (file is null)
                throw new DllNotFoundException(
                    $"Dsl's native library {FileName} was not found. Looked in: {string.Join(", ", candidates)}. {Fix}");
            PrepareOpenMp();
            PrepareAllocator();
            nint handle;
            try { handle = NativeLibrary.Load(file); }
            catch (DllNotFoundException e)
            {
                throw new DllNotFoundException($"Dsl could not load its native library {file}: {e.Message}. {Fix}", e);
            }
            ApplyDefaults(handle);
            loaded = handle;
            return handle;
        }
    }

    static IEnumerable<string> Candidates()
    {
        var env = Environment.GetEnvironmentVariable("DSL_NATIVE_PATH");
        if (!string.IsNullOrEmpty(env)) yield return env;
        var here = Path.GetDirectoryName(typeof(NativeLoader).Assembly.Location);
        foreach (var dir in new[] { here, AppContext.BaseDirectory }.Where(d => !string.IsNullOrEmpty(d)).Distinct())
        {
            yield return Path.Combine(dir!, FileName);
            yield return Path.Combine(dir!, "runtimes", "linux-x64", "native", FileName);
        }
    }

    static string Str(byte* p) => p == null ? "" : Marshal.PtrToStringUTF8((nint)p) ?? "";

    static void ApplyDefaults(nint lib)
    {
        var built = Str(((delegate* unmanaged<byte*>)NativeLibrary.GetExport(lib, "dsl_runtime_built_version"))());
        var running = Str(((delegate* unmanaged<byte*>)NativeLibrary.GetExport(lib, "dsl_runtime_loaded_version"))());
        if (running != "unknown" && MajorMinor(built) != MajorMinor(running))
            throw new DllNotFoundException(
                $"Dsl's native library was built against libtorch {built} but libtorch {running} was loaded. " +
                "Rebuild the shim against the libtorch you want (`dotnet fsi build.fsx build`, with LIBTORCH_DIR set if it is not Debian's).");
        BuiltVersion = built;
        LoadedVersion = running;

        var setThreads = (delegate* unmanaged<int, int>)NativeLibrary.GetExport(lib, "dsl_runtime_set_num_threads");
        var setBlas = (delegate* unmanaged<int, int>)NativeLibrary.GetExport(lib, "dsl_runtime_set_blas_threads");
        setThreads(Runtime.DefaultThreads());
        // OpenBLAS reads OPENBLAS_NUM_THREADS itself when it loads; only override when the user did not set it.
        if (Environment.GetEnvironmentVariable("OPENBLAS_NUM_THREADS") is null) setBlas(1);
        // Matrix products over the intra-op threads while BLAS stays single-threaded (see Torch.ParallelGemm).
        // The kernels are installed now, before any op runs, even when the feature starts off.
        ((delegate* unmanaged<int, int>)NativeLibrary.GetExport(lib, "dsl_runtime_set_parallel_gemm"))(
            Environment.GetEnvironmentVariable("DSL_PARALLEL_GEMM") == "0" ? 0 : 1);
        // 2-D convolutions in channels-last layout (see Torch.ConvChannelsLast); DSL_CONV_CHANNELS_LAST=1 turns it on.
        ((delegate* unmanaged<int, int>)NativeLibrary.GetExport(lib, "dsl_runtime_set_conv_channels_last"))(
            Environment.GetEnvironmentVariable("DSL_CONV_CHANNELS_LAST") == "1" ? 1 : 0);
        // CPU dropout masks from a counter-based generator (see Torch.CounterDropout); DSL_COUNTER_DROPOUT=0 turns it off.
        ((delegate* unmanaged<int, int>)NativeLibrary.GetExport(lib, "dsl_runtime_set_counter_dropout"))(
            Environment.GetEnvironmentVariable("DSL_COUNTER_DROPOUT") == "0" ? 0 : 1);
        // CPU max pooling over tiling windows by the engine's kernels (see Torch.TiledMaxPool); DSL_TILED_MAX_POOL=0 turns it off.
        ((delegate* unmanaged<int, int>)NativeLibrary.GetExport(lib, "dsl_runtime_set_tiled_max_pool"))(
            Environment.GetEnvironmentVariable("DSL_TILED_MAX_POOL") == "0" ? 0 : 1);
    }

    /// <summary>
    /// libgomp reads its settings once, when libtorch loads it, from the native environment (which .NET's
    /// Environment.SetEnvironmentVariable does not reach, hence libc's setenv). Its default wait policy spins
    /// idle threads for ~300,000 iterations (a few ms) after every parallel region. On a machine whose cores
    /// are also busy with other work that made training 10–20× slower than passive waiting (measured here: an
    /// MLP epoch 20–40 s against 1.4–1.8 s), while pure passive waiting costs a futex wake-up per region on a
    /// quiet machine (an MLP step 2.2–2.7 ms against 1.2–1.5 ms). The engine therefore asks for a bounded spin,
    /// <see cref="DefaultSpinCount"/> iterations (a fraction of a millisecond), then sleep, unless the user
    /// set OMP_WAIT_POLICY or GOMP_SPINCOUNT.
    /// </summary>
    static unsafe void PrepareOpenMp()
    {
        if (Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is not null
            || Environment.GetEnvironmentVariable("GOMP_SPINCOUNT") is not null) return;
        var spin = System.Text.Encoding.ASCII.GetBytes(DefaultSpinCount.ToString(System.Globalization.CultureInfo.InvariantCulture) + "\0");
        fixed (byte* policy = "OMP_WAIT_POLICY\0"u8, passive = "PASSIVE\0"u8, count = "GOMP_SPINCOUNT\0"u8, value = spin)
        {
            LibC.setenv(policy, passive, 0);   // passive: threads beyond the cores spin only briefly
            LibC.setenv(count, value, 0);      // GOMP_SPINCOUNT overrides the policy's spin count
        }
    }

    /// <summary>How long idle OpenMP threads spin before they sleep, in libgomp's iterations (~10^5 per ms).</summary>
    internal const long DefaultSpinCount = 30_000;

    /// <summary>
    /// glibc returns freed blocks above 128 KB to the kernel (mmap/munmap, heap trimming), so every training
    /// step faulted its activations and gradients in afresh: 22–25% of a CNN step was page faults. Raising
    /// the mmap threshold to glibc's maximum (32 MB on 64-bit) and the trim threshold keeps those blocks in
    /// the heap for the next step. Skipped when the user tunes malloc (GLIBC_TUNABLES) or sets
    /// DSL_SYSTEM_MALLOC=1.
    /// </summary>
    static unsafe void PrepareAllocator()
    {
        if ((Environment.GetEnvironmentVariable("GLIBC_TUNABLES") ?? "").Contains("malloc")
            || Environment.GetEnvironmentVariable("DSL_SYSTEM_MALLOC") == "1") return;
        try
        {
            LibC.mallopt(LibC.M_MMAP_THRESHOLD, MmapThreshold);
            LibC.mallopt(LibC.M_TRIM_THRESHOLD, TrimThreshold);
        }
        catch (EntryPointNotFoundException) { }   // not glibc (musl has no mallopt): keep its defaults
        catch (DllNotFoundException) { }
    }

    internal const int MmapThreshold = 32 << 20;
    internal const int TrimThreshold = 256 << 20;

    static string MajorMinor(string v) => string.Join('.', v.Split('.').Take(2));

    internal static string BuiltVersion { get; private set; } = "";
    internal static string LoadedVersion { get; private set; } = "";

    /// <summary>Forces the native library to load (and its defaults to apply) now.</summary>
    internal static void EnsureLoaded() { if (loaded == 0) Native.dsl_error_clear(); }
}

/// <summary>The C library, for setting native environment variables before libtorch loads.</summary>
internal static unsafe partial class LibC
{
    [LibraryImport("libc.so.6", EntryPoint = "setenv")]
    internal static partial int setenv(byte* name, byte* value, int overwrite);

    internal const int M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3;

    [LibraryImport("libc.so.6", EntryPoint = "mallopt")]
    internal static partial int mallopt(int param, int value);
}
