// tensor_select.cpp — sorting and order statistics (sort, median, quantile, kthvalue), boolean masks
// (masked_select, where with scalars, nonzero).
#include "shim.h"
#include <ATen/ScalarOps.h>

using dsl::T;
using dsl::tensor_op;
using dsl::status_op;

namespace {
// torch.quantile's interpolation names; the order is the managed enum QuantileInterpolation's.
const char* const kInterpolation[] = {"linear", "lower", "higher", "midpoint", "nearest"};

const char* interpolation(int32_t code) {
    if (code < 0 || code > 4)
        throw std::invalid_argument("unknown quantile interpolation code " + std::to_string(code) +
                                    " (known: 0 linear, 1 lower, 2 higher, 3 midpoint, 4 nearest)");
    return kInterpolation[code];
}
void emit_pair(std::tuple<at::Tensor, at::Tensor>&& r, dsl_tensor* values, dsl_tensor* indices) {
    *values = dsl::wrap(std::move(std::get<0>(r)));
    *indices = dsl::wrap(std::move(std::get<1>(r)));
}
at::Tensor wrapped_long(int64_t s) {
    at::Tensor t = c10::scalar_to_tensor(at::Scalar(s));
    t.unsafeGetTensorImpl()->set_wrapped_number(true);
    return t;
}
at::Tensor wrapped_double(double s) {
    at::Tensor t = c10::scalar_to_tensor(at::Scalar(s));
    t.unsafeGetTensorImpl()->set_wrapped_number(true);
    return t;
}
}  // namespace

extern "C" {
DSL_API int32_t dsl_math_sort(dsl_tensor a, int64_t dim, int32_t descending, dsl_tensor* values, dsl_tensor* indices) {
    return status_op([&] { emit_pair(T(a).sort(/*stable=*/true, dim, descending != 0), values, indices); });
}
DSL_API int32_t dsl_math_median(dsl_tensor a, int64_t dim, int32_t has_dim, int32_t keepdim, int32_t ignore_nan,
                                dsl_tensor* values, dsl_tensor* indices) {
    return status_op([&] {
        const at::Tensor& x = T(a);
        if (!has_dim) {
            *values = dsl::wrap(ignore_nan ? x.nanmedian() : x.median());
            *indices = nullptr;
            return;
        }
        emit_pair(ignore_nan ? x.nanmedian(dim, keepdim != 0) : x.median(dim, keepdim != 0), values, indices);
    });
}
DSL_API dsl_tensor dsl_math_quantile(dsl_tensor a, dsl_tensor q, double q_scalar, int64_t dim, int32_t has_dim, int32_t keepdim,
                                     int32_t interpolation_code, int32_t ignore_nan) {
    return tensor_op([&] {
        const at::Tensor& x = T(a);
        c10::optional<int64_t> d = has_dim ? c10::optional<int64_t>(dim) : c10::nullopt;
        c10::string_view mode = interpolation(interpolation_code);
        if (q != nullptr) return ignore_nan ? at::nanquantile(x, T(q), d, keepdim != 0, mode) : at::quantile(x, T(q), d, keepdim != 0, mode);
        return ignore_nan ? at::nanquantile(x, q_scalar, d, keepdim != 0, mode) : at::quantile(x, q_scalar, d, keepdim != 0, mode);
    });
}
DSL_API int32_t dsl_math_kthvalue(dsl_tensor a, int64_t k, int64_t dim, int32_t keepdim, dsl_tensor* values, dsl_tensor* indices) {
    return status_op([&] { emit_pair(T(a).kthvalue(k, dim, keepdim != 0), values, indices); });
}
DSL_API dsl_tensor dsl_math_masked_select(dsl_tensor a, dsl_tensor mask) { return tensor_op([&] { return T(a).masked_select(T(mask)); }); }
// where(cond, a, b) with a or b a scalar (the tensor argument NULL): a scalar takes part in type promotion as a
// Python number does (a float scalar with an int64 tensor gives the default float dtype; an int64 scalar keeps it).
DSL_API dsl_tensor dsl_math_where_scalar(dsl_tensor cond, dsl_tensor a, double a_scalar, int64_t a_long, dsl_tensor b, double b_scalar,
                                        int64_t b_long, int32_t integral) {
    return tensor_op([&] {
        const at::Tensor& c = T(cond);
        if (a == nullptr && b == nullptr) {
            // Two scalars (as torch.where(cond, 1.0, 0.0)): 0-d tensors of the default float dtype, or int64.
            auto o = c.options().dtype(integral ? at::kLong : at::typeMetaToScalarType(at::get_default_dtype()));
            return at::where(c, integral ? at::scalar_tensor(a_long, o) : at::scalar_tensor(a_scalar, o),
                             integral ? at::scalar_tensor(b_long, o) : at::scalar_tensor(b_scalar, o));
        }
        at::Tensor x = a != nullptr ? T(a) : integral ? wrapped_long(a_long) : wrapped_double(a_scalar);
        at::Tensor y = b != nullptr ? T(b) : integral ? wrapped_long(b_long) : wrapped_double(b_scalar);
        return at::where(c, x, y);
    });
}
DSL_API dsl_tensor dsl_math_nonzero(dsl_tensor a) { return tensor_op([&] { return T(a).nonzero(); }); }
}
