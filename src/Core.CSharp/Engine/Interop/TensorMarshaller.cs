using System.Runtime.InteropServices.Marshalling;

namespace Dsl.Engine.Interop;

/// <summary>
/// Marshals a <see cref="Tensor"/> argument of a P/Invoke: a use of its handle is held for the duration of the
/// native call (see the remarks in Tensor.cs), and a disposed tensor passes as NULL.
/// </summary>
[CustomMarshaller(typeof(Tensor), MarshalMode.ManagedToUnmanagedIn, typeof(In))]
internal static class TensorMarshaller
{
    /// <summary>The per-argument state of one call.</summary>
    internal struct In
    {
        Tensor? tensor;
        nint raw;

        /// <summary>Takes the argument (null for an absent optional tensor).</summary>
        public void FromManaged(Tensor? managed) => tensor = managed;

        /// <summary>Starts the use; NULL for an absent or disposed tensor.</summary>
        public nint ToUnmanaged() => raw = tensor?.Acquire() ?? 0;

        /// <summary>Ends the use, after the call.</summary>
        public void Free()
        {
            if (raw != 0) tensor!.Release();
        }
    }
}

/// <summary>
/// The handles of several tensors for one native call that takes an array of them: each is in use (as the marshaller
/// holds a single one) until <see cref="Dispose"/>, after the call.
/// </summary>
internal readonly struct HandleArray : IDisposable
{
    readonly Tensor?[] held;

    /// <summary>The raw handles, in the order of the tensors.</summary>
    public readonly nint[] Raw;

    /// <summary>
    /// Starts a use of every tensor's handle; a disposed tensor is the disposed-tensor error for <paramref name="op"/>.
    /// With <paramref name="allowNull"/> a null entry passes as NULL (an absent optional tensor).
    /// </summary>
    public HandleArray(IReadOnlyList<Tensor?> tensors, string op, bool allowNull = false)
    {
        held = new Tensor?[tensors.Count];
        Raw = new nint[tensors.Count];
        int taken = 0;
        try
        {
            for (; taken < held.Length; taken++)
            {
                var t = tensors[taken];
                if (t is null && allowNull) continue;
                var r = t?.Acquire() ?? 0;
                if (r == 0) throw Errors.Disposed($"{op} (tensor {taken + 1} of {held.Length})");
                held[taken] = t;
                Raw[taken] = r;
            }
        }
        catch
        {
            for (int i = 0; i < taken; i++)
                if (Raw[i] != 0) held[i]!.Release();
            throw;
        }
    }

    /// <summary>Ends the uses started.</summary>
    public void Dispose()
    {
        if (held is null) return;
        for (int i = 0; i < held.Length; i++)
            if (Raw[i] != 0) held[i]!.Release();
    }
}
