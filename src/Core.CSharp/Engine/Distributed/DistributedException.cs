namespace Dsl.Engine.Distributed;

/// <summary>A collective or the forming of a process group failed: names the op, this rank, the cause and, when known, the lost rank.</summary>
public sealed class DistributedException : Exception
{
    /// <summary>The operation that failed: <c>init</c>, <c>all_reduce</c>, <c>broadcast</c>, <c>all_gather</c>, <c>barrier</c>, <c>average_grads</c>, ….</summary>
    public string Op { get; }
    /// <summary>The rank of the process that raised it.</summary>
    public int Rank { get; }
    /// <summary>The ranks found gone after the failure (empty when none could be named).</summary>
    public IReadOnlyList<int> LostRanks { get; }

    /// <summary>Creates the exception with its message.</summary>
    public DistributedException(string op, int rank, IReadOnlyList<int> lostRanks, string message)
        : base(message)
    {
        Op = op;
        Rank = rank;
        LostRanks = lostRanks;
    }
}
