using System.Runtime.InteropServices;

namespace Dsl.Engine.Interop;

internal static unsafe partial class Native
{
    [LibraryImport(Lib)] internal static partial nint dsl_nn_conv1d(Tensor x, Tensor w, Tensor? b, long stride, long padding, long dilation, long groups, int same);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_conv2d(Tensor x, Tensor w, Tensor? b, long strideH, long strideW, long padH, long padW, long dilationH, long dilationW, long groups, int same);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_conv_transpose2d(Tensor x, Tensor w, Tensor? b, long strideH, long strideW, long padH, long padW, long outPadH, long outPadW, long groups, long dilationH, long dilationW);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_max_pool2d(Tensor x, long kernelH, long kernelW, long strideH, long strideW, long padH, long padW, long dilationH, long dilationW, int ceilMode);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_avg_pool2d(Tensor x, long kernelH, long kernelW, long strideH, long strideW, long padH, long padW, int ceilMode, int countIncludePad);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_adaptive_avg_pool2d(Tensor x, long outH, long outW);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_dropout(Tensor x, double p, int training, nint g);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_batch_norm(Tensor x, Tensor? weight, Tensor? bias, Tensor? runningMean, Tensor? runningVar, int training, double momentum, double eps);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_group_norm(Tensor x, long groups, Tensor? weight, Tensor? bias, double eps);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_layer_norm(Tensor x, long* normalizedShape, int n, Tensor? weight, Tensor? bias, double eps);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_embedding(Tensor? weight, Tensor indices, long paddingIdx);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_pad(Tensor x, long* pads, int n, int mode, double value);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_interpolate(Tensor x, long outH, long outW, int mode, int alignCorners);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_activation(int op, Tensor x, double a, double b);
    [LibraryImport(Lib)] internal static partial int dsl_nn_activation_(int op, Tensor x, double a, double b);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_softmax(Tensor x, long dim, int log);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_cross_entropy(Tensor logits, Tensor target, Tensor? weight, int reduction, long ignoreIndex, double labelSmoothing);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_nll_loss(Tensor logProbs, Tensor target, Tensor? weight, int reduction, long ignoreIndex);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_binary_cross_entropy(Tensor probs, Tensor target, Tensor? weight, int reduction);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_bce_with_logits(Tensor logits, Tensor target, Tensor? weight, Tensor? posWeight, int reduction);
    [LibraryImport(Lib)] internal static partial nint dsl_nn_regression_loss(int op, Tensor input, Tensor target, int reduction, double param);
}
