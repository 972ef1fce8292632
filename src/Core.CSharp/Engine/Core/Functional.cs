using Dsl.Engine.Interop;

namespace Dsl.Engine;

/// <summary>How a loss reduces its per-element values (the values are libtorch's codes).</summary>
public enum Reduction
{
    /// <summary>Per-element losses.</summary>
    None = 0,
    /// <summary>Their mean (weighted mean for weighted cross-entropy, as in PyTorch).</summary>
    Mean = 1,
    /// <summary>Their sum.</summary>
    Sum = 2,
}

/// <summary>Padding modes of <see cref="Functional.Pad"/>.</summary>
public enum PadMode
{
    /// <summary>Fill with a constant.</summary>
    Constant = 0,
    /// <summary>Mirror without repeating the edge.</summary>
    Reflect = 1,
    /// <summary>Repeat the edge.</summary>
    Replicate = 2,
    /// <summary>Wrap around.</summary>
    Circular = 3,
}

/// <summary>Resampling modes of <see cref="Functional.Interpolate"/> and of image resizing (Dsl.Data's images and transforms).</summary>
public enum InterpolationMode
{
    /// <summary>Nearest neighbour (torch's mode="nearest").</summary>
    Nearest = 0,
    /// <summary>Bilinear (mode="bilinear").</summary>
    Bilinear = 1,
    /// <summary>Bicubic (mode="bicubic", a = −0.75); may overshoot the input range.</summary>
    Bicubic = 2,
    /// <summary>Area averaging (mode="area", adaptive average pooling): for shrinking without aliasing.</summary>
    Area = 3,
}

/// <summary>
/// Neural-network functions, like <c>torch.nn.functional</c>: convolution, pooling, dropout,
/// normalisation, embedding, padding, resizing, activations and losses. Layouts are PyTorch's
/// (NCHW for images, [out, in, kh, kw] for conv weights).
/// </summary>
public static unsafe class Functional
{
    static readonly string[] ActivationNames = OpNames.Of<ActivationOp>(OpFamily.Activation);
    static readonly string[] LossNames = OpNames.Of<RegressionLossOp>(OpFamily.RegressionLoss).Select(n => n + "_loss").ToArray();

    // ---- linear and convolution ----

