using System.Globalization;

namespace Dsl.Engine.Distributed;

/// <summary>
/// Where this process stands in a data-parallel job, read from the variables <c>torchrun</c> sets (and
/// <c>dotnet fsi build.fsx launch</c> too): <c>RANK</c>, <c>WORLD_SIZE</c>, <c>LOCAL_RANK</c>, <c>MASTER_ADDR</c>,
/// <c>MASTER_PORT</c>.
/// </summary>
/// <param name="Rank">This process's rank in [0, WorldSize).</param>
/// <param name="WorldSize">The number of processes in the job.</param>
/// <param name="LocalRank">The rank among the processes on this machine.</param>
/// <param name="MasterAddress">The address of rank 0, which hosts the TCP store.</param>
/// <param name="MasterPort">The port of rank 0's TCP store.</param>
public sealed record DistributedEnvironment(int Rank, int WorldSize, int LocalRank, string MasterAddress, int MasterPort)
{
    /// <summary>torchrun's default port (c10d's TCPStore default).</summary>
    public const int DefaultPort = 29500;

    /// <summary>True when <c>WORLD_SIZE</c> is set: the process was started as part of a job.</summary>
    public static bool IsLaunched => !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("WORLD_SIZE"));

    /// <summary>
    /// The job's variables. Without <c>WORLD_SIZE</c> this is a job of one (rank 0 of 1 on 127.0.0.1); a variable
    /// that is set but malformed, or a rank outside [0, WORLD_SIZE), is an error naming it.
    /// </summary>
    public static DistributedEnvironment FromEnvironment()
    {
        if (!IsLaunched) return new DistributedEnvironment(0, 1, 0, "127.0.0.1", DefaultPort);
        int worldSize = Read("WORLD_SIZE", null);
        int rank = Read("RANK", null);
        int localRank = Read("LOCAL_RANK", rank);
        int port = Read("MASTER_PORT", DefaultPort);
        var address = Environment.GetEnvironmentVariable("MASTER_ADDR");
        if (string.IsNullOrEmpty(address)) address = "127.0.0.1";
        if (worldSize < 1) throw new ArgumentException($"distributed: WORLD_SIZE is {worldSize}; it must be ≥ 1.");
        if (rank < 0 || rank >= worldSize) throw new ArgumentException($"distributed: RANK is {rank} but WORLD_SIZE is {worldSize}; the rank must lie in [0, {worldSize}).");
        if (port < 1 || port > 65535) throw new ArgumentException($"distributed: MASTER_PORT is {port}; it must lie in [1, 65535].");
        return new DistributedEnvironment(rank, worldSize, localRank, address, port);
    }

    static int Read(string name, int? fallback)
    {
        var text = Environment.GetEnvironmentVariable(name);
        if (string.IsNullOrEmpty(text))
            return fallback ?? throw new ArgumentException($"distributed: WORLD_SIZE is set but {name} is not; set both (dotnet fsi build.fsx launch and torchrun do).");
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v)
            ? v
            : throw new ArgumentException($"distributed: {name} is '{text}', which is not an integer.");
    }
}
