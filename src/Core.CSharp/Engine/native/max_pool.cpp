// max_pool.cpp — max pooling over tiling windows (stride = kernel, no padding, no dilation) on the CPU.
//
// libtorch 1.13's CPU max_pool2d_with_indices on NCHW tensors takes ~23 ms for the 128×64×24×24 activations a
// Keras-style CNN pools per batch of 128 (two threads; ~19 ns an output: a general loop with per-element window
// bounds), and its backward zero-fills the gradient before scattering into it. When windows tile the input, as
// in nearly every CNN's 2×2 pool, each output reads its own kh×kw block and each input element belongs to at
// most one window, so the forward is one pass over the input and the backward writes every input gradient once
// (the gradient where the index points, zero elsewhere) with no fill and no scatter.
//
// The kernels replace the CPU kernels of aten::max_pool2d_with_indices and its backward (what max_pool2d and
// autograd call), with PyTorch's results bit for bit: the same maxima, and the same int64 indices (h·W + w in
// each plane; on ties the first element of the window in row-major order, a NaN taken over any number, the last
// NaN of a window kept), so double backward, the fallback kernels and code that reads the indices see no
// difference. Other windows, layouts (channels-last), dtypes and devices go to libtorch's kernels unchanged.
// The kernels are installed once, when the engine loads; Torch.TiledMaxPool switches the fast path.
#include "shim.h"
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <ATen/ops/max_pool2d_with_indices_backward_cpu_dispatch.h>
#include <ATen/ops/max_pool2d_with_indices_cpu_dispatch.h>
#include <torch/library.h>
#include <algorithm>
#include <atomic>

