// tensor_math.cpp — elementwise math (op tables), reductions and linear algebra.
#include "shim.h"
#include <ATen/ScalarOps.h>
#include <algorithm>

using dsl::T;
using dsl::tensor_op;
using dsl::status_op;

namespace {
using UnaryFn = at::Tensor (*)(const at::Tensor&);
using UnaryInplaceFn = void (*)(at::Tensor&);
struct Unary { UnaryFn fn; UnaryInplaceFn inplace; };

#define DSL_UNARY(n) {#n, {[](const at::Tensor& a) { return a.n(); }, [](at::Tensor& a) { a.n##_(); }}}
#define DSL_UNARY_PURE(n) {#n, {[](const at::Tensor& a) { return a.n(); }, nullptr}}
// Order is the op code; the managed enum UnaryOp lists the same names in the same order.
const dsl::OpEntry<Unary> kUnary[] = {
    DSL_UNARY(neg), DSL_UNARY(abs), DSL_UNARY(exp), DSL_UNARY(log), DSL_UNARY(log1p), DSL_UNARY(sqrt),
    DSL_UNARY(rsqrt), DSL_UNARY(sign), DSL_UNARY(floor), DSL_UNARY(ceil), DSL_UNARY(round), DSL_UNARY(trunc),
    DSL_UNARY(sin), DSL_UNARY(cos), DSL_UNARY(tan), DSL_UNARY(square), DSL_UNARY(reciprocal), DSL_UNARY(expm1),
    DSL_UNARY(log2), DSL_UNARY(log10), DSL_UNARY(erf), DSL_UNARY(logical_not), DSL_UNARY(frac),
    DSL_UNARY_PURE(isnan), DSL_UNARY_PURE(isfinite), DSL_UNARY(asin), DSL_UNARY(acos), DSL_UNARY(atan),
};

using BinaryFn = at::Tensor (*)(const at::Tensor&, const at::Tensor&);
using BinaryInplaceFn = void (*)(at::Tensor&, const at::Tensor&);
struct Binary { BinaryFn fn; BinaryInplaceFn inplace; };
#define DSL_BINARY(n) {#n, {[](const at::Tensor& a, const at::Tensor& b) { return a.n(b); }, [](at::Tensor& a, const at::Tensor& b) { a.n##_(b); }}}
#define DSL_BINARY_PURE(n) {#n, {[](const at::Tensor& a, const at::Tensor& b) { return a.n(b); }, nullptr}}
// Order is the op code; the managed enum BinaryOp lists the same names in the same order.
const dsl::OpEntry<Binary> kBinary[] = {
    DSL_BINARY(add), DSL_BINARY(sub), DSL_BINARY(mul), DSL_BINARY(div), DSL_BINARY(pow),
    DSL_BINARY_PURE(maximum), DSL_BINARY_PURE(minimum), DSL_BINARY(atan2), DSL_BINARY(remainder), DSL_BINARY(fmod),
    DSL_BINARY(eq), DSL_BINARY(ne), DSL_BINARY(lt), DSL_BINARY(le), DSL_BINARY(gt), DSL_BINARY(ge),
    DSL_BINARY(logical_and), DSL_BINARY(logical_or), DSL_BINARY(logical_xor), DSL_BINARY(floor_divide),
    DSL_BINARY_PURE(matmul), DSL_BINARY_PURE(mm), DSL_BINARY_PURE(bmm), DSL_BINARY_PURE(outer), DSL_BINARY_PURE(dot),
    DSL_BINARY(xlogy),
};

// A reduction over `dims` (every dim when the caller passed n < 0).
using ReduceFn = at::Tensor (*)(const at::Tensor&, at::IntArrayRef, bool);

// For ops that reduce one dim at a time in libtorch 1.13 (prod, all, any): reduce the highest dim first
// so that the remaining dim numbers stay valid when keepdim is false.
template <class F>
at::Tensor reduce_each(const at::Tensor& a, at::IntArrayRef dims, bool keepdim, F f) {
    std::vector<int64_t> ds;
    for (int64_t d : dims) ds.push_back(c10::maybe_wrap_dim(d, a.dim()));
    std::sort(ds.rbegin(), ds.rend());
    at::Tensor r = a;
    if (ds.empty()) return f(r.reshape({-1}), 0, false).reshape({});
    for (int64_t d : ds) r = f(r, d, keepdim);
    return r;
}
const dsl::OpEntry<ReduceFn> kReduce[] = {
    {"sum", [](const at::Tensor& a, at::IntArrayRef d, bool k) { return a.sum(d, k); }},
    {"mean", [](const at::Tensor& a, at::IntArrayRef d, bool k) { return a.mean(d, k); }},
    {"prod", [](const at::Tensor& a, at::IntArrayRef d, bool k) {
         return reduce_each(a, d, k, [](const at::Tensor& x, int64_t i, bool kk) { return x.prod(i, kk); }); }},
    {"amax", [](const at::Tensor& a, at::IntArrayRef d, bool k) { return a.amax(d, k); }},
    {"amin", [](const at::Tensor& a, at::IntArrayRef d, bool k) { return a.amin(d, k); }},
    {"logsumexp", [](const at::Tensor& a, at::IntArrayRef d, bool k) { return a.logsumexp(d, k); }},
    {"all", [](const at::Tensor& a, at::IntArrayRef d, bool k) {
         return reduce_each(a, d, k, [](const at::Tensor& x, int64_t i, bool kk) { return x.all(i, kk); }); }},
    {"any", [](const at::Tensor& a, at::IntArrayRef d, bool k) {
         return reduce_each(a, d, k, [](const at::Tensor& x, int64_t i, bool kk) { return x.any(i, kk); }); }},
    {"nansum", [](const at::Tensor& a, at::IntArrayRef d, bool k) { return a.nansum(d, k); }},
};

std::vector<int64_t> reduce_dims(const at::Tensor& a, const int64_t* dims, int32_t n) {
    if (n >= 0) return std::vector<int64_t>(dims, dims + n);
    std::vector<int64_t> all(static_cast<size_t>(a.dim()));
    for (int64_t i = 0; i < a.dim(); ++i) all[static_cast<size_t>(i)] = i;
    return all;
}

at::Tensor wrapped_scalar(double s, int32_t integral) {
    at::Tensor t = integral ? c10::scalar_to_tensor(at::Scalar(static_cast<int64_t>(s))) : c10::scalar_to_tensor(at::Scalar(s));
    t.unsafeGetTensorImpl()->set_wrapped_number(true);
    return t;
}
at::Tensor wrapped_long(int64_t s) {
    at::Tensor t = c10::scalar_to_tensor(at::Scalar(s));
    t.unsafeGetTensorImpl()->set_wrapped_number(true);
    return t;
}
template <class E>
auto inplace_of(const E& e, const char* family) {
    if (e.fn.inplace == nullptr) throw std::invalid_argument(std::string(e.name) + "_: " + family + " op has no in-place variant");
    return e.fn.inplace;
}
}  // namespace

