namespace Dsl.Engine.Optim;

// The optimizers. Defaults are PyTorch's; each checks its hyper-parameters before any step.

/// <summary>
/// A hyper-parameter with its rule; the optimizer checks it when created and again when a checkpoint restores it.
/// </summary>
internal readonly record struct Hyper(string Name, double Value, Hyper.Rule Kind)
{
    internal enum Rule { NonNegative, Beta, Flag, Finite }

    internal static Hyper NonNegative(string name, double v) => new(name, v, Rule.NonNegative);
    internal static Hyper Beta(string name, double v) => new(name, v, Rule.Beta);
    internal static Hyper Flag(string name, bool b) => new(name, b ? 1 : 0, Rule.Flag);
    internal static Hyper Finite(string name, double v) => new(name, v, Rule.Finite);

    /// <summary>Null when <paramref name="v"/> obeys the rule, else what the rule asks.</summary>
    internal static string? Problem(Rule kind, double v) => kind switch
    {
        Rule.NonNegative => double.IsFinite(v) && v >= 0 ? null : "must be finite and ≥ 0",
        Rule.Beta => v >= 0 && v < 1 ? null : "must lie in [0, 1)",
        Rule.Flag => v is 0 or 1 ? null : "must be 0 or 1 (a flag)",
        _ => double.IsFinite(v) ? null : "must be finite",
    };
}

/// <summary>Stochastic gradient descent with optional momentum, dampening, Nesterov momentum and L2 weight decay (torch.optim.SGD).</summary>
public sealed class SGD : Optimizer
{
    /// <summary>Creates the optimizer; <paramref name="lr"/> is required, as in PyTorch.</summary>
    public SGD(IEnumerable<Tensor> parameters, double lr, double momentum = 0, double dampening = 0, double weightDecay = 0, bool nesterov = false, bool maximize = false)
        : base(0, parameters, new[] { Hyper.NonNegative("lr", lr), Hyper.NonNegative("momentum", momentum), Hyper.Finite("dampening", dampening),
                                      Hyper.NonNegative("weightDecay", weightDecay), Hyper.Flag("nesterov", nesterov), Hyper.Flag("maximize", maximize) })
    {
        if (nesterov && (momentum <= 0 || dampening != 0))
            throw new ArgumentException("SGD: Nesterov momentum requires a momentum > 0 and zero dampening.");
    }
    /// <inheritdoc/>
    protected override string[] SlotNames => new[] { "momentum_buffer" };
    /// <inheritdoc/>
    protected override string[] ScalarNames => Array.Empty<string>();
}

/// <summary>Adam (torch.optim.Adam): L2 weight decay added to the gradient; optional AMSGrad.</summary>
public sealed class Adam : Optimizer
{
    /// <summary>Creates the optimizer with PyTorch's defaults (lr 1e-3, betas 0.9/0.999, eps 1e-8).</summary>
    public Adam(IEnumerable<Tensor> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0, bool amsgrad = false, bool maximize = false)
        : base(1, parameters, new[] { Hyper.NonNegative("lr", lr), Hyper.Beta("beta1", beta1), Hyper.Beta("beta2", beta2),
                                      Hyper.NonNegative("eps", eps), Hyper.NonNegative("weightDecay", weightDecay), Hyper.Flag("amsgrad", amsgrad), Hyper.Flag("maximize", maximize) })
    { }
    /// <inheritdoc/>
    protected override string[] SlotNames => new[] { "exp_avg", "exp_avg_sq", "max_exp_avg_sq" };
    /// <inheritdoc/>
    protected override string[] ScalarNames => new[] { "step" };
}

/// <summary>AdamW (torch.optim.AdamW): decoupled weight decay, default 1e-2.</summary>
public sealed class AdamW : Optimizer
{
    /// <summary>Creates the optimizer with PyTorch's defaults (lr 1e-3, weight decay 1e-2).</summary>
    public AdamW(IEnumerable<Tensor> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 1e-2, bool amsgrad = false, bool maximize = false)
        : base(2, parameters, new[] { Hyper.NonNegative("lr", lr), Hyper.Beta("beta1", beta1), Hyper.Beta("beta2", beta2),
                                      Hyper.NonNegative("eps", eps), Hyper.NonNegative("weightDecay", weightDecay), Hyper.Flag("amsgrad", amsgrad), Hyper.Flag("maximize", maximize) })
    { }
    /// <inheritdoc/>
    protected override string[] SlotNames => new[] { "exp_avg", "exp_avg_sq", "max_exp_avg_sq" };
    /// <inheritdoc/>
    protected override string[] ScalarNames => new[] { "step" };
}

