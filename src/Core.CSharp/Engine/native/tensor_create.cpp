// tensor_create.cpp — handle lifetime, metadata queries, factory functions, random fills and
// dtype/device conversion.
#include "shim.h"

using dsl::T;
using dsl::tensor_op;
using dsl::status_op;

// Factories create without requires_grad (libtorch refuses it in TensorOptions for some factories),
// fill, then make the result a leaf that requires grad when asked.
template <class F>
static dsl_tensor factory(dsl_options o, F&& fill) {
    return tensor_op([&] {
        dsl_options plain = o;
        plain.requires_grad = 0;
        at::Tensor t = fill(dsl::options(plain));
        if (o.requires_grad) t.set_requires_grad(true);
        return t;
    });
}
extern "C" {
DSL_API void dsl_tensor_free(dsl_tensor t) {
    if (t == nullptr) return;
    auto* h = reinterpret_cast<dsl::Handle*>(t);
    dsl::live_bytes.fetch_sub(h->bytes, std::memory_order_relaxed);
    dsl::live_tensors.fetch_sub(1, std::memory_order_relaxed);
    delete h;
}
DSL_API dsl_tensor dsl_tensor_alias(dsl_tensor t) { return tensor_op([&] { return T(t); }); }

DSL_API int32_t dsl_tensor_shape(dsl_tensor t, int64_t* out, int32_t capacity) {
    return dsl::guard<int32_t>(-1, [&] {
        auto sizes = T(t).sizes();
        int32_t n = static_cast<int32_t>(sizes.size());
        for (int32_t i = 0; i < n && i < capacity; ++i) out[i] = sizes[i];
        return n;
    });
}
DSL_API int32_t dsl_tensor_dtype(dsl_tensor t) {
    return dsl::guard<int32_t>(-1, [&] { return static_cast<int32_t>(T(t).scalar_type()); });
}
DSL_API int32_t dsl_tensor_device(dsl_tensor t, int32_t* index) {
    return dsl::guard<int32_t>(-1, [&] {
        auto d = T(t).device();
        *index = d.has_index() ? d.index() : (d.is_cpu() ? 0 : -1);
        return static_cast<int32_t>(d.type());
    });
}
DSL_API int64_t dsl_tensor_numel(dsl_tensor t) { return dsl::guard<int64_t>(-1, [&] { return T(t).numel(); }); }
DSL_API int32_t dsl_tensor_is_contiguous(dsl_tensor t) {
    return dsl::guard<int32_t>(-1, [&] { return T(t).is_contiguous() ? 1 : 0; });
}
DSL_API int32_t dsl_tensor_is_sole_owner(dsl_tensor t) {
    return dsl::guard<int32_t>(-1, [&] {
        const auto& x = T(t);
        const bool storage = !x.has_storage() || x.storage().use_count() == 1;
        return x.use_count() == 1 && storage && !x.requires_grad() ? 1 : 0;
    });
}

DSL_API dsl_tensor dsl_tensor_zeros(const int64_t* s, int32_t n, dsl_options o) {
    return factory(o, [&](at::TensorOptions opts) { return at::zeros(dsl::dims(s, n), opts); });
}
DSL_API dsl_tensor dsl_tensor_ones(const int64_t* s, int32_t n, dsl_options o) {
    return factory(o, [&](at::TensorOptions opts) { return at::ones(dsl::dims(s, n), opts); });
}
DSL_API dsl_tensor dsl_tensor_empty(const int64_t* s, int32_t n, dsl_options o) {
    return factory(o, [&](at::TensorOptions opts) { return at::empty(dsl::dims(s, n), opts); });
}
DSL_API dsl_tensor dsl_tensor_full(const int64_t* s, int32_t n, double value, dsl_options o) {
    return factory(o, [&](at::TensorOptions opts) { return at::full(dsl::dims(s, n), value, opts); });
}
DSL_API dsl_tensor dsl_tensor_eye(int64_t rows, int64_t cols, dsl_options o) {
    return factory(o, [&](at::TensorOptions opts) { return at::eye(rows, cols, opts); });
}
DSL_API dsl_tensor dsl_tensor_arange(double start, double end, double step, dsl_options o) {
    return factory(o, [&](at::TensorOptions opts) { return at::arange(start, end, step, opts); });
}
DSL_API dsl_tensor dsl_tensor_linspace(double start, double end, int64_t steps, dsl_options o) {
    return factory(o, [&](at::TensorOptions opts) { return at::linspace(start, end, steps, opts); });
}

DSL_API dsl_tensor dsl_tensor_rand(const int64_t* s, int32_t n, dsl_generator g, dsl_options o) {
    return factory(o, [&](at::TensorOptions opts) { return at::rand(dsl::dims(s, n), dsl::gen(g), opts); });
}
DSL_API dsl_tensor dsl_tensor_randn(const int64_t* s, int32_t n, dsl_generator g, dsl_options o) {
    return factory(o, [&](at::TensorOptions opts) { return at::randn(dsl::dims(s, n), dsl::gen(g), opts); });
}
DSL_API dsl_tensor dsl_tensor_randint(int64_t low, int64_t high, const int64_t* s, int32_t n, dsl_generator g, dsl_options o) {
    return factory(o, [&](at::TensorOptions opts) { return at::randint(low, high, dsl::dims(s, n), dsl::gen(g), opts); });
}
DSL_API dsl_tensor dsl_tensor_normal(double mean, double std, const int64_t* s, int32_t n, dsl_generator g, dsl_options o) {
    return factory(o, [&](at::TensorOptions opts) { return at::normal(mean, std, dsl::dims(s, n), dsl::gen(g), opts); });
}
DSL_API dsl_tensor dsl_tensor_randperm(int64_t n, dsl_generator g, dsl_options o) {
    return factory(o, [&](at::TensorOptions opts) { return at::randperm(n, dsl::gen(g), opts); });
}

// In-place fills never record autograd history (like torch.nn.init).
DSL_API int32_t dsl_tensor_uniform_(dsl_tensor t, double low, double high, dsl_generator g) {
    return status_op([&] { at::NoGradGuard ng; T(t).uniform_(low, high, dsl::gen(g)); });
}
DSL_API int32_t dsl_tensor_normal_(dsl_tensor t, double mean, double std, dsl_generator g) {
    return status_op([&] { at::NoGradGuard ng; T(t).normal_(mean, std, dsl::gen(g)); });
}
DSL_API int32_t dsl_tensor_bernoulli_(dsl_tensor t, double p, dsl_generator g) {
    return status_op([&] { at::NoGradGuard ng; T(t).bernoulli_(p, dsl::gen(g)); });
}
DSL_API int32_t dsl_tensor_fill_(dsl_tensor t, double value) {
    return status_op([&] { at::NoGradGuard ng; T(t).fill_(value); });
}
DSL_API int32_t dsl_tensor_copy_(dsl_tensor dst, dsl_tensor src) {
    return status_op([&] { at::NoGradGuard ng; T(dst).copy_(T(src)); });
}

DSL_API dsl_tensor dsl_tensor_to(dsl_tensor t, int32_t dtype, int32_t device_type, int32_t device_index, int32_t copy) {
    return tensor_op([&] {
        return T(t).to(dsl::device(device_type, device_index), dsl::scalar_type(dtype), /*non_blocking=*/false, copy != 0);
    });
}
DSL_API int32_t dsl_tensor_item(dsl_tensor t, double* out) {
    return status_op([&] { *out = T(t).item<double>(); });
}
DSL_API int32_t dsl_tensor_item_int64(dsl_tensor t, int64_t* out) {
    return status_op([&] { *out = T(t).item<int64_t>(); });
}
}
