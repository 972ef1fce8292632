using System.Diagnostics;
using System.Text;
using Dsl.Engine.Interop;

namespace Dsl.Engine.Distributed;

/// <summary>
/// A c10d process group (Gloo on the CPU) over a TCP store hosted by rank 0, or a file store: the collectives of
/// data-parallel training. Every call is bounded by <see cref="Timeout"/>; a failure is a
/// <see cref="DistributedException"/> naming the op, this rank, the cause and, when one is found gone, the lost rank.
/// Collectives are calls every rank makes in the same order. Dispose it (destroy_process_group) when done.
/// </summary>
public sealed unsafe class ProcessGroup : IDisposable
{
    nint handle;
    readonly (string Host, int Pid)[] peers;

    ProcessGroup(nint handle, int rank, int worldSize, TimeSpan timeout)
    {
        this.handle = handle;
        Rank = rank;
        WorldSize = worldSize;
        Timeout = timeout;
        peers = new (string, int)[worldSize];
        try
        {
            // Each rank publishes its host and process id, so that after a failure the ranks whose processes have
            // exited can be named (for those on this host).
            SetKey($"dsl/peer/{rank}", $"{Environment.MachineName} {Environment.ProcessId}");
            for (int r = 0; r < worldSize; r++)
            {
                var parts = GetKey($"dsl/peer/{r}").Split(' ');
                peers[r] = (parts[0], int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
            }
        }
        catch
        {
            Native.dsl_dist_free(handle);
            this.handle = 0;
            throw;
        }
    }

    /// <summary>This process's rank in [0, <see cref="WorldSize"/>).</summary>
    public int Rank { get; }
    /// <summary>The number of processes in the group.</summary>
    public int WorldSize { get; }
    /// <summary>The bound on every call: forming the group, each collective, each store access.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>
    /// Joins (rank 0: hosts) the TCP store at <paramref name="address"/>:<paramref name="port"/> and forms the group of
    /// <paramref name="worldSize"/> ranks. Fails within <paramref name="timeout"/> when the port is taken, a rank never
    /// joins, or the ranks disagree on the world size.
    /// </summary>
    public static ProcessGroup Tcp(string address, int port, int worldSize, int rank, TimeSpan timeout) => Create(0, address, port, worldSize, rank, timeout);

    /// <summary>
    /// Forms the group through a file store at <paramref name="path"/> (a file every rank can reach, on a shared disk for
    /// several machines; one new file per job: the last rank to leave deletes it). A folder that does not exist, or a file
    /// left by an earlier job that did not end cleanly, fails at once with the path and the fix.
    /// </summary>
    public static ProcessGroup File(string path, int worldSize, int rank, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(path);
        var dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (dir is not null && !Directory.Exists(dir))
            throw new DistributedException("init", rank, [],
                $"distributed init of rank {rank} of {worldSize}: the file store's folder '{dir}' does not exist; create it (on a disk every rank reaches) or give another path.");
        return Create(1, path, 0, worldSize, rank, timeout);
    }

    /// <summary>Forms the group from <see cref="DistributedEnvironment.FromEnvironment"/> (torchrun's variables) over a TCP store.</summary>
    public static ProcessGroup FromEnvironment(TimeSpan timeout)
    {
        var env = DistributedEnvironment.FromEnvironment();
        return Tcp(env.MasterAddress, env.MasterPort, env.WorldSize, env.Rank, timeout);
    }

    static ProcessGroup Create(int kind, string address, int port, int worldSize, int rank, TimeSpan timeout)
    {
        ArgumentNullException.ThrowIfNull(address);
        long ms = (long)timeout.TotalMilliseconds;
        if (ms <= 0) throw new ArgumentOutOfRangeException(nameof(timeout), $"distributed init: the timeout must be positive, got {timeout}.");
        nint h;
        var a = Utf8(address);
        fixed (byte* p = a) h = Native.dsl_dist_new(kind, p, port, worldSize, rank, ms);
        if (h == 0) throw new DistributedException("init", rank, [], Message());
        return new ProcessGroup(h, rank, worldSize, timeout);
    }

    /// <summary>Reduces <paramref name="t"/> (contiguous, on the CPU) across the ranks in place: every rank ends with the result.</summary>
    public void AllReduce(Tensor t, CollectiveOp op = CollectiveOp.Sum)
    {
        ArgumentNullException.ThrowIfNull(t);
        if (!Enum.IsDefined(op)) throw new ArgumentOutOfRangeException(nameof(op), $"all_reduce: unknown reduce op {(int)op}.");
        using var hs = new HandleArray([t], "all_reduce");
        Check(Native.dsl_dist_all_reduce(Live("all_reduce"), hs.Raw[0], (int)op), "all_reduce");
    }

    /// <summary>The sums (or another reduction) of <paramref name="values"/> across the ranks, as float64.</summary>
    public double[] AllReduce(double[] values, CollectiveOp op = CollectiveOp.Sum)
    {
        ArgumentNullException.ThrowIfNull(values);
        using var t = Torch.From(values, values.LongLength);
        AllReduce(t, op);
        return t.ToArray<double>();
    }

    /// <summary>Copies root's values of every tensor into the others' tensors (in place, in buckets).</summary>
    public void Broadcast(IReadOnlyList<Tensor> tensors, int root = 0)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        using var hs = new HandleArray(tensors, "broadcast");
        fixed (nint* p = hs.Raw) Check(Native.dsl_dist_broadcast(Live("broadcast"), p, tensors.Count, root), "broadcast");
    }

