// autograd.cpp — requires_grad, backward, .grad, detach, grad mode, and torch.autograd.grad
// (with create_graph, so higher derivatives work).
#include "shim.h"
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/variable.h>

using dsl::T;
using dsl::status_op;

extern "C" {
DSL_API int32_t dsl_autograd_requires_grad(dsl_tensor t) { return dsl::guard<int32_t>(-1, [&] { return T(t).requires_grad() ? 1 : 0; }); }
DSL_API int32_t dsl_autograd_set_requires_grad(dsl_tensor t, int32_t requires_grad) {
    return status_op([&] { T(t).set_requires_grad(requires_grad != 0); });
}
DSL_API int32_t dsl_autograd_is_leaf(dsl_tensor t) { return dsl::guard<int32_t>(-1, [&] { return T(t).is_leaf() ? 1 : 0; }); }
DSL_API int32_t dsl_autograd_backward(dsl_tensor t, dsl_tensor gradient, int32_t retain_graph, int32_t create_graph) {
    return status_op([&] {
        T(t).backward(gradient ? T(gradient) : at::Tensor(), retain_graph ? c10::optional<bool>(true) : c10::optional<bool>(create_graph != 0),
                      create_graph != 0);
    });
}
DSL_API int32_t dsl_autograd_get_grad(dsl_tensor t, dsl_tensor* out) {
    return status_op([&] {
        const at::Tensor& g = T(t).grad();
        *out = g.defined() ? dsl::wrap(g) : nullptr;
    });
}
DSL_API int32_t dsl_autograd_set_grad(dsl_tensor t, dsl_tensor grad) {
    return status_op([&] { T(t).mutable_grad() = grad ? T(grad) : at::Tensor(); });
}
DSL_API int32_t dsl_autograd_zero_grad(dsl_tensor t, int32_t set_to_none) {
    return status_op([&] {
        at::Tensor& g = T(t).mutable_grad();
        if (!g.defined()) return;
        if (set_to_none) {
            g = at::Tensor();
        } else {
            if (g.grad_fn()) g = g.detach();
            else g.requires_grad_(false);
            g.zero_();
        }
    });
}
DSL_API dsl_tensor dsl_autograd_detach(dsl_tensor t) { return dsl::tensor_op([&] { return T(t).detach(); }); }
DSL_API int32_t dsl_autograd_grad_enabled(void) { return at::GradMode::is_enabled() ? 1 : 0; }
DSL_API int32_t dsl_autograd_set_grad_enabled(int32_t enabled) {
    const bool previous = at::GradMode::is_enabled();
    at::GradMode::set_enabled(enabled != 0);
    return previous ? 1 : 0;
}
DSL_API int32_t dsl_autograd_grad(const dsl_tensor* outputs, const dsl_tensor* grad_outputs, int32_t n_outputs, const dsl_tensor* inputs,
                                  int32_t n_inputs, int32_t retain_graph, int32_t create_graph, int32_t allow_unused, dsl_tensor* results) {
    return status_op([&] {
        std::vector<at::Tensor> outs, gouts, ins;
        for (int32_t i = 0; i < n_outputs; ++i) {
            outs.push_back(T(outputs[i]));
            gouts.push_back(grad_outputs != nullptr && grad_outputs[i] != nullptr ? T(grad_outputs[i]) : at::Tensor());
        }
        for (int32_t i = 0; i < n_inputs; ++i) ins.push_back(T(inputs[i]));
        auto grads = torch::autograd::grad(outs, ins, gouts, retain_graph ? c10::optional<bool>(true) : c10::optional<bool>(create_graph != 0),
                                           create_graph != 0, allow_unused != 0);
        for (int32_t i = 0; i < n_inputs; ++i)
            results[i] = grads[static_cast<size_t>(i)].defined() ? dsl::wrap(std::move(grads[static_cast<size_t>(i)])) : nullptr;
    });
}
}
