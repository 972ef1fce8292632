using System.Runtime.InteropServices;

namespace Dsl.Engine.Interop;

internal static unsafe partial class Native
{
    [LibraryImport(Lib)] internal static partial int dsl_optim_layout(int kind, int* hyper, int* slots, int* scalars);
    [LibraryImport(Lib)] internal static partial int dsl_optim_step(int kind, nint* parameters, int n, nint* state, double* hyper, int nHyper, double* scalars);
    [LibraryImport(Lib)] internal static partial int dsl_optim_zero_grad(nint* parameters, int n, int setToNone);
    [LibraryImport(Lib)] internal static partial int dsl_optim_clip_grad_norm(nint* parameters, int n, double maxNorm, double normType, double* totalNorm);
    [LibraryImport(Lib)] internal static partial int dsl_optim_clip_grad_value(nint* parameters, int n, double clip);
}
