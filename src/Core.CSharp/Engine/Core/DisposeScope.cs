namespace Dsl.Engine;

/// <summary>
/// Deterministic memory management for tensors. Every tensor created on a thread while a scope is
/// open on that thread is owned by the innermost scope, and is disposed when the scope is disposed,
/// unless it was moved out with <see cref="MoveOut(Tensor)"/> (to the enclosing scope, or to no scope).
/// </summary>
/// <remarks>
/// Thread model: scopes are per thread. <see cref="Enter"/> pushes a scope on the calling thread's
/// stack, and it must be disposed on that same thread, innermost first (a <c>using</c> block does
/// this). Tensors created on a thread with no open scope are owned by nobody: dispose them yourself
/// (a finalizer frees them eventually, but relying on it holds native memory for a long time). A
/// tensor may be read or used as an argument from any thread; only ownership is per thread.
/// Tensors themselves are not synchronised: do not dispose one while another thread uses it.
/// </remarks>
public sealed class DisposeScope : IDisposable
{
    [ThreadStatic] static DisposeScope? current;

    readonly DisposeScope? parent;
    readonly int threadId;
    List<Tensor>? owned = new();
    bool disposed;

    DisposeScope()
    {
        parent = current;
        threadId = Environment.CurrentManagedThreadId;
        current = this;
    }

    /// <summary>Opens a new innermost scope on this thread.</summary>
    public static DisposeScope Enter() => new();

    /// <summary>The innermost open scope on this thread, or null.</summary>
    public static DisposeScope? Current => current;

    /// <summary>Number of tensors this scope currently owns.</summary>
    public int Count => owned?.Count(t => t.Owner == this && !t.IsDisposed) ?? 0;

    internal static void Register(Tensor t)
    {
        var s = current;
        if (s is null) return;
        t.Owner = s;
        s.owned!.Add(t);
    }

    /// <summary>
    /// Gives a tensor that no scope owns (one made on another thread and detached there, for example) to
    /// this thread's innermost scope, which then frees it; a tensor some scope already owns is left with it.
    /// With no open scope nothing changes. Returns the tensor.
    /// </summary>
    public static Tensor Adopt(Tensor tensor)
    {
        if (tensor.Owner is null) Register(tensor);
        return tensor;
    }

    /// <summary>Transfers a tensor from this scope to the enclosing one (or to no scope); returns it.</summary>
    public Tensor MoveOut(Tensor tensor)
    {
        if (tensor.Owner != this) return tensor;
        tensor.Owner = parent;
        parent?.owned!.Add(tensor);
        return tensor;
    }

    /// <summary>Moves every tensor in <paramref name="tensors"/> out of this scope.</summary>
    public void MoveOut(IEnumerable<Tensor> tensors)
    {
        foreach (var t in tensors) MoveOut(t);
    }

    /// <summary>Disposes every tensor still owned by this scope and closes it.</summary>
    public void Dispose()
    {
        if (disposed) return;
        if (Environment.CurrentManagedThreadId != threadId)
            throw new InvalidOperationException("DisposeScope.Dispose: a scope must be disposed on the thread that entered it.");
        if (current != this)
            throw new InvalidOperationException("DisposeScope.Dispose: scopes must be disposed innermost first (use `using`).");
        disposed = true;
        current = parent;
        var list = owned!;
        owned = null;
        foreach (var t in list)
            if (t.Owner == this) { t.Owner = null; t.Dispose(); }
    }
}
