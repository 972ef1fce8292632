namespace Dsl.Engine.Distributed;

/// <summary>How an all-reduce combines the ranks' tensors (the codes of <c>dsl_dist_all_reduce</c>).</summary>
public enum CollectiveOp
{
    /// <summary>Element-wise sum.</summary>
    Sum = 0,
    /// <summary>Element-wise mean: the sum divided by the world size.</summary>
    Mean = 1,
    /// <summary>Element-wise maximum.</summary>
    Max = 2,
    /// <summary>Element-wise minimum.</summary>
    Min = 3,
}
