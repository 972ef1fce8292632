using Dsl.Engine.Interop;

namespace Dsl.Engine.Optim;

/// <summary>
/// Base of the optimizers. A step updates every parameter in one native call (the rules follow
/// torch.optim; parameters without a gradient are skipped). State tensors (moments, buffers) are
/// created on the first step and owned by the optimizer until it is disposed; they can be read and
/// restored for checkpoints. Only parameters that require grad are optimized, so frozen ones are excluded.
/// </summary>
public abstract unsafe class Optimizer : IDisposable
{
    readonly int kind;
    readonly Tensor[] parameters;
    readonly double[] hyper;
    readonly Hyper[] hyperRules;
    readonly double[] scalars;
    nint[] state;
    readonly int slots, scalarSlots;

    /// <summary>The names of the per-parameter state tensors, in slot order.</summary>
    protected abstract string[] SlotNames { get; }
    /// <summary>The names of the per-parameter scalar state (such as the step count).</summary>
    protected abstract string[] ScalarNames { get; }

    private protected Optimizer(int kind, IEnumerable<Tensor> parameters, Hyper[] hyper)
    {
        foreach (var p in hyper)
            if (Hyper.Problem(p.Kind, p.Value) is { } why)
                throw new ArgumentOutOfRangeException(p.Name, $"{GetType().Name}: {p.Name} {why}, got {p.Value}.");
        this.kind = kind;
        this.parameters = parameters.Where(p => p.RequiresGrad).ToArray();
        hyperRules = hyper;
        this.hyper = hyper.Select(p => p.Value).ToArray();
        int h, s, c;
        if (Native.dsl_optim_layout(kind, &h, &s, &c) < 0 || h != hyper.Length)
            throw new InvalidOperationException($"optimizer kind {kind}: native layout mismatch");
        slots = s;
        scalarSlots = c;
        state = new nint[this.parameters.Length * slots];
        scalars = new double[this.parameters.Length * scalarSlots];
    }

    /// <summary>A readable name ("Adam", "SGD", ...).</summary>
    public string Name => GetType().Name;

    /// <summary>The hyper-parameters by name with their current values (the learning rate first), for reports.</summary>
    public IReadOnlyList<KeyValuePair<string, double>> HyperParameters =>
        hyperRules.Select((h, i) => new KeyValuePair<string, double>(h.Name, hyper[i])).ToArray();

    /// <summary>The optimized parameters (those that require grad), in order.</summary>
    public IReadOnlyList<Tensor> Parameters => parameters;

