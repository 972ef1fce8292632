namespace Dsl.Engine;

/// <summary>Nonlinearities whose recommended gain <see cref="Init.Gain"/> knows (as torch.nn.init.calculate_gain).</summary>
public enum Nonlinearity
{
    /// <summary>Gain 1.</summary>
    Linear,
    /// <summary>Gain 1 (conv layers are linear).</summary>
    Conv,
    /// <summary>Gain 1.</summary>
    Sigmoid,
    /// <summary>Gain 5/3.</summary>
    Tanh,
    /// <summary>Gain √2.</summary>
    Relu,
    /// <summary>Gain √(2/(1 + slope²)).</summary>
    LeakyRelu,
    /// <summary>Gain 3/4.</summary>
    Selu,
}

/// <summary>Which fan Kaiming initialisation preserves.</summary>
public enum FanMode
{
    /// <summary>Preserve the variance of activations in the forward pass.</summary>
    FanIn,
    /// <summary>Preserve the variance of gradients in the backward pass.</summary>
    FanOut,
}

/// <summary>
/// Weight initialisers, as torch.nn.init: each fills a tensor in place (without recording autograd
/// history) and returns it, drawing from the <c>generator</c> argument when given so that init is
/// reproducible per layer. Fans follow PyTorch: for a weight [out, in, k…], fan_in = in·∏k and
/// fan_out = out·∏k (so a conv's fan_in is C_in·k_h·k_w).
/// </summary>
public static class Init
{
    /// <summary>(fan_in, fan_out) of a weight of the given shape (at least 2-D).</summary>
    public static (long FanIn, long FanOut) Fans(long[] shape)
    {
        if (shape.Length < 2)
            throw new ArgumentException($"Init.Fans: fans need a weight with at least 2 dims, got shape [{string.Join(", ", shape)}]; biases use Uniform/Zeros instead.");
        long receptive = 1;
        for (int i = 2; i < shape.Length; i++) receptive *= shape[i];
        return (shape[1] * receptive, shape[0] * receptive);
    }

    /// <summary>The recommended gain for a nonlinearity (<paramref name="param"/> is leaky ReLU's negative slope).</summary>
    public static double Gain(Nonlinearity nonlinearity, double param = 0.01) => nonlinearity switch
    {
        Nonlinearity.Tanh => 5.0 / 3.0,
        Nonlinearity.Relu => Math.Sqrt(2.0),
        Nonlinearity.LeakyRelu => Math.Sqrt(2.0 / (1 + param * param)),
        Nonlinearity.Selu => 0.75,
        _ => 1.0,
    };

    /// <summary>U(low, high).</summary>
    public static Tensor Uniform(Tensor t, double low = 0, double high = 1, Generator? generator = null) => t.Uniform_(low, high, generator);
    /// <summary>N(mean, std²).</summary>
    public static Tensor Normal(Tensor t, double mean = 0, double std = 1, Generator? generator = null) => t.Normal_(mean, std, generator);
    /// <summary>Every element = value.</summary>
    public static Tensor Constant(Tensor t, double value) { using (Autograd.NoGrad()) return t.Fill_(value); }
    /// <summary>Zeros.</summary>
    public static Tensor Zeros(Tensor t) => Constant(t, 0);
    /// <summary>Ones.</summary>
    public static Tensor Ones(Tensor t) => Constant(t, 1);

    /// <summary>Glorot/Xavier uniform: U(−b, b) with b = gain·√(6/(fan_in + fan_out)).</summary>
    public static Tensor XavierUniform(Tensor t, double gain = 1, Generator? generator = null)
    {
        var (fi, fo) = Fans(t.Shape);
        var b = gain * Math.Sqrt(6.0 / (fi + fo));
        return t.Uniform_(-b, b, generator);
    }

    /// <summary>Glorot/Xavier normal: N(0, σ²) with σ = gain·√(2/(fan_in + fan_out)).</summary>
    public static Tensor XavierNormal(Tensor t, double gain = 1, Generator? generator = null)
    {
        var (fi, fo) = Fans(t.Shape);
        return t.Normal_(0, gain * Math.Sqrt(2.0 / (fi + fo)), generator);
    }

    static double KaimingStd(Tensor t, double a, FanMode mode, Nonlinearity nonlinearity)
    {
        var (fi, fo) = Fans(t.Shape);
        return Gain(nonlinearity, a) / Math.Sqrt(mode == FanMode.FanIn ? fi : fo);
    }

    /// <summary>He/Kaiming uniform: U(−b, b) with b = √3·gain/√fan. PyTorch's default for Linear and Conv weights is a = √5 with leaky ReLU.</summary>
    public static Tensor KaimingUniform(Tensor t, double a = 0, FanMode mode = FanMode.FanIn, Nonlinearity nonlinearity = Nonlinearity.LeakyRelu, Generator? generator = null)
    {
        var b = Math.Sqrt(3.0) * KaimingStd(t, a, mode, nonlinearity);
        return t.Uniform_(-b, b, generator);
    }

    /// <summary>He/Kaiming normal: N(0, σ²) with σ = gain/√fan (√(2/fan_in) for ReLU).</summary>
    public static Tensor KaimingNormal(Tensor t, double a = 0, FanMode mode = FanMode.FanIn, Nonlinearity nonlinearity = Nonlinearity.LeakyRelu, Generator? generator = null) =>
        t.Normal_(0, KaimingStd(t, a, mode, nonlinearity), generator);

    /// <summary>LeCun uniform: U(−b, b) with b = √(3/fan_in) (variance 1/fan_in).</summary>
    public static Tensor LecunUniform(Tensor t, Generator? generator = null)
    {
        var b = Math.Sqrt(3.0 / Fans(t.Shape).FanIn);
        return t.Uniform_(-b, b, generator);
    }

    /// <summary>LeCun normal: N(0, 1/fan_in). (Keras truncates this normal at 2σ; this one is not truncated.)</summary>
    public static Tensor LecunNormal(Tensor t, Generator? generator = null) => t.Normal_(0, Math.Sqrt(1.0 / Fans(t.Shape).FanIn), generator);

    /// <summary>A (semi-)orthogonal matrix scaled by <paramref name="gain"/>, from the QR decomposition of a normal matrix; dims after the first are flattened.</summary>
    public static Tensor Orthogonal(Tensor t, double gain = 1, Generator? generator = null)
    {
        var shape = t.Shape;
        if (shape.Length < 2) throw new ArgumentException($"Init.Orthogonal: needs at least 2 dims, got [{string.Join(", ", shape)}].");
        long rows = shape[0], cols = t.Numel / rows;
        using var scope = DisposeScope.Enter();
        using var _ = Autograd.NoGrad();
        var flat = Torch.Randn(new[] { rows, cols }, generator, t.DType, t.Device);
        if (rows < cols) flat = flat.T;
        var (q, r) = Linalg.Qr(flat);
        var signs = Linalg.Diagonal(r).Sign();
        q = q * signs;
        if (rows < cols) q = q.T;
        t.Copy_((q * gain).Reshape(shape));
        return t;
    }
}