/// <summary>RMSprop (torch.optim.RMSprop): optional momentum and centering. Defaults lr 1e-2, alpha 0.99.</summary>
public sealed class RMSprop : Optimizer
{
    /// <summary>Creates the optimizer with PyTorch's defaults (Keras's RMSprop uses lr 1e-3, rho 0.9, eps 1e-7).</summary>
    public RMSprop(IEnumerable<Tensor> parameters, double lr = 1e-2, double alpha = 0.99, double eps = 1e-8, double weightDecay = 0, double momentum = 0, bool centered = false, bool maximize = false)
        : base(3, parameters, new[] { Hyper.NonNegative("lr", lr), Hyper.NonNegative("alpha", alpha), Hyper.NonNegative("eps", eps),
                                      Hyper.NonNegative("weightDecay", weightDecay), Hyper.NonNegative("momentum", momentum), Hyper.Flag("centered", centered), Hyper.Flag("maximize", maximize) })
    { }
    /// <inheritdoc/>
    protected override string[] SlotNames => new[] { "square_avg", "momentum_buffer", "grad_avg" };
    /// <inheritdoc/>
    protected override string[] ScalarNames => new[] { "step" };
}

/// <summary>Adadelta (torch.optim.Adadelta). Defaults lr 1.0, rho 0.9, eps 1e-6.</summary>
public sealed class Adadelta : Optimizer
{
    /// <summary>Creates the optimizer with PyTorch's defaults.</summary>
    public Adadelta(IEnumerable<Tensor> parameters, double lr = 1.0, double rho = 0.9, double eps = 1e-6, double weightDecay = 0, bool maximize = false)
        : base(4, parameters, new[] { Hyper.NonNegative("lr", lr), Hyper.NonNegative("rho", rho), Hyper.NonNegative("eps", eps),
                                      Hyper.NonNegative("weightDecay", weightDecay), Hyper.Flag("maximize", maximize) })
    { }
    /// <inheritdoc/>
    protected override string[] SlotNames => new[] { "square_avg", "acc_delta" };
    /// <inheritdoc/>
    protected override string[] ScalarNames => new[] { "step" };
}

/// <summary>Adagrad (torch.optim.Adagrad). Defaults lr 1e-2, eps 1e-10.</summary>
public sealed class Adagrad : Optimizer
{
    /// <summary>Creates the optimizer with PyTorch's defaults.</summary>
    public Adagrad(IEnumerable<Tensor> parameters, double lr = 1e-2, double lrDecay = 0, double weightDecay = 0, double initialAccumulatorValue = 0, double eps = 1e-10, bool maximize = false)
        : base(5, parameters, new[] { Hyper.NonNegative("lr", lr), Hyper.NonNegative("lrDecay", lrDecay), Hyper.NonNegative("weightDecay", weightDecay),
                                      Hyper.NonNegative("initialAccumulatorValue", initialAccumulatorValue), Hyper.NonNegative("eps", eps), Hyper.Flag("maximize", maximize) })
    { }
    /// <inheritdoc/>
    protected override string[] SlotNames => new[] { "sum" };
    /// <inheritdoc/>
    protected override string[] ScalarNames => new[] { "step" };
}

/// <summary>NAdam (torch.optim.NAdam, PyTorch ≥ 2.0's rule). Defaults lr 2e-3, momentum decay 4e-3.</summary>
public sealed class NAdam : Optimizer
{
    /// <summary>Creates the optimizer with PyTorch's defaults.</summary>
    public NAdam(IEnumerable<Tensor> parameters, double lr = 2e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double weightDecay = 0, double momentumDecay = 4e-3)
        : base(6, parameters, new[] { Hyper.NonNegative("lr", lr), Hyper.Beta("beta1", beta1), Hyper.Beta("beta2", beta2),
                                      Hyper.NonNegative("eps", eps), Hyper.NonNegative("weightDecay", weightDecay), Hyper.NonNegative("momentumDecay", momentumDecay) })
    { }
    /// <inheritdoc/>
    protected override string[] SlotNames => new[] { "exp_avg", "exp_avg_sq" };
    /// <inheritdoc/>
    protected override string[] ScalarNames => new[] { "step", "mu_product" };
}