    /// <summary>Copies root's <paramref name="t"/> into every rank's.</summary>
    public void Broadcast(Tensor t, int root = 0) => Broadcast([t], root);

    /// <summary>Every rank's <paramref name="t"/> (same shape and dtype on each), stacked: [WorldSize, …t.Shape].</summary>
    public Tensor AllGather(Tensor t)
    {
        ArgumentNullException.ThrowIfNull(t);
        using var hs = new HandleArray([t], "all_gather");
        var h = Native.dsl_dist_all_gather(Live("all_gather"), hs.Raw[0]);
        if (h == 0) throw Failure("all_gather");
        return new Tensor(h);
    }

    /// <summary>Returns when every rank has reached it.</summary>
    public void Barrier() => Check(Native.dsl_dist_barrier(Live("barrier")), "barrier");

    /// <summary>
    /// Averages the gradients of <paramref name="parameters"/> across the ranks in place, as DistributedDataParallel:
    /// buckets of up to <paramref name="bucketBytes"/> (DDP's 25 MiB by default) filled from the last parameter back,
    /// each gradient scaled by 1 / WorldSize and then summed. A parameter without a gradient contributes zeros (and gets
    /// a zero gradient). Returns the bytes all-reduced.
    /// </summary>
    public long AverageGradients(IReadOnlyList<Tensor> parameters, long bucketBytes = 25L << 20)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        using var hs = new HandleArray(parameters, "average_grads");
        long sent = 0;
        fixed (nint* p = hs.Raw) Check(Native.dsl_dist_average_grads(Live("average_grads"), p, parameters.Count, bucketBytes, &sent), "average_grads");
        return sent;
    }

    /// <summary>Sets a key of the group's store (visible to every rank).</summary>
    public void SetKey(string key, string value)
    {
        var k = Utf8(key);
        var v = Utf8(value);
        fixed (byte* pk = k, pv = v) Check(Native.dsl_dist_store_set(Live("store set"), pk, pv), "store set");
    }

    /// <summary>A key of the group's store, waiting up to the timeout for some rank to set it.</summary>
    public string GetKey(string key)
    {
        var k = Utf8(key);
        var buffer = new byte[256];
        while (true)
        {
            int n;
            fixed (byte* pk = k, pb = buffer) n = Native.dsl_dist_store_get(Live("store get"), pk, pb, buffer.Length);
            if (n < 0) throw Failure("store get");
            if (n < buffer.Length) return Encoding.UTF8.GetString(buffer, 0, n);
            buffer = new byte[n];
        }
    }

    /// <summary>Destroys the group (destroy_process_group); rank 0's store closes with it.</summary>
    public void Dispose()
    {
        var h = Interlocked.Exchange(ref handle, 0);
        if (h != 0) Native.dsl_dist_free(h);
    }

    nint Live(string op) => handle != 0 ? handle : throw new ObjectDisposedException(nameof(ProcessGroup), $"distributed {op}: the process group was disposed.");

    void Check(int rc, string op)
    {
        if (rc < 0) throw Failure(op);
    }

    DistributedException Failure(string op)
    {
        var cause = Message();
        var lost = LostRanks();
        var who = lost.Count switch
        {
            0 => WorldSize == 2 ? $" The other rank, rank {1 - Rank}, failed or is unreachable (its process is on {peers[1 - Rank].Host})." : "",
            _ => " Lost: " + string.Join(", ", lost.Select(r => $"rank {r} (process {peers[r].Pid} on {peers[r].Host} has exited)")) + ".",
        };
        return new DistributedException(op, Rank, lost, cause + who);
    }

    /// <summary>The other ranks on this host whose processes have exited.</summary>
    List<int> LostRanks()
    {
        var lost = new List<int>();
        for (int r = 0; r < WorldSize; r++)
        {
            if (r == Rank || peers[r].Host != Environment.MachineName) continue;
            if (!Alive(peers[r].Pid)) lost.Add(r);
        }
        return lost;
    }

    static bool Alive(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return !p.HasExited;
        }
        catch (ArgumentException) { return false; }
        catch (InvalidOperationException) { return false; }
    }

    static byte[] Utf8(string s) => Encoding.UTF8.GetBytes(s + "\0");

    static string Message()
    {
        var p = Native.dsl_error_message();
        var m = p == null ? "unknown native error" : System.Runtime.InteropServices.Marshal.PtrToStringUTF8((nint)p) ?? "unknown native error";
        Native.dsl_error_clear();
        return m;
    }
}
