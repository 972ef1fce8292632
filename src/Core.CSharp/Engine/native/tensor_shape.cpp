// tensor_shape.cpp — views, indexing, joining and splitting.
#include "shim.h"

using dsl::T;
using dsl::tensor_op;

namespace {
std::vector<at::Tensor> gather_list(const dsl_tensor* ts, int32_t count) {
    std::vector<at::Tensor> v;
    v.reserve(static_cast<size_t>(count));
    for (int32_t i = 0; i < count; ++i) v.push_back(T(ts[i]));
    return v;
}
int32_t emit_list(std::vector<at::Tensor>&& pieces, dsl_tensor* out, int32_t capacity, const char* op) {
    if (static_cast<int64_t>(pieces.size()) > capacity)
        throw std::length_error(std::string(op) + ": produced " + std::to_string(pieces.size()) +
                                " pieces but room was made for " + std::to_string(capacity));
    for (size_t i = 0; i < pieces.size(); ++i) out[i] = dsl::wrap(std::move(pieces[i]));
    return static_cast<int32_t>(pieces.size());
}
}  // namespace

extern "C" {
DSL_API dsl_tensor dsl_shape_reshape(dsl_tensor t, const int64_t* s, int32_t n) { return tensor_op([&] { return T(t).reshape(dsl::dims(s, n)); }); }
DSL_API dsl_tensor dsl_shape_view(dsl_tensor t, const int64_t* s, int32_t n) { return tensor_op([&] { return T(t).view(dsl::dims(s, n)); }); }
DSL_API dsl_tensor dsl_shape_permute(dsl_tensor t, const int64_t* d, int32_t n) { return tensor_op([&] { return T(t).permute(dsl::dims(d, n)); }); }
DSL_API dsl_tensor dsl_shape_expand(dsl_tensor t, const int64_t* s, int32_t n) { return tensor_op([&] { return T(t).expand(dsl::dims(s, n)); }); }
DSL_API dsl_tensor dsl_shape_repeat(dsl_tensor t, const int64_t* r, int32_t n) { return tensor_op([&] { return T(t).repeat(dsl::dims(r, n)); }); }
DSL_API dsl_tensor dsl_shape_flip(dsl_tensor t, const int64_t* d, int32_t n) { return tensor_op([&] { return T(t).flip(dsl::dims(d, n)); }); }
DSL_API dsl_tensor dsl_shape_roll(dsl_tensor t, const int64_t* shifts, int32_t ns, const int64_t* d, int32_t nd) {
    return tensor_op([&] { return T(t).roll(dsl::dims(shifts, ns), dsl::dims(d, nd)); });
}
DSL_API dsl_tensor dsl_shape_transpose(dsl_tensor t, int64_t d0, int64_t d1) { return tensor_op([&] { return T(t).transpose(d0, d1); }); }
DSL_API dsl_tensor dsl_shape_flatten(dsl_tensor t, int64_t s, int64_t e) { return tensor_op([&] { return T(t).flatten(s, e); }); }
DSL_API dsl_tensor dsl_shape_squeeze(dsl_tensor t, int64_t dim, int32_t all) {
    return tensor_op([&] { return all ? T(t).squeeze() : T(t).squeeze(dim); });
}
DSL_API dsl_tensor dsl_shape_unsqueeze(dsl_tensor t, int64_t dim) { return tensor_op([&] { return T(t).unsqueeze(dim); }); }
DSL_API dsl_tensor dsl_shape_narrow(dsl_tensor t, int64_t dim, int64_t start, int64_t length) {
    return tensor_op([&] { return T(t).narrow(dim, start, length); });
}
DSL_API dsl_tensor dsl_shape_slice(dsl_tensor t, int64_t dim, int64_t start, int64_t end, int64_t step) {
    return tensor_op([&] { return T(t).slice(dim, start, end, step); });
}
DSL_API dsl_tensor dsl_shape_select(dsl_tensor t, int64_t dim, int64_t index) { return tensor_op([&] { return T(t).select(dim, index); }); }
DSL_API dsl_tensor dsl_shape_index_select(dsl_tensor t, int64_t dim, dsl_tensor index) {
    return tensor_op([&] { return T(t).index_select(dim, T(index)); });
}
DSL_API dsl_tensor dsl_shape_gather(dsl_tensor t, int64_t dim, dsl_tensor index) { return tensor_op([&] { return T(t).gather(dim, T(index)); }); }
DSL_API dsl_tensor dsl_shape_scatter(dsl_tensor t, int64_t dim, dsl_tensor index, dsl_tensor src, int32_t add) {
    return tensor_op([&] { return add ? T(t).scatter_add(dim, T(index), T(src)) : T(t).scatter(dim, T(index), T(src)); });
}
DSL_API dsl_tensor dsl_shape_contiguous(dsl_tensor t) { return tensor_op([&] { return T(t).contiguous(); }); }
DSL_API dsl_tensor dsl_shape_clone(dsl_tensor t) { return tensor_op([&] { return T(t).clone(); }); }
DSL_API dsl_tensor dsl_shape_cat(const dsl_tensor* ts, int32_t count, int64_t dim) {
    return tensor_op([&] { return at::cat(gather_list(ts, count), dim); });
}
DSL_API dsl_tensor dsl_shape_stack(const dsl_tensor* ts, int32_t count, int64_t dim) {
    return tensor_op([&] { return at::stack(gather_list(ts, count), dim); });
}
DSL_API int32_t dsl_shape_split(dsl_tensor t, int64_t split_size, int64_t dim, dsl_tensor* out, int32_t capacity) {
    return dsl::guard<int32_t>(-1, [&] { return emit_list(T(t).split(split_size, dim), out, capacity, "split"); });
}
DSL_API int32_t dsl_shape_chunk(dsl_tensor t, int64_t chunks, int64_t dim, dsl_tensor* out, int32_t capacity) {
    return dsl::guard<int32_t>(-1, [&] { return emit_list(T(t).chunk(chunks, dim), out, capacity, "chunk"); });
}
}
