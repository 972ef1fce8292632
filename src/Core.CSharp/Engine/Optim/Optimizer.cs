using Dsl.Engine.Interop;

namespace Dsl.Engine.Optim;

/// <summary>
/// Base of the optimizers. A step updates every parameter in one native call (the rules follow
/// torch.optim; parameters without a gradient are skipped). State tensors (moments, buffers) are
/// created on the first step and owned by the optimizer until it is disposed; they can be read and
/// restored for checkpoints. Only parameters that require grad are optimized, so frozen ones are excluded.
/// Parameters form groups, as torch.optim's param_groups: the constructor's parameters are group 0, with the
/// constructor's learning rate, and <see cref="AddParamGroup"/> adds groups with their own rates; every other
/// hyper-parameter is shared.
/// </summary>
public abstract unsafe class Optimizer : IDisposable
{
    readonly int kind;
    Tensor[] parameters;
    readonly double[] hyper;
    readonly Hyper[] hyperRules;
    double[] scalars;
    nint[] state;
    readonly int slots, scalarSlots;
    // Group g holds parameters [groupStart[g], groupStart[g + 1]); its learning rate is groupLr[g] (hyper[0] mirrors group 0's).
    readonly List<int> groupStart = new() { 0 };
    readonly List<double> groupLr = new();

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
        groupStart.Add(this.parameters.Length);
        groupLr.Add(this.hyper[0]);
    }

    /// <summary>A readable name ("Adam", "SGD", ...).</summary>
    public string Name => GetType().Name;

    /// <summary>The hyper-parameters by name with their current values (the learning rate first), for reports.</summary>
    public IReadOnlyList<KeyValuePair<string, double>> HyperParameters =>
        hyperRules.Select((h, i) => new KeyValuePair<string, double>(h.Name, hyper[i])).ToArray();

    /// <summary>The optimized parameters (those that require grad), in order.</summary>
    public IReadOnlyList<Tensor> Parameters => parameters;

    /// <summary>
    /// The learning rate of group 0 (the constructor's parameters); setting it sets every group's rate to the value.
    /// Schedules that keep the groups' ratios set each group with <see cref="SetLearningRate"/>.
    /// </summary>
    public double LearningRate
    {
        get => groupLr[0];
        set
        {
            CheckRate(value);
            for (int g = 0; g < groupLr.Count; g++) groupLr[g] = value;
            hyper[0] = value;
        }
    }

    /// <summary>The number of parameter groups (1 until <see cref="AddParamGroup"/> adds one).</summary>
    public int GroupCount => groupLr.Count;

    /// <summary>The learning rate of each group, in group order.</summary>
    public IReadOnlyList<double> LearningRates => groupLr;

    /// <summary>The parameters of group <paramref name="group"/>, in order.</summary>
    public IReadOnlyList<Tensor> GroupParameters(int group) =>
        new ArraySegment<Tensor>(parameters, groupStart[CheckGroup(group)], groupStart[group + 1] - groupStart[group]);

    /// <summary>The learning rate of group <paramref name="group"/>.</summary>
    public double GetLearningRate(int group) => groupLr[CheckGroup(group)];

    /// <summary>Sets the learning rate of group <paramref name="group"/> (finite and ≥ 0).</summary>
    public void SetLearningRate(int group, double lr)
    {
        CheckGroup(group);
        CheckRate(lr);
        groupLr[group] = lr;
        if (group == 0) hyper[0] = lr;
    }

    /// <summary>
    /// Adds a group of parameters with its own learning rate (torch.optim's add_param_group); the other
    /// hyper-parameters are the optimizer's. Only parameters that require grad join; a parameter already in a group
    /// is an error (as in PyTorch). Returns the new group's index.
    /// </summary>
    public int AddParamGroup(IEnumerable<Tensor> parameters, double lr)
    {
        CheckRate(lr);
        var added = parameters.Where(p => p.RequiresGrad).ToArray();
        var present = new HashSet<Tensor>(this.parameters, ReferenceEqualityComparer.Instance);
        for (int i = 0; i < added.Length; i++)
            if (!present.Add(added[i]))
                throw new ArgumentException($"{Name}.AddParamGroup: parameter {i} of the new group (shape [{string.Join(", ", added[i].Shape)}]) is already in a group of this optimizer; a parameter belongs to one group.");
        int n = this.parameters.Length;
        Array.Resize(ref this.parameters, n + added.Length);
        Array.Copy(added, 0, this.parameters, n, added.Length);
        Array.Resize(ref state, (n + added.Length) * slots);
        Array.Resize(ref scalars, (n + added.Length) * scalarSlots);
        groupStart.Add(n + added.Length);
        groupLr.Add(lr);
        return groupLr.Count - 1;
    }

    int CheckGroup(int group) =>
        group >= 0 && group < groupLr.Count ? group : throw new ArgumentOutOfRangeException(nameof(group), $"{Name}: group {group} does not exist; the optimizer has {groupLr.Count} group(s), 0 to {groupLr.Count - 1}.");

    void CheckRate(double lr)
    {
        if (!double.IsFinite(lr) || lr < 0) throw new ArgumentOutOfRangeException(nameof(lr), $"{Name}: learning rate must be finite and ≥ 0, got {lr}.");
    }

    /// <summary>Applies one update to every parameter with a gradient, each group with its own learning rate.</summary>
    public void Step()
    {
        using var hs = Handles("step");
        var h = (double[])hyper.Clone();
        fixed (nint* p = hs.Raw, st = state)
        fixed (double* hp = h, sc = scalars)
            for (int g = 0; g < groupLr.Count; g++)
            {
                int start = groupStart[g], count = groupStart[g + 1] - start;
                if (count == 0) continue;
                h[0] = groupLr[g];
                Check(Native.dsl_optim_step(kind, p + start, count, st + (nint)start * slots, hp, hyper.Length, sc + (nint)start * scalarSlots), "step");
            }
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
    /// "&lt;param index&gt;.&lt;name&gt;", plus the hyper-parameters, and with several groups each group's learning rate
    /// and size ("group.&lt;g&gt;.lr", "group.&lt;g&gt;.size").
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
        if (groupLr.Count > 1)
            for (int g = 0; g < groupLr.Count; g++)
            {
                sc[$"group.{g}.lr"] = groupLr[g];
                sc[$"group.{g}.size"] = groupStart[g + 1] - groupStart[g];
            }
        return (tensors, sc);
    }

    /// <summary>
    /// Restores state taken with <see cref="GetState"/> from an optimizer of the same kind over parameters of the same
    /// shapes. Everything is checked before anything changes: names and indices, each state tensor's shape against its
    /// parameter's, and every scalar (hyper-parameters by their rules: the learning rate finite and ≥ 0, betas in
    /// [0, 1), flags 0 or 1; step counts finite and ≥ 0). The restored hyper-parameters replace the optimizer's own,
    /// as PyTorch's load_state_dict does. The state's groups must be the optimizer's (their number and sizes); their
    /// learning rates replace the groups' own.
    /// </summary>
    public void SetState(IEnumerable<KeyValuePair<string, Tensor>> tensors, IReadOnlyDictionary<string, double> scalarState)
    {
        // The groups first: another grouping orders the parameters differently, which the shape checks would misname.
        int groupsSaved = scalarState.Keys.Select(k => k.Split('.')).Where(ps => ps.Length == 3 && ps[0] == "group" && int.TryParse(ps[1], out _))
                                     .Select(ps => int.Parse(ps[1]) + 1).DefaultIfEmpty(1).Max();
        if (groupsSaved != groupLr.Count)
            throw new ArgumentException($"{Name}.SetState: the state has {groupsSaved} parameter group(s) but this optimizer has {groupLr.Count}; resume with the parameter groups it was trained with.");
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
        var savedLr = new Dictionary<int, double>();
        var savedSize = new Dictionary<int, double>();
        foreach (var (name, v) in scalarState)
        {
            var parts = name.Split('.');
            if (parts.Length == 3 && parts[0] == "group")
            {
                if (!int.TryParse(parts[1], out int g) || g < 0 || (parts[2] != "lr" && parts[2] != "size"))
                    throw new ArgumentException($"{Name}.SetState: scalar '{name}' does not belong to this optimizer.");
                if (parts[2] == "lr" && Hyper.Problem(Hyper.Rule.NonNegative, v) is { } why)
                    throw new ArgumentOutOfRangeException(nameof(scalarState), $"{Name}.SetState: the saved learning rate of group {g} is {v}; it {why}. The checkpoint is corrupt or was edited.");
                (parts[2] == "lr" ? savedLr : savedSize)[g] = v;
                continue;
            }
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
        int savedGroups = savedLr.Count == 0 && savedSize.Count == 0 ? 1 : Math.Max(savedLr.Keys.DefaultIfEmpty(-1).Max(), savedSize.Keys.DefaultIfEmpty(-1).Max()) + 1;
        if (savedGroups != groupLr.Count)
            throw new ArgumentException($"{Name}.SetState: the state has {savedGroups} parameter group(s) but this optimizer has {groupLr.Count}; resume with the parameter groups it was trained with.");
        if (savedGroups > 1)
            for (int g = 0; g < savedGroups; g++)
            {
                int size = groupStart[g + 1] - groupStart[g];
                if (!savedLr.ContainsKey(g) || !savedSize.TryGetValue(g, out double saved))
                    throw new ArgumentException($"{Name}.SetState: the state lacks the learning rate or size of group {g}. The checkpoint is corrupt or was edited.");
                if (saved != size)
                    throw new ArgumentException($"{Name}.SetState: group {g} of the state holds {saved} parameters but this optimizer's holds {size}; resume with the parameter groups it was trained with.");
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
        if (savedLr.Count > 0)
            foreach (var (g, lr) in savedLr) groupLr[g] = lr;
        else
            groupLr[0] = hyper[0];
        hyper[0] = groupLr[0];
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
