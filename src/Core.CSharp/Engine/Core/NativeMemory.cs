using Dsl.Engine.Interop;

namespace Dsl.Engine;

/// <summary>
/// The native memory of tensors, which the garbage collector cannot see: a tensor object is a few dozen bytes to it,
/// however large its data. Tensors that nobody disposes (created outside any <see cref="DisposeScope"/> and
/// dropped) are freed only by their finalizers, and without help the collector would not run before native memory
/// ran out. So the engine keeps a budget: every few hundred tensors it reads the bytes held by live handles, and
/// when they pass the budget it runs a full collection and waits for the finalizers (the program slows down instead
/// of dying), then sets the budget to twice what is still alive (at least 512 MB more). The shim raises a flag when
/// a new tensor passes the budget; each new tensor reads it (one memory read).
/// </summary>
public static unsafe class NativeMemory
{
    const long MinHeadroom = 512L << 20;
    static readonly int* overBudget = Native.dsl_memory_over_budget_flag();
    static long budget = 1L << 30;
    static int collecting;
    static int collections;

    /// <summary>Bytes held by the live tensor handles (aliases of the same data count again).</summary>
    public static long LiveBytes => Native.dsl_tensor_live_bytes();

    /// <summary>The live bytes above which a new tensor triggers a collection (it adapts after each one).</summary>
    public static long Budget => Volatile.Read(ref budget);

    /// <summary>Collections the budget has triggered in this process.</summary>
    public static int Collections => Volatile.Read(ref collections);

    /// <summary>Called for every new tensor: collects when the shim says the budget was passed.</summary>
    internal static void OnCreate()
    {
        if (Volatile.Read(ref *overBudget) != 0) Collect();
    }

    /// <summary>Runs a full collection and waits for the finalizers (which free dropped tensors), then sets the budget.</summary>
    public static void Collect()
    {
        if (Interlocked.Exchange(ref collecting, 1) == 1) return;   // another thread is collecting
        try
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            var alive = LiveBytes;
            var next = Math.Max(2 * alive, alive + MinHeadroom);
            Volatile.Write(ref budget, next);
            Native.dsl_memory_set_budget(next);
            Interlocked.Increment(ref collections);
        }
        finally { Volatile.Write(ref collecting, 0); }
    }
}
