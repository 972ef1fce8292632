using Dsl.Engine.Interop;

namespace Dsl.Engine;

public sealed unsafe partial class Tensor
{
    /// <summary>Whether autograd records operations on this tensor.</summary>
    public bool RequiresGrad
    {
        get => Errors.S(Native.dsl_autograd_requires_grad(this), "requires_grad", this) == 1;
        set => Errors.S(Native.dsl_autograd_set_requires_grad(this, value ? 1 : 0), "requires_grad_", this);
    }

    /// <summary>Sets <see cref="RequiresGrad"/> and returns this.</summary>
    public Tensor RequiresGrad_(bool requiresGrad = true) { RequiresGrad = requiresGrad; return this; }

    /// <summary>True for tensors created by the user rather than by a recorded op.</summary>
    public bool IsLeaf => Errors.S(Native.dsl_autograd_is_leaf(this), "is_leaf", this) == 1;

    /// <summary>
    /// Accumulates d(this)/d(leaf) into each leaf's <see cref="Grad"/>. A non-scalar tensor needs
    /// <paramref name="gradient"/> (the vector in the vector-Jacobian product).
    /// </summary>
    public void Backward(Tensor? gradient = null, bool retainGraph = false, bool createGraph = false) =>
        Errors.S(Native.dsl_autograd_backward(this, Optional(gradient, "backward"), retainGraph ? 1 : 0, createGraph ? 1 : 0), "backward", this, gradient);

    /// <summary>The accumulated gradient, or null when none has been computed. Each read returns a new handle.</summary>
    public Tensor? Grad
    {
        get
        {
            nint g;
            Errors.S(Native.dsl_autograd_get_grad(this, &g), "grad", this);
            return g == 0 ? null : new Tensor(g);
        }
        set => Errors.S(Native.dsl_autograd_set_grad(this, Optional(value, "set_grad")), "set_grad", this, value);
    }

    /// <summary>Clears the gradient: drops it (the default, as PyTorch 2 does) or fills it with zeros.</summary>
    public void ZeroGrad(bool setToNone = true) => Errors.S(Native.dsl_autograd_zero_grad(this, setToNone ? 1 : 0), "zero_grad", this);

    /// <summary>The same data cut from the autograd graph.</summary>
    public Tensor Detach() => Errors.T(Native.dsl_autograd_detach(this), "detach", this);
}

/// <summary>
/// Autograd beyond <see cref="Tensor.Backward"/>: gradients as values (torch.autograd.grad), with
/// <c>createGraph</c> for higher derivatives, and a no-grad scope.
/// </summary>
/// <remarks>Grad mode is per thread, as in libtorch: a <see cref="NoGrad"/> scope affects only the thread that opened it.</remarks>
public static unsafe class Autograd
{
    /// <summary>
    /// d(Σ outputs·gradOutputs)/d(inputs), returned rather than accumulated. With
    /// <paramref name="createGraph"/> the results are themselves differentiable, so a second call gives
    /// second derivatives (Hessian-vector products). An input the outputs do not depend on gives null
    /// when <paramref name="allowUnused"/>, and an error otherwise.
    /// </summary>
    public static Tensor?[] Grad(IReadOnlyList<Tensor> outputs, IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor?>? gradOutputs = null,
                                 bool retainGraph = false, bool createGraph = false, bool allowUnused = false)
    {
        if (gradOutputs is not null && gradOutputs.Count != outputs.Count)
            throw Errors.Bad("autograd.grad", $"{outputs.Count} outputs but {gradOutputs.Count} grad_outputs; give one per output (or none).");
        using var outs = new HandleArray(outputs, "autograd.grad");
        using var gouts = new HandleArray(outputs.Select((_, i) => gradOutputs?[i]).ToArray(), "autograd.grad", allowNull: true);
        using var ins = new HandleArray(inputs, "autograd.grad");
        var res = new nint[inputs.Count];
        int rc;
        fixed (nint* o = outs.Raw, g = gouts.Raw, i = ins.Raw, r = res)
            rc = Native.dsl_autograd_grad(o, g, outputs.Count, i, inputs.Count, retainGraph ? 1 : 0, createGraph ? 1 : 0, allowUnused ? 1 : 0, r);
        if (rc < 0) throw Errors.Fail("autograd.grad", outputs.Concat(inputs));
        return res.Select(h => h == 0 ? null : new Tensor(h)).ToArray();
    }

    /// <summary>Single output, single input form of <see cref="Grad(IReadOnlyList{Tensor}, IReadOnlyList{Tensor}, IReadOnlyList{Tensor?}?, bool, bool, bool)"/>.</summary>
    public static Tensor Grad(Tensor output, Tensor input, Tensor? gradOutput = null, bool retainGraph = false, bool createGraph = false) =>
        Grad(new[] { output }, new[] { input }, new[] { gradOutput }, retainGraph, createGraph, allowUnused: false)[0]!;

    /// <summary>True when operations are being recorded on this thread.</summary>
    public static bool IsGradEnabled => Native.dsl_autograd_grad_enabled() == 1;

    /// <summary>Turns recording off on this thread until the returned scope is disposed (then restores the previous mode).</summary>
    public static IDisposable NoGrad() => new GradModeScope(false);

    /// <summary>Turns recording on on this thread until the returned scope is disposed.</summary>
    public static IDisposable EnableGrad() => new GradModeScope(true);

    sealed class GradModeScope : IDisposable
    {
        readonly bool previous;
        bool done;
        internal GradModeScope(bool enabled) => previous = Native.dsl_autograd_set_grad_enabled(enabled ? 1 : 0) == 1;
        public void Dispose() { if (!done) { done = true; Native.dsl_autograd_set_grad_enabled(previous ? 1 : 0); } }
    }
}
