// tensor_index.cpp — Python-style multi-dimensional indexing, x[i, a:b:c, ..., None, idx] and its assignment.
//
// An index expression is n entries of 5 int64 each: {kind, flags, a, b, c}, plus a parallel array of n tensor
// handles (NULL except for kind 4). Kinds: 0 a single integer a; 1 a slice a:b:c where flags bit 0 says a is
// given and bit 1 says b is given (absent ends are open); 2 the ellipsis; 3 a new axis (None); 4 an index tensor
// (int64 indices or a bool mask); 5 a Python bool (a = 0 or 1).
#include "shim.h"
#include <ATen/TensorIndexing.h>

using dsl::T;
using dsl::tensor_op;
using dsl::status_op;
namespace idx = at::indexing;

namespace {
std::vector<idx::TensorIndex> indices(const int64_t* spec, const dsl_tensor* tensors, int32_t n) {
    std::vector<idx::TensorIndex> out;
    out.reserve(static_cast<size_t>(n));
    for (int32_t i = 0; i < n; ++i) {
        const int64_t* e = spec + 5 * i;
        switch (e[0]) {
            case 0: out.emplace_back(e[2]); break;
            case 1: {
                if (e[4] == 0) throw std::invalid_argument("index: slice step cannot be zero");
                if (e[4] < 0) throw std::invalid_argument("index: slice step must be positive (libtorch does not support negative steps; use Flip)");
                c10::optional<int64_t> start = (e[1] & 1) ? c10::optional<int64_t>(e[2]) : c10::nullopt;
                c10::optional<int64_t> stop = (e[1] & 2) ? c10::optional<int64_t>(e[3]) : c10::nullopt;
                out.emplace_back(idx::Slice(start, stop, e[4]));
                break;
            }
            case 2: out.emplace_back(idx::Ellipsis); break;
            case 3: out.emplace_back(idx::None); break;
            case 4: out.emplace_back(T(tensors[i])); break;
            case 5: out.emplace_back(e[2] != 0); break;
            default: throw std::invalid_argument("index: unknown index kind " + std::to_string(e[0]) + " at position " + std::to_string(i));
        }
    }
    return out;
}
}  // namespace

extern "C" {
DSL_API dsl_tensor dsl_shape_index(dsl_tensor t, const int64_t* spec, const dsl_tensor* tensors, int32_t n) {
    return tensor_op([&] { return T(t).index(indices(spec, tensors, n)); });
}
DSL_API int32_t dsl_shape_index_put_(dsl_tensor t, const int64_t* spec, const dsl_tensor* tensors, int32_t n, dsl_tensor value) {
    return status_op([&] { T(t).index_put_(indices(spec, tensors, n), T(value)); });
}
}
