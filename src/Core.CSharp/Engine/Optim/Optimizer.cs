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
    readonly double[] scalars;
    nint[] state;
    readonly int slots, scalarSlots;

    /// <summary>The names of the per-parameter state tensors, in slot order.</summary>
    protected abstract string[] SlotNames { get; }
    /// <summary>The names of the per-parameter scalar state (such as the step count).</summary>
    protected abstract string[] ScalarNames { get; }

    private protected Optimizer(int kind, IEnumerable<Tensor> parameters, double[] hyper)
    {
        this.kind = kind;
        this.parameters = parameters.Where(p => p.RequiresGrad).ToArray();
        this.hyper = hyper;
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

    /// <summary>The optimized parameters (those that require grad), in order.</summary>
    public IReadOnlyList<Tensor> Parameters => parameters;

    /// <summary>The learning rate; schedules change it between steps.</summary>
    public double LearningRate
    {
        get => hyper[0];
        set => hyper[0] = value >= 0 ? value : throw new ArgumentOutOfRangeException(nameof(value), $"{Name}: learning rate must be ≥ 0, got {value}.");
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

    /// <summary>Restores state taken with <see cref="GetState"/> from an optimizer of the same kind over parameters of the same shapes.</summary>
    public void SetState(IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, double> scalarState)
    {
        foreach (var (name, t) in tensors)
        {
            var parts = name.Split('.');
            int i = int.Parse(parts[0]), k = Array.IndexOf(SlotNames, parts[1]);
            if (i < 0 || i >= parameters.Length || k < 0)
                throw new ArgumentException($"{Name}.SetState: state '{name}' does not belong to this optimizer ({parameters.Length} parameters, slots {string.Join(", ", SlotNames)}).");
            ref var h = ref state[i * slots + k];
            if (h != 0) Native.dsl_tensor_free(h);
            h = Errors.T(Native.dsl_shape_clone(t), "optimizer.set_state", t).DetachFromScope().ReleaseHandle();
        }
        foreach (var (name, v) in scalarState)
        {
            var parts = name.Split('.');
            if (parts[0] == "hyper") { hyper[int.Parse(parts[1])] = v; continue; }
            int i = int.Parse(parts[0]), k = Array.IndexOf(ScalarNames, parts[1]);
            if (i < 0 || i >= parameters.Length || k < 0) throw new ArgumentException($"{Name}.SetState: scalar '{name}' does not belong to this optimizer.");
            scalars[i * scalarSlots + k] = v;
        }
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
