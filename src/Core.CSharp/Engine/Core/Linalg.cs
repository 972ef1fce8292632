using Dsl.Engine.Interop;

namespace Dsl.Engine;

/// <summary>Matrix decompositions (torch.linalg), used by the orthogonal initialiser and PCA.</summary>
public static unsafe class Linalg
{
    /// <summary>Reduced QR decomposition: A = Q·R.</summary>
    public static (Tensor Q, Tensor R) Qr(Tensor a)
    {
        nint q, r;
        Errors.S(Native.dsl_math_qr(a, &q, &r), "linalg.qr", a);
        return (new Tensor(q), new Tensor(r));
    }

    /// <summary>Singular value decomposition A = U·diag(S)·Vh (reduced unless <paramref name="fullMatrices"/>).</summary>
    public static (Tensor U, Tensor S, Tensor Vh) Svd(Tensor a, bool fullMatrices = false)
    {
        nint u, s, vh;
        Errors.S(Native.dsl_math_svd(a, fullMatrices ? 1 : 0, &u, &s, &vh), "linalg.svd", a);
        return (new Tensor(u), new Tensor(s), new Tensor(vh));
    }

    /// <summary>The main diagonal of a matrix, as a vector.</summary>
    public static Tensor Diagonal(Tensor m)
    {
        var n = Math.Min(m.Size(0), m.Size(1));
        using var idx = Torch.Arange(n, m.Device);
        using var rows = m.IndexSelect(0, idx);
        using var cols = idx.Unsqueeze(1);
        using var g = rows.Gather(1, cols);
        return g.Squeeze(1);
    }
}
