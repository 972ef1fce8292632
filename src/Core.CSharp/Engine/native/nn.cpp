// nn.cpp — convolutions, pooling, normalisation, embedding, padding, resizing,
// activations (op table) and losses.
#include "shim.h"
#include <atomic>

using dsl::T;
using dsl::opt;
using dsl::tensor_op;
using dsl::status_op;

namespace {
// Activations: f(x, a, b) where a and b are the op's scalar parameters (ignored when it has none).
using ActFn = at::Tensor (*)(const at::Tensor&, double, double);
using ActInplaceFn = void (*)(at::Tensor&, double, double);
struct Act { ActFn fn; ActInplaceFn inplace; };
// Order is the op code; the managed enum ActivationOp lists the same names in the same order.
const dsl::OpEntry<Act> kActivation[] = {
    {"relu", {[](const at::Tensor& x, double, double) { return at::relu(x); }, [](at::Tensor& x, double, double) { at::relu_(x); }}},
    {"leaky_relu", {[](const at::Tensor& x, double a, double) { return at::leaky_relu(x, a); }, [](at::Tensor& x, double a, double) { at::leaky_relu_(x, a); }}},
    {"elu", {[](const at::Tensor& x, double a, double) { return at::elu(x, a); }, [](at::Tensor& x, double a, double) { at::elu_(x, a); }}},
    {"selu", {[](const at::Tensor& x, double, double) { return at::selu(x); }, [](at::Tensor& x, double, double) { at::selu_(x); }}},
    {"gelu", {[](const at::Tensor& x, double a, double) { return at::gelu(x, a != 0 ? "tanh" : "none"); }, nullptr}},
    {"silu", {[](const at::Tensor& x, double, double) { return at::silu(x); }, [](at::Tensor& x, double, double) { at::silu_(x); }}},
    {"tanh", {[](const at::Tensor& x, double, double) { return at::tanh(x); }, [](at::Tensor& x, double, double) { at::tanh_(x); }}},
    {"sigmoid", {[](const at::Tensor& x, double, double) { return at::sigmoid(x); }, [](at::Tensor& x, double, double) { at::sigmoid_(x); }}},
    {"softplus", {[](const at::Tensor& x, double a, double b) { return at::softplus(x, a, b); }, nullptr}},
    {"mish", {[](const at::Tensor& x, double, double) { return at::mish(x); }, [](at::Tensor& x, double, double) { at::mish_(x); }}},
    {"hardtanh", {[](const at::Tensor& x, double a, double b) { return at::hardtanh(x, a, b); }, [](at::Tensor& x, double a, double b) { at::hardtanh_(x, a, b); }}},
    {"relu6", {[](const at::Tensor& x, double, double) { return at::hardtanh(x, 0.0, 6.0); }, [](at::Tensor& x, double, double) { at::hardtanh_(x, 0.0, 6.0); }}},
    {"softsign", {[](const at::Tensor& x, double, double) { return x / (x.abs() + 1); }, nullptr}},
    {"hardswish", {[](const at::Tensor& x, double, double) { return at::hardswish(x); }, [](at::Tensor& x, double, double) { at::hardswish_(x); }}},
    {"hardsigmoid", {[](const at::Tensor& x, double, double) { return at::hardsigmoid(x); }, [](at::Tensor& x, double, double) { at::hardsigmoid_(x); }}},
    {"celu", {[](const at::Tensor& x, double a, double) { return at::celu(x, a); }, nullptr}},
    {"log_sigmoid", {[](const at::Tensor& x, double, double) { return at::log_sigmoid(x); }, nullptr}},
};

using LossFn = at::Tensor (*)(const at::Tensor&, const at::Tensor&, int64_t, double);
// Order is the op code; the managed enum RegressionLoss lists the same names in the same order.
const dsl::OpEntry<LossFn> kRegressionLoss[] = {
    {"mse", [](const at::Tensor& x, const at::Tensor& t, int64_t r, double) { return at::mse_loss(x, t, r); }},
    {"l1", [](const at::Tensor& x, const at::Tensor& t, int64_t r, double) { return at::l1_loss(x, t, r); }},
    {"smooth_l1", [](const at::Tensor& x, const at::Tensor& t, int64_t r, double beta) { return at::smooth_l1_loss(x, t, r, beta); }},
    {"huber", [](const at::Tensor& x, const at::Tensor& t, int64_t r, double delta) { return at::huber_loss(x, t, r, delta); }},
};

const char* kPadModes[] = {"constant", "reflect", "replicate", "circular"};

// 2-D convolutions in channels-last layout (Torch.ConvChannelsLast). On the CPU libtorch runs float
// convolutions through oneDNN, whose kernels work in a blocked layout (8 channels interleaved) or in
// channels-last (NHWC). From libtorch's default NCHW layout every convolution reorders its input into the
// blocked layout and its output back, forward and backward; from channels-last oneDNN reads and writes
// the tensors as they are. So the input (and the weights) are made channels-last here; the output then is channels-last too,
// and ReLU, pooling and batch norm keep that layout, so the next convolution's input needs no copy
// (bench/README.md, "The convolution gap": the reorders were 27 % of oneDNN's time in B3; PyTorch's B3 step
// in channels-last took 13–20 % less CPU time, the Dsl's step through this switch within noise, so it is off
// by default). The values are the same up to float rounding; the tensors' strides differ.
std::atomic<bool> conv_channels_last{false};

bool channels_last_conv(const at::Tensor& x, const at::Tensor& w) {
    return conv_channels_last.load(std::memory_order_relaxed) && x.dim() == 4 && w.dim() == 4 && x.device().is_cpu() && x.scalar_type() == at::kFloat &&
           at::globalContext().userEnabledMkldnn();
}

// oneDNN 2.6 (libtorch 1.13.1's) writes past its buffers when it computes the weight gradient of a 1×1
// convolution with stride 2 in channels-last layout on more than one thread: the heap is corrupted
// (glibc aborts with "corrupted double-linked list" in Python's torch 1.13 too, or values come out wrong;
// 3×3 and 2×2 kernels, stride 1 or 3 and the NCHW layout are unaffected; bench/README.md, "A oneDNN
// defect"). Such a convolution on the CPU always runs in NCHW, whatever the switch and the input's layout.
bool pointwise_strided_cpu(const at::Tensor& x, const at::Tensor& w, int64_t sh, int64_t sw) {
    return x.device().is_cpu() && w.dim() == 4 && w.size(2) == 1 && w.size(3) == 1 && (sh != 1 || sw != 1);
}
}  // namespace