namespace {
std::atomic<bool> enabled{false};

// Each parallel chunk covers at least this many input elements.
constexpr int64_t kGrain = 1 << 15;

// The window's height and width when (kernel, stride, padding, dilation, ceil_mode) tile `x`, else {0, 0}.
// Sizes follow PyTorch's rules: one value stands for both dimensions, an empty stride means the kernel.
struct Window {
    int64_t kh = 0, kw = 0;
    explicit operator bool() const { return kh > 0; }
};
Window tiling(const at::Tensor& x, at::IntArrayRef kernel, at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, bool ceil_mode) {
    if (!enabled.load(std::memory_order_relaxed)) return {};
    if (!x.device().is_cpu() || x.layout() != at::kStrided || (x.scalar_type() != at::kFloat && x.scalar_type() != at::kDouble)) return {};
    if ((x.dim() != 3 && x.dim() != 4) || x.numel() == 0 || !x.is_contiguous() || x.suggest_memory_format() != at::MemoryFormat::Contiguous)
        return {};
    auto pick = [](at::IntArrayRef v, size_t i, int64_t otherwise) { return v.empty() ? otherwise : v.size() == 1 ? v[0] : v[i]; };
    if (kernel.empty() || kernel.size() > 2 || stride.size() > 2 || padding.size() > 2 || dilation.size() > 2) return {};
    const int64_t kh = pick(kernel, 0, 0), kw = pick(kernel, 1, 0);
    if (kh < 1 || kw < 1 || pick(stride, 0, kh) != kh || pick(stride, 1, kw) != kw) return {};
    if (pick(padding, 0, 0) != 0 || pick(padding, 1, 0) != 0 || pick(dilation, 0, 1) != 1 || pick(dilation, 1, 1) != 1) return {};
    const int64_t h = x.size(-2), w = x.size(-1);
    if (h < kh || w < kw) return {};                                   // the original reports the error
    if (ceil_mode && (h % kh != 0 || w % kw != 0)) return {};          // ceil adds partial windows
    return {kh, kw};
}

std::vector<int64_t> pooled_sizes(const at::Tensor& x, Window k) {
    std::vector<int64_t> sizes(x.sizes().begin(), x.sizes().end());
    sizes[sizes.size() - 2] /= k.kh;
    sizes[sizes.size() - 1] /= k.kw;
    return sizes;
}

// Takes v over the running maximum as PyTorch's kernel does: when greater, or NaN (a later NaN replaces an
// earlier one). Written as selects so that the 2×2 loops below vectorize instead of branching on random data.
template <class scalar_t, class index_t>
inline void take(scalar_t v, index_t at, scalar_t& m, index_t& arg) {
    const bool t = (v > m) | (v != v);
    m = t ? v : m;
    arg = t ? at : arg;
}

// One row of 2×2 windows: input rows r0 and r1 (r1 = r0 + w), starting at plane offset `top`.
template <class scalar_t>
__attribute__((target_clones("avx2", "default"))) void forward_row2(const scalar_t* __restrict r0, const scalar_t* __restrict r1,
                                                                    scalar_t* __restrict y, int64_t* __restrict ind, int64_t wo, int64_t top, int64_t w) {
    for (int64_t j = 0; j < wo; ++j) {
        scalar_t m = r0[2 * j];
        int64_t k = 0;
        take(r0[2 * j + 1], int64_t(1), m, k);
        take(r1[2 * j], w, m, k);
        take(r1[2 * j + 1], w + 1, m, k);
        y[j] = m;
        ind[j] = top + 2 * j + k;
    }
}

// The gradients of one row of 2×2 windows: each output's where its index points, zero at the other three.
template <class scalar_t>
__attribute__((target_clones("avx2", "default"))) void backward_row2(const scalar_t* __restrict g, const int64_t* __restrict ind,
                                                                     scalar_t* __restrict r0, scalar_t* __restrict r1, int64_t wo, int64_t top, int64_t w) {
    for (int64_t j = 0; j < wo; ++j) {
        const scalar_t v = g[j];
        const int64_t k = ind[j] - top - 2 * j;
        r0[2 * j] = k == 0 ? v : scalar_t(0);
        r0[2 * j + 1] = k == 1 ? v : scalar_t(0);
        r1[2 * j] = k == w ? v : scalar_t(0);
        r1[2 * j + 1] = k == w + 1 ? v : scalar_t(0);
    }
}

template <class scalar_t>
void forward_planes(const scalar_t* x, scalar_t* y, int64_t* ind, int64_t planes, int64_t h, int64_t w, Window k) {
    const int64_t ho = h / k.kh, wo = w / k.kw;
    at::parallel_for(0, planes, std::max<int64_t>(1, kGrain / (h * w)), [&](int64_t begin, int64_t end) {
        for (int64_t p = begin; p < end; ++p) {
            const scalar_t* xp = x + p * h * w;
            scalar_t* yp = y + p * ho * wo;
            int64_t* ip = ind + p * ho * wo;
            for (int64_t i = 0; i < ho; ++i) {
                const int64_t top = i * k.kh * w;
                if (k.kh == 2 && k.kw == 2) {
                    forward_row2(xp + top, xp + top + w, yp + i * wo, ip + i * wo, wo, top, w);
                    continue;
                }
                for (int64_t j = 0; j < wo; ++j) {
                    const int64_t first = top + j * k.kw;
                    scalar_t m = xp[first];
                    int64_t arg = first;
                    for (int64_t a = 0; a < k.kh; ++a)
                        for (int64_t b = 0; b < k.kw; ++b) take(xp[first + a * w + b], first + a * w + b, m, arg);
                    yp[i * wo + j] = m;
                    ip[i * wo + j] = arg;
                }
            }
        }
    });
}

// Every input gradient written once: the output's gradient where its window's index points, zero elsewhere
// (including the rows and columns that floor mode leaves outside every window).
template <class scalar_t>
void backward_planes(const scalar_t* g, const int64_t* ind, scalar_t* gx, int64_t planes, int64_t h, int64_t w, Window k) {
    const int64_t ho = h / k.kh, wo = w / k.kw;
    at::parallel_for(0, planes, std::max<int64_t>(1, kGrain / (h * w)), [&](int64_t begin, int64_t end) {
        for (int64_t p = begin; p < end; ++p) {
            const scalar_t* gp = g + p * ho * wo;
            const int64_t* ip = ind + p * ho * wo;
            scalar_t* xp = gx + p * h * w;
            for (int64_t i = 0; i < ho; ++i) {
                const int64_t top = i * k.kh * w;
                if (k.kh == 2 && k.kw == 2) {
                    backward_row2(gp + i * wo, ip + i * wo, xp + top, xp + top + w, wo, top, w);
                } else {
                    for (int64_t a = 0; a < k.kh; ++a)
                        for (int64_t col = 0; col < wo * k.kw; ++col) {
                            const int64_t j = col / k.kw, at = top + a * w + col;
                            xp[at] = ip[i * wo + j] == at ? gp[i * wo + j] : scalar_t(0);
                        }
                }
                for (int64_t a = 0; a < k.kh; ++a) std::fill(xp + top + a * w + wo * k.kw, xp + top + (a + 1) * w, scalar_t(0));
            }
            std::fill(xp + ho * k.kh * w, xp + h * w, scalar_t(0));
        }
    });
}

std::tuple<at::Tensor, at::Tensor> tiled_max_pool(const at::Tensor& self, at::IntArrayRef kernel, at::IntArrayRef stride, at::IntArrayRef padding,
                                                  at::IntArrayRef dilation, bool ceil_mode) {
    const Window k = tiling(self, kernel, stride, padding, dilation, ceil_mode);
    if (!k) return at::cpu::max_pool2d_with_indices(self, kernel, stride, padding, dilation, ceil_mode);
    const auto sizes = pooled_sizes(self, k);
    at::Tensor out = at::empty(sizes, self.options());
    at::Tensor indices = at::empty(sizes, self.options().dtype(at::kLong));
    const int64_t h = self.size(-2), w = self.size(-1), planes = self.numel() / (h * w);
    AT_DISPATCH_FLOATING_TYPES(self.scalar_type(), "tiled_max_pool", [&] {
        forward_planes(self.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(), indices.data_ptr<int64_t>(), planes, h, w, k);
    });
    return std::make_tuple(out, indices);
}

at::Tensor tiled_max_pool_backward(const at::Tensor& grad, const at::Tensor& self, at::IntArrayRef kernel, at::IntArrayRef stride, at::IntArrayRef padding,
                                   at::IntArrayRef dilation, bool ceil_mode, const at::Tensor& indices) {
    const Window k = tiling(self, kernel, stride, padding, dilation, ceil_mode);
    const bool fits = k && grad.device().is_cpu() && grad.scalar_type() == self.scalar_type() && indices.device().is_cpu() &&
                      indices.scalar_type() == at::kLong && grad.sizes() == at::IntArrayRef(pooled_sizes(self, k)) && indices.sizes() == grad.sizes();
    if (!fits) return at::cpu::max_pool2d_with_indices_backward(grad, self, kernel, stride, padding, dilation, ceil_mode, indices);
    const at::Tensor g = grad.contiguous(), ind = indices.contiguous();
    at::Tensor gx = at::empty(self.sizes(), self.options());
    const int64_t h = self.size(-2), w = self.size(-1), planes = self.numel() / (h * w);
    AT_DISPATCH_FLOATING_TYPES(self.scalar_type(), "tiled_max_pool_backward", [&] {
        backward_planes(g.data_ptr<scalar_t>(), ind.data_ptr<int64_t>(), gx.data_ptr<scalar_t>(), planes, h, w, k);
    });
    return gx;
}

std::once_flag installed;
}  // namespace

extern "C" {
DSL_API int32_t dsl_runtime_set_tiled_max_pool(int32_t enable) {
    return dsl::status_op([&] {
        dsl::install_cpu_kernels(installed, [](torch::Library& library) {
            library.impl("max_pool2d_with_indices", TORCH_FN(tiled_max_pool));
            library.impl("max_pool2d_with_indices_backward", TORCH_FN(tiled_max_pool_backward));
        });
        enabled.store(enable != 0);
    });
}
DSL_API int32_t dsl_runtime_tiled_max_pool(void) { return enabled.load() ? 1 : 0; }
}
