using System.Runtime.InteropServices;

namespace Dsl.Engine.Interop;

internal static unsafe partial class Native
{
    [LibraryImport(Lib)] internal static partial nint dsl_nn_conv1d(nint x, nint w, nint b, long stride, long padding, long dilation, long groups, int same);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_conv2d(nint x, nint w, nint b, long strideH, long strideW, long padH, long padW, long dilationH, long dilationW, long groups, int same);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_conv_transpose2d(nint x, nint w, nint b, long strideH, long strideW, long padH, long padW, long outPadH, long outPadW, long groups, long dilationH, long dilationW);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_max_pool2d(nint x, long kernelH, long kernelW, long strideH, long strideW, long padH, long padW, long dilationH, long dilationW, int ceilMode);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_avg_pool2d(nint x, long kernelH, long kernelW, long strideH, long strideW, long padH, long padW, int ceilMode, int countIncludePad);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_adaptive_avg_pool2d(nint x, long outH, long outW);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_dropout(nint x, double p, int training, nint g);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_batch_norm(nint x, nint weight, nint bias, nint runningMean, nint runningVar, int training, double momentum, double eps);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_group_norm(nint x, long groups, nint weight, nint bias, double eps);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_layer_norm(nint x, long* normalizedShape, int n, nint weight, nint bias, double eps);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_embedding(nint weight, nint indices, long paddingIdx);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_pad(nint x, long* pads, int n, int mode, double value);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_interpolate(nint x, long outH, long outW, int mode, int alignCorners);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_activation(int op, nint x, double a, double b);
    [LibraryImport(Lib)] internal static partial int dsl_nn_activation_(int op, nint x, double a, double b);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_softmax(nint x, long dim, int log);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_cross_entropy(nint logits, nint target, nint weight, int reduction, long ignoreIndex, double labelSmoothing);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_nll_loss(nint logProbs, nint target, nint weight, int reduction, long ignoreIndex);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_binary_cross_entropy(nint probs, nint target, nint weight, int reduction);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_bce_with_logits(nint logits, nint target, nint weight, nint posWeight, int reduction);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_regression_loss(int op, nint input, nint target, int reduction, double param);
}