    /// <summary>x·Wᵀ + b, with W of shape [out, in].</summary>
    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias = null) =>
        Errors.T(Native.dsl_math_linear(x, weight, Tensor.Optional(bias, "linear")), "linear", x, weight, bias);

    /// <summary>1-D convolution of [N, C, L] input with [out, C/groups, k] weights. <paramref name="same"/> pads so the output length equals the input's (stride 1).</summary>
    public static Tensor Conv1d(Tensor x, Tensor weight, Tensor? bias = null, long stride = 1, long padding = 0, long dilation = 1, long groups = 1, bool same = false) =>
        Errors.T(Native.dsl_nn_conv1d(x, weight, Tensor.Optional(bias, "conv1d"), stride, padding, dilation, groups, same ? 1 : 0), "conv1d", x, weight, bias);

    /// <summary>2-D convolution of [N, C, H, W] input with [out, C/groups, kh, kw] weights. <paramref name="same"/> pads so the output size equals the input's (stride 1).</summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias = null, (long H, long W)? stride = null, (long H, long W)? padding = null,
                                (long H, long W)? dilation = null, long groups = 1, bool same = false)
    {
        var s = stride ?? (1, 1); var p = padding ?? (0, 0); var d = dilation ?? (1, 1);
        return Errors.T(Native.dsl_nn_conv2d(x, weight, Tensor.Optional(bias, "conv2d"), s.H, s.W, p.H, p.W, d.H, d.W, groups, same ? 1 : 0), "conv2d", x, weight, bias);
    }

    /// <summary>2-D convolution with square stride, padding and dilation.</summary>
    public static Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, long stride, long padding = 0, long dilation = 1, long groups = 1) =>
        Conv2d(x, weight, bias, (stride, stride), (padding, padding), (dilation, dilation), groups);

    /// <summary>Transposed 2-D convolution ("deconvolution") with [in, out/groups, kh, kw] weights.</summary>
    public static Tensor ConvTranspose2d(Tensor x, Tensor weight, Tensor? bias = null, (long H, long W)? stride = null, (long H, long W)? padding = null,
                                         (long H, long W)? outputPadding = null, long groups = 1, (long H, long W)? dilation = null)
    {
        var s = stride ?? (1, 1); var p = padding ?? (0, 0); var o = outputPadding ?? (0, 0); var d = dilation ?? (1, 1);
        return Errors.T(Native.dsl_nn_conv_transpose2d(x, weight, Tensor.Optional(bias, "conv_transpose2d"), s.H, s.W, p.H, p.W, o.H, o.W, groups, d.H, d.W), "conv_transpose2d", x, weight, bias);
    }

    // ---- pooling ----

    /// <summary>2-D max pooling; the stride defaults to the kernel size.</summary>
    public static Tensor MaxPool2d(Tensor x, (long H, long W) kernel, (long H, long W)? stride = null, (long H, long W)? padding = null,
                                   (long H, long W)? dilation = null, bool ceilMode = false)
    {
        var s = stride ?? kernel; var p = padding ?? (0, 0); var d = dilation ?? (1, 1);
        return Errors.T(Native.dsl_nn_max_pool2d(x, kernel.H, kernel.W, s.H, s.W, p.H, p.W, d.H, d.W, ceilMode ? 1 : 0), "max_pool2d", x);
    }

    /// <summary>2-D max pooling with a square kernel (stride = kernel).</summary>
    public static Tensor MaxPool2d(Tensor x, long kernel) => MaxPool2d(x, (kernel, kernel));

    /// <summary>2-D average pooling; the stride defaults to the kernel size.</summary>
    public static Tensor AvgPool2d(Tensor x, (long H, long W) kernel, (long H, long W)? stride = null, (long H, long W)? padding = null,
                                   bool ceilMode = false, bool countIncludePad = true)
    {
        var s = stride ?? kernel; var p = padding ?? (0, 0);
        return Errors.T(Native.dsl_nn_avg_pool2d(x, kernel.H, kernel.W, s.H, s.W, p.H, p.W, ceilMode ? 1 : 0, countIncludePad ? 1 : 0), "avg_pool2d", x);
    }

    /// <summary>Average pooling to a fixed output size.</summary>
    public static Tensor AdaptiveAvgPool2d(Tensor x, (long H, long W) outputSize) =>
        Errors.T(Native.dsl_nn_adaptive_avg_pool2d(x, outputSize.H, outputSize.W), "adaptive_avg_pool2d", x);

    // ---- regularisation and normalisation ----

    /// <summary>
    /// Dropout: in training, zeroes each element with probability <paramref name="p"/> (the drop rate,
    /// as in PyTorch and Keras) and scales the rest by 1/(1−p); otherwise the identity. CPU masks come from a
    /// counter-based generator keyed by one draw from <paramref name="generator"/> (see <see cref="Torch.CounterDropout"/>).
    /// </summary>
    public static Tensor Dropout(Tensor x, double p, bool training, Generator? generator = null)
    {
        if (!(p >= 0 && p <= 1)) throw Errors.Bad("dropout", $"rate p={p} must lie in [0, 1] (it is the probability of dropping).", x);
        return Errors.T(Native.dsl_nn_dropout(x, p, training ? 1 : 0, Generator.H(generator)), "dropout", generator, x);
    }

    /// <summary>
    /// Batch normalisation over [N, C, ...]. In training it normalises with the batch statistics and
    /// updates the running statistics in place (running = (1−momentum)·running + momentum·batch, with
    /// the unbiased batch variance); in eval it uses the running statistics.
    /// </summary>
    public static Tensor BatchNorm(Tensor x, Tensor? runningMean, Tensor? runningVar, Tensor? weight = null, Tensor? bias = null,
                                   bool training = false, double momentum = 0.1, double eps = 1e-5) =>
        Errors.T(Native.dsl_nn_batch_norm(x, Tensor.Optional(weight, "batch_norm"), Tensor.Optional(bias, "batch_norm"), Tensor.Optional(runningMean, "batch_norm"), Tensor.Optional(runningVar, "batch_norm"), training ? 1 : 0, momentum, eps),
                 "batch_norm", x, runningMean, runningVar, weight, bias);

    /// <summary>Group normalisation of [N, C, ...] with C divisible by <paramref name="groups"/>.</summary>
    public static Tensor GroupNorm(Tensor x, long groups, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5) =>
        Errors.T(Native.dsl_nn_group_norm(x, groups, Tensor.Optional(weight, "group_norm"), Tensor.Optional(bias, "group_norm"), eps), "group_norm", x, weight, bias);

    /// <summary>Layer normalisation over the trailing <paramref name="normalizedShape"/> dimensions.</summary>
    public static Tensor LayerNorm(Tensor x, long[] normalizedShape, Tensor? weight = null, Tensor? bias = null, double eps = 1e-5)
    {
        fixed (long* p = normalizedShape)
            return Errors.T(Native.dsl_nn_layer_norm(x, p, normalizedShape.Length, Tensor.Optional(weight, "layer_norm"), Tensor.Optional(bias, "layer_norm"), eps), "layer_norm", x, weight, bias);
    }

    /// <summary>Rows of <paramref name="weight"/> picked by the int64 <paramref name="indices"/>; the padding row gets no gradient.</summary>
    public static Tensor Embedding(Tensor indices, Tensor weight, long? paddingIdx = null) =>
        Errors.T(Native.dsl_nn_embedding(weight, indices, paddingIdx ?? -1), "embedding", indices, weight);

    /// <summary>Pads the last dimensions: pads = (left, right, top, bottom, ...) as in torch.nn.functional.pad.</summary>
    public static Tensor Pad(Tensor x, long[] pads, PadMode mode = PadMode.Constant, double value = 0)
    {
        fixed (long* p = pads) return Errors.T(Native.dsl_nn_pad(x, p, pads.Length, EnumChecks.Code(mode, "pad", "mode"), value), "pad", x);
    }

    /// <summary>
    /// Resizes [N, C, H, W] float images to <paramref name="size"/> (torch.nn.functional.interpolate with size=(H, W)):
    /// nearest copies the nearest input pixel, bilinear/bicubic interpolate between the 2×2/4×4 nearest ones, area
    /// averages the input pixels each output pixel covers (the one to shrink with). <paramref name="alignCorners"/>
    /// (bilinear and bicubic only) maps the corner pixels' centres onto each other instead of the images' edges.
    /// </summary>
    public static Tensor Interpolate(Tensor x, (long H, long W) size, InterpolationMode mode = InterpolationMode.Nearest, bool alignCorners = false)
    {
        int code = EnumChecks.Code(mode, "interpolate", "mode");
        return Errors.T(Native.dsl_nn_interpolate(x, size.H, size.W, code, alignCorners ? 1 : 0), "interpolate", x);
    }

    // ---- activations ----

    static Tensor Act(ActivationOp op, Tensor x, double a = 0, double b = 0) =>
        Errors.T(Native.dsl_nn_activation((int)op, x, a, b), ActivationNames[(int)op], x);
    static Tensor ActInPlace(ActivationOp op, Tensor x, double a = 0, double b = 0)
    { Errors.S(Native.dsl_nn_activation_((int)op, x, a, b), ActivationNames[(int)op] + "_", x); return x; }

    /// <summary>max(0, x).</summary>
    public static Tensor Relu(Tensor x) => Act(ActivationOp.Relu, x);
    /// <summary>In-place ReLU; returns x.</summary>
    public static Tensor Relu_(Tensor x) => ActInPlace(ActivationOp.Relu, x);
    /// <summary>In-place leaky ReLU; returns x.</summary>
    public static Tensor LeakyRelu_(Tensor x, double negativeSlope = 0.01) => ActInPlace(ActivationOp.LeakyRelu, x, negativeSlope);
    /// <summary>In-place ELU; returns x.</summary>
    public static Tensor Elu_(Tensor x, double alpha = 1.0) => ActInPlace(ActivationOp.Elu, x, alpha);
    /// <summary>In-place SELU; returns x.</summary>
    public static Tensor Selu_(Tensor x) => ActInPlace(ActivationOp.Selu, x);
    /// <summary>In-place SiLU; returns x.</summary>
    public static Tensor Silu_(Tensor x) => ActInPlace(ActivationOp.Silu, x);
    /// <summary>In-place tanh; returns x.</summary>
    public static Tensor Tanh_(Tensor x) => ActInPlace(ActivationOp.Tanh, x);
    /// <summary>In-place logistic sigmoid; returns x.</summary>
    public static Tensor Sigmoid_(Tensor x) => ActInPlace(ActivationOp.Sigmoid, x);
    /// <summary>In-place Mish; returns x.</summary>
    public static Tensor Mish_(Tensor x) => ActInPlace(ActivationOp.Mish, x);
    /// <summary>In-place clamp to [min, max]; returns x.</summary>
    public static Tensor Hardtanh_(Tensor x, double min = -1, double max = 1) => ActInPlace(ActivationOp.Hardtanh, x, min, max);
    /// <summary>In-place min(max(0, x), 6); returns x.</summary>
    public static Tensor Relu6_(Tensor x) => ActInPlace(ActivationOp.Relu6, x);
    /// <summary>In-place hard swish; returns x.</summary>
    public static Tensor Hardswish_(Tensor x) => ActInPlace(ActivationOp.Hardswish, x);
    /// <summary>In-place hard sigmoid; returns x.</summary>
    public static Tensor Hardsigmoid_(Tensor x) => ActInPlace(ActivationOp.Hardsigmoid, x);
    /// <summary>x for x ≥ 0, slope·x otherwise (PyTorch's default slope 0.01).</summary>
    public static Tensor LeakyRelu(Tensor x, double negativeSlope = 0.01) => Act(ActivationOp.LeakyRelu, x, negativeSlope);
    /// <summary>x for x &gt; 0, α(eˣ − 1) otherwise.</summary>
    public static Tensor Elu(Tensor x, double alpha = 1.0) => Act(ActivationOp.Elu, x, alpha);
    /// <summary>Scaled ELU with the self-normalising constants.</summary>
    public static Tensor Selu(Tensor x) => Act(ActivationOp.Selu, x);
    /// <summary>Gaussian error linear unit, exact or with the tanh approximation.</summary>
    public static Tensor Gelu(Tensor x, bool tanhApproximation = false) => Act(ActivationOp.Gelu, x, tanhApproximation ? 1 : 0);
    /// <summary>x·σ(x) (swish).</summary>
    public static Tensor Silu(Tensor x) => Act(ActivationOp.Silu, x);
    /// <summary>Hyperbolic tangent.</summary>
    public static Tensor Tanh(Tensor x) => Act(ActivationOp.Tanh, x);
    /// <summary>Logistic sigmoid 1/(1 + e⁻ˣ).</summary>
    public static Tensor Sigmoid(Tensor x) => Act(ActivationOp.Sigmoid, x);
    /// <summary>log(1 + e^(βx))/β, linear above the threshold.</summary>
    public static Tensor Softplus(Tensor x, double beta = 1, double threshold = 20) => Act(ActivationOp.Softplus, x, beta, threshold);
    /// <summary>x·tanh(softplus(x)).</summary>
    public static Tensor Mish(Tensor x) => Act(ActivationOp.Mish, x);
    /// <summary>Clamp to [min, max].</summary>
    public static Tensor Hardtanh(Tensor x, double min = -1, double max = 1) => Act(ActivationOp.Hardtanh, x, min, max);
    /// <summary>min(max(0, x), 6).</summary>
    public static Tensor Relu6(Tensor x) => Act(ActivationOp.Relu6, x);
    /// <summary>x/(1 + |x|).</summary>
    public static Tensor Softsign(Tensor x) => Act(ActivationOp.Softsign, x);
    /// <summary>x·relu6(x + 3)/6.</summary>
    public static Tensor Hardswish(Tensor x) => Act(ActivationOp.Hardswish, x);
    /// <summary>relu6(x + 3)/6.</summary>
    public static Tensor Hardsigmoid(Tensor x) => Act(ActivationOp.Hardsigmoid, x);
    /// <summary>max(0, x) + min(0, α(e^(x/α) − 1)).</summary>
    public static Tensor Celu(Tensor x, double alpha = 1) => Act(ActivationOp.Celu, x, alpha);
    /// <summary>log σ(x), computed stably.</summary>
    public static Tensor LogSigmoid(Tensor x) => Act(ActivationOp.LogSigmoid, x);
    /// <summary>Softmax along <paramref name="dim"/>.</summary>
    public static Tensor Softmax(Tensor x, long dim) => Errors.T(Native.dsl_nn_softmax(x, dim, 0), "softmax", x);
    /// <summary>log(softmax(x)) along <paramref name="dim"/>, computed stably.</summary>
    public static Tensor LogSoftmax(Tensor x, long dim) => Errors.T(Native.dsl_nn_softmax(x, dim, 1), "log_softmax", x);

    // ---- losses ----

    /// <summary>
    /// Cross-entropy of logits [N, C, ...] against int64 class indices [N, ...] (or class probabilities
    /// of the logits' shape), with optional class <paramref name="weight"/>, <paramref name="labelSmoothing"/>
    /// and an <paramref name="ignoreIndex"/> whose targets contribute nothing.
    /// </summary>
    public static Tensor CrossEntropy(Tensor logits, Tensor target, Tensor? weight = null, Reduction reduction = Reduction.Mean,
                                      long ignoreIndex = -100, double labelSmoothing = 0) =>
        Errors.T(Native.dsl_nn_cross_entropy(logits, target, Tensor.Optional(weight, "cross_entropy"), EnumChecks.Code(reduction, "cross_entropy", "reduction"), ignoreIndex, labelSmoothing), "cross_entropy", logits, target, weight);

    /// <summary>Negative log-likelihood of log-probabilities [N, C, ...] against int64 class indices.</summary>
    public static Tensor NllLoss(Tensor logProbs, Tensor target, Tensor? weight = null, Reduction reduction = Reduction.Mean, long ignoreIndex = -100) =>
        Errors.T(Native.dsl_nn_nll_loss(logProbs, target, Tensor.Optional(weight, "nll_loss"), EnumChecks.Code(reduction, "nll_loss", "reduction"), ignoreIndex), "nll_loss", logProbs, target, weight);

    /// <summary>Binary cross-entropy of probabilities in (0, 1) against targets in [0, 1].</summary>
    public static Tensor BinaryCrossEntropy(Tensor probs, Tensor target, Tensor? weight = null, Reduction reduction = Reduction.Mean) =>
        Errors.T(Native.dsl_nn_binary_cross_entropy(probs, target, Tensor.Optional(weight, "binary_cross_entropy"), EnumChecks.Code(reduction, "binary_cross_entropy", "reduction")), "binary_cross_entropy", probs, target, weight);

    /// <summary>Binary cross-entropy on logits (stable), with optional element <paramref name="weight"/> and positive-class <paramref name="posWeight"/>.</summary>
    public static Tensor BinaryCrossEntropyWithLogits(Tensor logits, Tensor target, Tensor? weight = null, Tensor? posWeight = null, Reduction reduction = Reduction.Mean) =>
        Errors.T(Native.dsl_nn_bce_with_logits(logits, target, Tensor.Optional(weight, "binary_cross_entropy_with_logits"), Tensor.Optional(posWeight, "binary_cross_entropy_with_logits"), EnumChecks.Code(reduction, "binary_cross_entropy_with_logits", "reduction")), "binary_cross_entropy_with_logits", logits, target, weight, posWeight);

    static Tensor Regression(RegressionLossOp op, Tensor x, Tensor t, Reduction r, double param) =>
        Errors.T(Native.dsl_nn_regression_loss((int)op, x, t, EnumChecks.Code(r, LossNames[(int)op], "reduction"), param), LossNames[(int)op], x, t);

    /// <summary>Mean squared error.</summary>
    public static Tensor MseLoss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean) => Regression(RegressionLossOp.Mse, input, target, reduction, 0);
    /// <summary>Mean absolute error.</summary>
    public static Tensor L1Loss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean) => Regression(RegressionLossOp.L1, input, target, reduction, 0);
    /// <summary>Smooth L1: quadratic below <paramref name="beta"/>, linear above (divided by beta).</summary>
    public static Tensor SmoothL1Loss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean, double beta = 1.0) => Regression(RegressionLossOp.SmoothL1, input, target, reduction, beta);
    /// <summary>Huber: quadratic below <paramref name="delta"/>, linear above (not divided).</summary>
    public static Tensor HuberLoss(Tensor input, Tensor target, Reduction reduction = Reduction.Mean, double delta = 1.0) => Regression(RegressionLossOp.Huber, input, target, reduction, delta);
}
