using System.Runtime.InteropServices;

namespace Dsl.Engine.Interop;

internal static unsafe partial class Native
{
    [LibraryImport(Lib)] internal static partial int dsl_autograd_requires_grad(Tensor t);
    [LibraryImport(Lib)] internal static partial int dsl_autograd_set_requires_grad(Tensor t, int requiresGrad);
    [LibraryImport(Lib)] internal static partial int dsl_autograd_is_leaf(Tensor t);
    [LibraryImport(Lib)] internal static partial int dsl_autograd_backward(Tensor t, Tensor? gradient, int retainGraph, int createGraph);
    [LibraryImport(Lib)] internal static partial int dsl_autograd_get_grad(Tensor t, nint* grad);
    [LibraryImport(Lib)] internal static partial int dsl_autograd_set_grad(Tensor t, Tensor? grad);
    [LibraryImport(Lib)] internal static partial int dsl_autograd_zero_grad(Tensor t, int setToNone);
    [LibraryImport(Lib)] internal static partial nint dsl_autograd_detach(Tensor t);
    [LibraryImport(Lib)] internal static partial int dsl_autograd_grad_enabled();
    [LibraryImport(Lib)] internal static partial int dsl_autograd_set_grad_enabled(int enabled);
    [LibraryImport(Lib)] internal static partial int dsl_autograd_grad(nint* outputs, nint* gradOutputs, int nOutputs, nint* inputs, int nInputs, int retainGraph, int createGraph, int allowUnused, nint* results);
}
