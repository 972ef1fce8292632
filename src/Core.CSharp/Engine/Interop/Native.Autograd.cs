using System.Runtime.InteropServices;

namespace Dsl.Engine.Interop;

internal static unsafe partial class Native
{
    [LibraryImport(Lib)] internal static partial int dsl_autograd_requires_grad(nint t);
    [LibraryImport(Lib)] internal static partial int dsl_autograd_set_requires_grad(nint t, int requiresGrad);
    [LibraryImport(Lib)] internal static partial int dsl_autograd_is_leaf(nint t);
    [LibraryImport(Lib)] internal static partial int dsl_autograd_backward(nint t, nint gradient, int retainGraph, int createGraph);
    [LibraryImport(Lib)] internal static partial int dsl_autograd_get_grad(nint t, nint* grad);
    [LibraryImport(Lib)] internal static partial int dsl_autograd_set_grad(nint t, nint grad);
    [LibraryImport(Lib)] internal static partial int dsl_autograd_zero_grad(nint t, int setToNone);
    [LibraryImport(Lib)] internal static partial nint dsl_autograd_detach(nint t);
    [LibraryImport(Lib)] internal static partial int dsl_autograd_grad_enabled();
    [LibraryImport(Lib)] internal static partial int dsl_autograd_set_grad_enabled(int enabled);
    [LibraryImport(Lib)] internal static partial int dsl_autograd_grad(nint* outputs, nint* gradOutputs, int nOutputs, nint* inputs, int nInputs, int retainGraph, int createGraph, int allowUnused, nint* results);
}