    /// <summary>The learning rate; schedules change it between steps.</summary>
    public double LearningRate
    {
        get => hyper[0];
        set => hyper[0] = double.IsFinite(value) && value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), $"{Name}: learning rate must be finite and ≥ 0, got {value}.");
    }

    /// <summary>Applies one update to every parameter with a gradient.</summary>
    public void Step()
    {
        using var hs = Handles("step");
        fixed (nint* p = hs.Raw, st = state)
        fixed (double* h = hyper, sc = scalars)
            Check(Native.dsl_optim_step(kind, p, parameters.Length, st, h, hyper.Length, sc), "step");
    }

    /// <summary>Clears the gradients (drops them by default, as PyTorch 2 does).</summary>
    public void ZeroGrad(bool setToNone = true)
    {
        using var hs = Handles("zero_grad");
        fixed (nint* p = hs.Raw) Check(Native.dsl_optim_zero_grad(p, parameters.Length, setToNone ? 1 : 0), "zero_grad");
    }

    /// <summary>Scales all gradients so their joint norm is at most <paramref name="maxNorm"/>; returns the norm before clipping.</summary>
    public double ClipGradNorm(double maxNorm, double normType = 2) => GradClip.Norm(parameters, maxNorm, normType);

    /// <summary>Clamps every gradient element to [−clip, clip].</summary>
    public void ClipGradValue(double clip) => GradClip.Value(parameters, clip);

    HandleArray Handles(string op) => new(parameters, $"{Name.ToLowerInvariant()}.{op}");

    void Check(int rc, string op)
    {
        if (rc < 0) throw Errors.Fail($"{Name.ToLowerInvariant()}.{op}", parameters.Where(p => p.IsDisposed).Take(1));
    }

    /// <summary>
    /// The state for a checkpoint: tensors named "&lt;param index&gt;.&lt;slot&gt;" (copies) and scalars named
    /// "&lt;param index&gt;.&lt;name&gt;", plus the hyper-parameters.
    /// </summary>
    public (IReadOnlyList<KeyValuePair<string, Tensor>> Tensors, IReadOnlyDictionary<string, double> Scalars) GetState()
    {
        var tensors = new List<KeyValuePair<string, Tensor>>();
        for (int i = 0; i < parameters.Length; i++)
            for (int k = 0; k < slots; k++)
                if (state[i * slots + k] != 0)
                    tensors.Add(new($"{i}.{SlotNames[k]}", Errors.T(Native.dsl_shape_clone(Tensor.Borrow(state[i * slots + k])), "optimizer.state")));
        var sc = new Dictionary<string, double>();
        for (int i = 0; i < parameters.Length; i++)
            for (int k = 0; k < scalarSlots; k++)
                sc[$"{i}.{ScalarNames[k]}"] = scalars[i * scalarSlots + k];
        for (int k = 0; k < hyper.Length; k++) sc[$"hyper.{k}"] = hyper[k];
        return (tensors, sc);
    }

    /// <summary>
    /// Restores state taken with <see cref="GetState"/> from an optimizer of the same kind over parameters of the same
    /// shapes. Everything is checked before anything changes: names and indices, each state tensor's shape against its
    /// parameter's, and every scalar (hyper-parameters by their rules: the learning rate finite and ≥ 0, betas in
    /// [0, 1), flags 0 or 1; step counts finite and ≥ 0). The restored hyper-parameters replace the optimizer's own,
    /// as PyTorch's load_state_dict does.
    /// </summary>
    public void SetState(IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, double> scalarState)
    {
        var restoredTensors = new List<(int Slot, Tensor Value)>();
        foreach (var (name, t) in tensors)
        {
            var parts = name.Split('.');
            int k = parts.Length == 2 ? Array.IndexOf(SlotNames, parts[1]) : -1;
            if (parts.Length != 2 || !int.TryParse(parts[0], out int i) || i < 0 || i >= parameters.Length || k < 0)
                throw new ArgumentException($"{Name}.SetState: state '{name}' does not belong to this optimizer ({parameters.Length} parameters, slots {string.Join(", ", SlotNames)}).");
            if (!t.Shape.SequenceEqual(parameters[i].Shape))
                throw new ArgumentException($"{Name}.SetState: state '{name}' has shape [{string.Join(", ", t.Shape)}] but parameter {i} has shape [{string.Join(", ", parameters[i].Shape)}]; the checkpoint belongs to another model.");
            restoredTensors.Add((i * slots + k, t));
        }
        var restoredScalars = new List<(bool IsHyper, int Index, double Value)>();
        foreach (var (name, v) in scalarState)
        {
            var parts = name.Split('.');
            if (parts.Length == 2 && parts[0] == "hyper")
            {
                if (!int.TryParse(parts[1], out int h) || h < 0 || h >= hyper.Length)
                    throw new ArgumentException($"{Name}.SetState: scalar '{name}' does not belong to this optimizer ({hyper.Length} hyper-parameters).");
                if (Hyper.Problem(hyperRules[h].Kind, v) is { } why)
                    throw new ArgumentOutOfRangeException(nameof(scalarState), $"{Name}.SetState: the saved {hyperRules[h].Name} is {v}; it {why}. The checkpoint is corrupt or was edited.");
                restoredScalars.Add((true, h, v));
                continue;
            }
            int k = parts.Length == 2 ? Array.IndexOf(ScalarNames, parts[1]) : -1;
            if (parts.Length != 2 || !int.TryParse(parts[0], out int i) || i < 0 || i >= parameters.Length || k < 0)
                throw new ArgumentException($"{Name}.SetState: scalar '{name}' does not belong to this optimizer.");
            if (!double.IsFinite(v) || (ScalarNames[k] == "step" && (v < 0 || v != Math.Floor(v))))
                throw new ArgumentOutOfRangeException(nameof(scalarState), $"{Name}.SetState: the saved {name} is {v}; it must be {(ScalarNames[k] == "step" ? "a whole number ≥ 0" : "finite")}. The checkpoint is corrupt or was edited.");
            restoredScalars.Add((false, i * scalarSlots + k, v));
        }
        foreach (var (slot, t) in restoredTensors)
        {
            ref var h = ref state[slot];
            if (h != 0) Native.dsl_tensor_free(h);
            h = Errors.T(Native.dsl_shape_clone(t), "optimizer.set_state", t).DetachFromScope().ReleaseHandle();
        }
        foreach (var (isHyper, index, v) in restoredScalars)
            if (isHyper) hyper[index] = v;
            else scalars[index] = v;
    }

    /// <summary>Frees the optimizer's state tensors.</summary>
    public void Dispose()
    {
        FreeState();
        GC.SuppressFinalize(this);
    }

    void FreeState()
    {
        var s = Interlocked.Exchange(ref state, Array.Empty<nint>());
        if (s is null) return;   // a constructor rejected its arguments before the state existed
        foreach (var h in s) if (h != 0) Native.dsl_tensor_free(h);
    }

    /// <summary>Backstop only.</summary>
    ~Optimizer() => FreeState();
}

/// <summary>Gradient clipping over a set of parameters, in one native call each.</summary>
public static unsafe class GradClip
{
    /// <summary>Scales the gradients so that their joint <paramref name="normType"/>-norm is at most <paramref name="maxNorm"/>; returns the norm before clipping.</summary>
    public static double Norm(IReadOnlyList<Tensor> parameters, double maxNorm, double normType = 2)
    {
        using var hs = new HandleArray(parameters, "clip_grad_norm");
        double total;
        fixed (nint* p = hs.Raw)
            if (Native.dsl_optim_clip_grad_norm(p, parameters.Count, maxNorm, normType, &total) < 0) throw Errors.Fail("clip_grad_norm", parameters);
        return total;
    }

    /// <summary>Clamps every gradient element to [−clip, clip].</summary>
    public static void Value(IReadOnlyList<Tensor> parameters, double clip)
    {
        using var hs = new HandleArray(parameters, "clip_grad_value");
        fixed (nint* p = hs.Raw)
            if (Native.dsl_optim_clip_grad_value(p, parameters.Count, clip) < 0) throw Errors.Fail("clip_grad_value", parameters);
    }
}