namespace dsl {
const char* activation_name(int32_t code) { return name_of(kActivation, code); }
const char* regression_loss_name(int32_t code) { return name_of(kRegressionLoss, code); }
}  // namespace dsl

extern "C" {
DSL_API dsl_tensor dsl_nn_conv1d(dsl_tensor x, dsl_tensor w, dsl_tensor b, int64_t stride, int64_t padding, int64_t dilation, int64_t groups, int32_t same) {
    return tensor_op([&] {
        return same ? at::conv1d(T(x), T(w), opt(b), {stride}, "same", {dilation}, groups)
                    : at::conv1d(T(x), T(w), opt(b), {stride}, {padding}, {dilation}, groups);
    });
}
DSL_API dsl_tensor dsl_nn_conv2d(dsl_tensor x, dsl_tensor w, dsl_tensor b, int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw, int64_t groups, int32_t same) {
    return tensor_op([&] {
        // The weights too: a one-channel input is channels-last and NCHW at once, and libtorch then takes the
        // layout from the weights (a small copy per call; the gradient comes back in the parameter's layout).
        const bool nchw = pointwise_strided_cpu(T(x), T(w), sh, sw);
        const bool last = !nchw && channels_last_conv(T(x), T(w));
        const at::Tensor input = nchw ? T(x).contiguous() : last ? T(x).contiguous(at::MemoryFormat::ChannelsLast) : T(x);
        const at::Tensor weight = nchw ? T(w).contiguous() : last ? T(w).contiguous(at::MemoryFormat::ChannelsLast) : T(w);
        return same ? at::conv2d(input, weight, opt(b), {sh, sw}, "same", {dh, dw}, groups)
                    : at::conv2d(input, weight, opt(b), {sh, sw}, {ph, pw}, {dh, dw}, groups);
    });
}
DSL_API int32_t dsl_runtime_set_conv_channels_last(int32_t enable) {
    conv_channels_last.store(enable != 0);
    return 0;
}
DSL_API int32_t dsl_runtime_conv_channels_last(void) { return conv_channels_last.load() ? 1 : 0; }
DSL_API dsl_tensor dsl_nn_conv_transpose2d(dsl_tensor x, dsl_tensor w, dsl_tensor b, int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t oph, int64_t opw, int64_t groups, int64_t dh, int64_t dw) {
    return tensor_op([&] { return at::conv_transpose2d(T(x), T(w), opt(b), {sh, sw}, {ph, pw}, {oph, opw}, groups, {dh, dw}); });
}
DSL_API dsl_tensor dsl_nn_max_pool2d(dsl_tensor x, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw, int64_t dh, int64_t dw, int32_t ceil_mode) {
    return tensor_op([&] { return at::max_pool2d(T(x), {kh, kw}, {sh, sw}, {ph, pw}, {dh, dw}, ceil_mode != 0); });
}
DSL_API dsl_tensor dsl_nn_avg_pool2d(dsl_tensor x, int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw, int32_t ceil_mode, int32_t count_include_pad) {
    return tensor_op([&] { return at::avg_pool2d(T(x), {kh, kw}, {sh, sw}, {ph, pw}, ceil_mode != 0, count_include_pad != 0); });
}
DSL_API dsl_tensor dsl_nn_adaptive_avg_pool2d(dsl_tensor x, int64_t oh, int64_t ow) {
    return tensor_op([&] { return at::adaptive_avg_pool2d(T(x), {oh, ow}); });
}
DSL_API dsl_tensor dsl_nn_batch_norm(dsl_tensor x, dsl_tensor weight, dsl_tensor bias, dsl_tensor rm, dsl_tensor rv, int32_t training, double momentum, double eps) {
    return tensor_op([&] { return at::batch_norm(T(x), opt(weight), opt(bias), opt(rm), opt(rv), training != 0, momentum, eps, false); });
}
DSL_API dsl_tensor dsl_nn_group_norm(dsl_tensor x, int64_t groups, dsl_tensor weight, dsl_tensor bias, double eps) {
    return tensor_op([&] { return at::group_norm(T(x), groups, opt(weight), opt(bias), eps); });
}
DSL_API dsl_tensor dsl_nn_layer_norm(dsl_tensor x, const int64_t* shape, int32_t n, dsl_tensor weight, dsl_tensor bias, double eps) {
    return tensor_op([&] { return at::layer_norm(T(x), dsl::dims(shape, n), opt(weight), opt(bias), eps); });
}
DSL_API dsl_tensor dsl_nn_embedding(dsl_tensor weight, dsl_tensor indices, int64_t padding_idx) {
    return tensor_op([&] { return at::embedding(T(weight), T(indices), padding_idx); });
}
DSL_API dsl_tensor dsl_nn_pad(dsl_tensor x, const int64_t* pads, int32_t n, int32_t mode, double value) {
    return tensor_op([&] {
        if (mode < 0 || mode > 3) throw std::invalid_argument("pad: unknown mode " + std::to_string(mode));
        return at::pad(T(x), dsl::dims(pads, n), kPadModes[mode], mode == 0 ? c10::optional<double>(value) : c10::nullopt);
    });
}
DSL_API dsl_tensor dsl_nn_interpolate(dsl_tensor x, int64_t oh, int64_t ow, int32_t mode, int32_t align_corners) {
    return tensor_op([&] {
        // Modes: Dsl.Engine.InterpolationMode.
        switch (mode) {
            case 0: return at::upsample_nearest2d(T(x), {oh, ow});
            case 1: return at::upsample_bilinear2d(T(x), {oh, ow}, align_corners != 0);
            case 2: return at::upsample_bicubic2d(T(x), {oh, ow}, align_corners != 0);
            case 3: return at::adaptive_avg_pool2d(T(x), {oh, ow});
            default: throw std::invalid_argument("interpolate: unknown mode " + std::to_string(mode) + " (0 nearest, 1 bilinear, 2 bicubic, 3 area)");
        }
    });
}
DSL_API dsl_tensor dsl_nn_activation(int32_t op, dsl_tensor x, double a, double b) {
    return tensor_op([&] { return dsl::lookup(kActivation, op, "activation").fn.fn(T(x), a, b); });
}
DSL_API int32_t dsl_nn_activation_(int32_t op, dsl_tensor x, double a, double b) {
    return status_op([&] {
        const auto& e = dsl::lookup(kActivation, op, "activation");
        if (e.fn.inplace == nullptr) throw std::invalid_argument(std::string(e.name) + "_: activation has no in-place variant");
        e.fn.inplace(T(x), a, b);
    });
}
DSL_API dsl_tensor dsl_nn_softmax(dsl_tensor x, int64_t dim, int32_t log) {
    return tensor_op([&] { return log ? at::log_softmax(T(x), dim) : at::softmax(T(x), dim); });
}
DSL_API dsl_tensor dsl_nn_cross_entropy(dsl_tensor logits, dsl_tensor target, dsl_tensor weight, int32_t reduction, int64_t ignore_index, double label_smoothing) {
    return tensor_op([&] { return at::cross_entropy_loss(T(logits), T(target), opt(weight), dsl::reduction(reduction), ignore_index, label_smoothing); });
}
DSL_API dsl_tensor dsl_nn_nll_loss(dsl_tensor log_probs, dsl_tensor target, dsl_tensor weight, int32_t reduction, int64_t ignore_index) {
    return tensor_op([&] { return at::nll_loss_nd(T(log_probs), T(target), opt(weight), dsl::reduction(reduction), ignore_index); });
}
DSL_API dsl_tensor dsl_nn_binary_cross_entropy(dsl_tensor probs, dsl_tensor target, dsl_tensor weight, int32_t reduction) {
    return tensor_op([&] { return at::binary_cross_entropy(T(probs), T(target), opt(weight), dsl::reduction(reduction)); });
}
DSL_API dsl_tensor dsl_nn_bce_with_logits(dsl_tensor logits, dsl_tensor target, dsl_tensor weight, dsl_tensor pos_weight, int32_t reduction) {
    return tensor_op([&] { return at::binary_cross_entropy_with_logits(T(logits), T(target), opt(weight), opt(pos_weight), dsl::reduction(reduction)); });
}
DSL_API dsl_tensor dsl_nn_regression_loss(int32_t op, dsl_tensor input, dsl_tensor target, int32_t reduction, double param) {
    return tensor_op([&] { return dsl::lookup(kRegressionLoss, op, "regression loss").fn(T(input), T(target), dsl::reduction(reduction), param); });
}
}