namespace dsl {
const char* unary_name(int32_t code) { return name_of(kUnary, code); }
const char* binary_name(int32_t code) { return name_of(kBinary, code); }
const char* reduce_name(int32_t code) { return name_of(kReduce, code); }
}  // namespace dsl

extern "C" {
DSL_API dsl_tensor dsl_math_unary(int32_t op, dsl_tensor a) {
    return tensor_op([&] {
        auto fn = dsl::lookup(kUnary, op, "unary").fn.fn;
        const at::Tensor& x = T(a);
        return dsl::below_autograd_if_constant({&x}, [&] { return fn(x); });
    });
}
DSL_API int32_t dsl_math_unary_(int32_t op, dsl_tensor a) {
    return status_op([&] { inplace_of(dsl::lookup(kUnary, op, "unary"), "unary")(T(a)); });
}
DSL_API dsl_tensor dsl_math_binary(int32_t op, dsl_tensor a, dsl_tensor b) {
    return tensor_op([&] {
        auto fn = dsl::lookup(kBinary, op, "binary").fn.fn;
        const at::Tensor &x = T(a), &y = T(b);
        return dsl::below_autograd_if_constant({&x, &y}, [&] { return fn(x, y); });
    });
}
DSL_API int32_t dsl_math_binary_(int32_t op, dsl_tensor a, dsl_tensor b) {
    return status_op([&] { inplace_of(dsl::lookup(kBinary, op, "binary"), "binary")(T(a), T(b)); });
}
DSL_API dsl_tensor dsl_math_binary_scalar(int32_t op, dsl_tensor a, double s, int32_t integral, int32_t scalar_first) {
    return tensor_op([&] {
        auto fn = dsl::lookup(kBinary, op, "binary").fn.fn;
        at::Tensor w = wrapped_scalar(s, integral);
        const at::Tensor& x = T(a);
        return dsl::below_autograd_if_constant({&x}, [&] { return scalar_first ? fn(w, x) : fn(x, w); });
    });
}
DSL_API int32_t dsl_math_binary_scalar_(int32_t op, dsl_tensor a, double s, int32_t integral) {
    return status_op([&] { inplace_of(dsl::lookup(kBinary, op, "binary"), "binary")(T(a), wrapped_scalar(s, integral)); });
}
DSL_API dsl_tensor dsl_math_clamp(dsl_tensor a, double lo, double hi, int32_t has_lo, int32_t has_hi) {
    return tensor_op([&] {
        return T(a).clamp(has_lo ? c10::optional<at::Scalar>(lo) : c10::nullopt, has_hi ? c10::optional<at::Scalar>(hi) : c10::nullopt);
    });
}
// The int64 scalar passed as an int64 (not through a double), so that integer tensors compare exactly beyond 2^53.
DSL_API dsl_tensor dsl_math_binary_long(int32_t op, dsl_tensor a, int64_t s, int32_t scalar_first) {
    return tensor_op([&] {
        auto fn = dsl::lookup(kBinary, op, "binary").fn.fn;
        at::Tensor w = wrapped_long(s);
        const at::Tensor& x = T(a);
        return dsl::below_autograd_if_constant({&x}, [&] { return scalar_first ? fn(w, x) : fn(x, w); });
    });
}
DSL_API int32_t dsl_math_binary_long_(int32_t op, dsl_tensor a, int64_t s) {
    return status_op([&] { inplace_of(dsl::lookup(kBinary, op, "binary"), "binary")(T(a), wrapped_long(s)); });
}
DSL_API int32_t dsl_math_clamp_(dsl_tensor a, double lo, double hi, int32_t has_lo, int32_t has_hi) {
    return status_op([&] {
        T(a).clamp_(has_lo ? c10::optional<at::Scalar>(lo) : c10::nullopt, has_hi ? c10::optional<at::Scalar>(hi) : c10::nullopt);
    });
}
DSL_API dsl_tensor dsl_math_where(dsl_tensor cond, dsl_tensor a, dsl_tensor b) { return tensor_op([&] { return at::where(T(cond), T(a), T(b)); }); }
DSL_API dsl_tensor dsl_math_masked_fill(dsl_tensor a, dsl_tensor mask, double value) {
    return tensor_op([&] { return T(a).masked_fill(T(mask), value); });
}
DSL_API int32_t dsl_math_masked_fill_(dsl_tensor a, dsl_tensor mask, double value) {
    return status_op([&] { T(a).masked_fill_(T(mask), value); });
}
DSL_API dsl_tensor dsl_math_reduce(int32_t op, dsl_tensor a, const int64_t* dims, int32_t n, int32_t keepdim) {
    return tensor_op([&] {
        auto fn = dsl::lookup(kReduce, op, "reduce").fn;
        return fn(T(a), reduce_dims(T(a), dims, n), keepdim != 0);
    });
}
DSL_API dsl_tensor dsl_math_var(dsl_tensor a, const int64_t* dims, int32_t n, int32_t unbiased, int32_t keepdim, int32_t take_sqrt) {
    return tensor_op([&] {
        auto d = reduce_dims(T(a), dims, n);
        return take_sqrt ? T(a).std(at::IntArrayRef(d), unbiased != 0, keepdim != 0) : T(a).var(at::IntArrayRef(d), unbiased != 0, keepdim != 0);
    });
}
DSL_API dsl_tensor dsl_math_norm(dsl_tensor a, double p, const int64_t* dims, int32_t n, int32_t keepdim) {
    return tensor_op([&] { return at::norm(T(a), at::Scalar(p), reduce_dims(T(a), dims, n), keepdim != 0); });
}
DSL_API int32_t dsl_math_minmax_dim(int32_t is_max, dsl_tensor a, int64_t dim, int32_t keepdim, dsl_tensor* values, dsl_tensor* indices) {
    return status_op([&] {
        auto r = is_max ? T(a).max(dim, keepdim != 0) : T(a).min(dim, keepdim != 0);
        *values = dsl::wrap(std::move(std::get<0>(r)));
        *indices = dsl::wrap(std::move(std::get<1>(r)));
    });
}
DSL_API dsl_tensor dsl_math_argminmax(int32_t is_max, dsl_tensor a, int64_t dim, int32_t has_dim, int32_t keepdim) {
    return tensor_op([&] {
        c10::optional<int64_t> d = has_dim ? c10::optional<int64_t>(dim) : c10::nullopt;
        return is_max ? T(a).argmax(d, keepdim != 0) : T(a).argmin(d, keepdim != 0);
    });
}
DSL_API int32_t dsl_math_topk(dsl_tensor a, int64_t k, int64_t dim, int32_t largest, dsl_tensor* values, dsl_tensor* indices) {
    return status_op([&] {
        auto r = T(a).topk(k, dim, largest != 0, true);
        *values = dsl::wrap(std::move(std::get<0>(r)));
        *indices = dsl::wrap(std::move(std::get<1>(r)));
    });
}
DSL_API dsl_tensor dsl_math_linear(dsl_tensor x, dsl_tensor w, dsl_tensor b) { return tensor_op([&] { return at::linear(T(x), T(w), dsl::opt(b)); }); }
DSL_API int32_t dsl_math_qr(dsl_tensor a, dsl_tensor* q, dsl_tensor* r) {
    return status_op([&] {
        auto res = at::linalg_qr(T(a));
        *q = dsl::wrap(std::move(std::get<0>(res)));
        *r = dsl::wrap(std::move(std::get<1>(res)));
    });
}
DSL_API int32_t dsl_math_svd(dsl_tensor a, int32_t full_matrices, dsl_tensor* u, dsl_tensor* s, dsl_tensor* vh) {
    return status_op([&] {
        auto res = at::linalg_svd(T(a), full_matrices != 0);
        *u = dsl::wrap(std::move(std::get<0>(res)));
        *s = dsl::wrap(std::move(std::get<1>(res)));
        *vh = dsl::wrap(std::move(std::get<2>(res)));
    });
}
DSL_API int32_t dsl_math_equal(dsl_tensor a, dsl_tensor b) { return dsl::guard<int32_t>(-1, [&] { return at::equal(T(a), T(b)) ? 1 : 0; }); }
}
