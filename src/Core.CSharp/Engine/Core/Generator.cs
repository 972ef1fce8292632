using Dsl.Engine.Interop;

namespace Dsl.Engine;

/// <summary>
/// A random number generator with its own state (libtorch's Philox/MT generator for the device).
/// Passing the same seeded generator to the same sequence of random ops reproduces them bit for bit
/// on the CPU. Ops given no generator use the global one, seeded by <see cref="Torch.ManualSeed"/>.
/// </summary>
public sealed class Generator : IDisposable
{
    nint handle;

    /// <summary>Creates a generator on <paramref name="device"/> (CPU by default) seeded with <paramref name="seed"/>.</summary>
    public Generator(long seed, Device? device = null)
    {
        var d = device ?? Device.Cpu;
        handle = Native.dsl_runtime_generator_new(seed, EnumChecks.Code(d.Type, "Generator"), d.Index);
        if (handle == 0) throw Errors.Fail("Generator");
        Device = d;
    }

    /// <summary>The device whose random streams this generator drives.</summary>
    public Device Device { get; }

    internal nint Handle => handle != 0 ? handle : throw new ObjectDisposedException(nameof(Generator));

    /// <summary>Resets the generator to the start of the stream for <paramref name="seed"/>.</summary>
    public void Seed(long seed) => Errors.S(Native.dsl_runtime_generator_set_seed(Handle, seed), "Generator.Seed");

    /// <summary>The full generator state as a uint8 tensor (for checkpoints).</summary>
    public Tensor GetState() => Errors.T(Native.dsl_runtime_generator_state(Handle), "Generator.GetState");

    /// <summary>Restores a state taken with <see cref="GetState"/>.</summary>
    public void SetState(Tensor state) => Errors.S(Native.dsl_runtime_generator_set_state(Handle, state), "Generator.SetState", state);

    /// <summary>Frees the native generator.</summary>
    public void Dispose()
    {
        var h = Interlocked.Exchange(ref handle, 0);
        if (h != 0) { Native.dsl_runtime_generator_free(h); GC.SuppressFinalize(this); }
    }

    /// <summary>Backstop only.</summary>
    ~Generator() { var h = Interlocked.Exchange(ref handle, 0); if (h != 0) Native.dsl_runtime_generator_free(h); }

    internal static nint H(Generator? g) => g is null ? 0 : g.Handle;
}
