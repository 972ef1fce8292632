// parallel_gemm.cpp — matrix products split over libtorch's intra-op threads.
//
// The engine keeps OpenBLAS at one thread (its spinning pthreads fight libtorch's OpenMP pool), so on its
// own every GEMM of a dense layer would run on one core. When enabled, the CPU kernels of aten::mm and
// aten::addmm (what linear, matmul and their backward passes call) are replaced by ones that split the
// output into one block of rows (or columns) per intra-op thread and run libtorch's own kernel
// (at::cpu::mm_out / addmm_out, single-threaded BLAS) on each block. Autograd is untouched: it
// dispatches to these kernels as to the originals. Products that are small, not float/double, already
// inside a parallel region, or with a multi-threaded BLAS go to the original kernel unchanged. The kernels
// are installed once, when the engine loads; Torch.ParallelGemm only switches the splitting on and off.
#include "shim.h"
#include <ATen/Parallel.h>
#include <ATen/ThreadLocalState.h>
#include <ATen/ops/addmm_cpu_dispatch.h>
#include <ATen/ops/mm_cpu_dispatch.h>
#include <torch/library.h>
#include <atomic>

extern "C" int32_t dsl_runtime_blas_threads(void);

namespace {
// Below this many multiply-adds a product is not worth splitting (a 64×64×64 product is ~30 µs on one core).
constexpr int64_t kMinWork = 64 * 64 * 64;
// Each block keeps at least this many rows (or columns), so BLAS still sees efficient shapes.
constexpr int64_t kMinBlock = 16;

// Whether products are split. The kernels stay registered once installed (replacing a kernel rewrites
// the dispatch table that running ops read without a lock); turning the feature off only clears this.
std::atomic<bool> enabled{false};

bool splittable(const at::Tensor& a, const at::Tensor& b) {
    if (!enabled.load(std::memory_order_relaxed)) return false;
    if (a.dim() != 2 || b.dim() != 2 || a.size(1) != b.size(0)) return false;   // the original reports the error
    const auto st = a.scalar_type();
    if ((st != at::kFloat && st != at::kDouble) || b.scalar_type() != st) return false;
    if (a.is_sparse() || b.is_sparse() || !a.device().is_cpu() || !b.device().is_cpu()) return false;
    if (at::get_num_threads() < 2 || at::in_parallel_region()) return false;
    if (a.size(0) * a.size(1) * b.size(1) < kMinWork) return false;
    if (std::max(a.size(0), b.size(1)) < 2 * kMinBlock) return false;
    return dsl_runtime_blas_threads() == 1;
}

// Runs block(dim, begin, length) over the rows (dim 0) or columns (dim 1) of an m×n result, whichever is
// longer, in one block per thread. at::parallel_for does not carry the caller's thread-local state (grad
// mode, inference mode, the dispatch keys excluded below autograd) to its workers, so each block restores it.
template <class F>
void over_blocks(int64_t m, int64_t n, F&& block) {
    const int64_t dim = m >= n ? 0 : 1;
    const int64_t len = dim == 0 ? m : n;
    const int64_t grain = std::max(kMinBlock, (len + at::get_num_threads() - 1) / at::get_num_threads());
    const at::ThreadLocalState caller;
    at::parallel_for(0, len, grain, [&](int64_t begin, int64_t end) {
        at::ThreadLocalStateGuard same_state(caller);
        block(dim, begin, end - begin);
    });
}

at::Tensor parallel_mm(const at::Tensor& a, const at::Tensor& b) {
    if (!splittable(a, b)) return at::cpu::mm(a, b);
    at::Tensor out = at::empty({a.size(0), b.size(1)}, a.options());
    over_blocks(a.size(0), b.size(1), [&](int64_t dim, int64_t start, int64_t len) {
        at::Tensor o = out.narrow(dim, start, len);
        if (dim == 0) at::cpu::mm_out(o, a.narrow(0, start, len), b);
        else at::cpu::mm_out(o, a, b.narrow(1, start, len));
    });
    return out;
}

at::Tensor parallel_addmm(const at::Tensor& self, const at::Tensor& a, const at::Tensor& b, const at::Scalar& beta, const at::Scalar& alpha) {
    if (!splittable(a, b) || self.scalar_type() != a.scalar_type() || !self.device().is_cpu() || self.is_sparse() || self.dim() > 2)
        return at::cpu::addmm(self, a, b, beta, alpha);
    const int64_t m = a.size(0), n = b.size(1);
    // The original kernel broadcasts self to m×n (and reports shapes that do not broadcast).
    if (!at::is_expandable_to(self.sizes(), {m, n})) return at::cpu::addmm(self, a, b, beta, alpha);
    const at::Tensor s = self.expand({m, n});
    at::Tensor out = at::empty({m, n}, a.options());
    over_blocks(m, n, [&](int64_t dim, int64_t start, int64_t len) {
        at::Tensor o = out.narrow(dim, start, len);
        if (dim == 0) at::cpu::addmm_out(o, s.narrow(0, start, len), a.narrow(0, start, len), b, beta, alpha);
        else at::cpu::addmm_out(o, s.narrow(1, start, len), a, b.narrow(1, start, len), beta, alpha);
    });
    return out;
}

std::once_flag installed;
}  // namespace

extern "C" {
DSL_API int32_t dsl_runtime_set_parallel_gemm(int32_t enable) {
    return dsl::status_op([&] {
        dsl::install_cpu_kernels(installed, [](torch::Library& library) {
            library.impl("mm", TORCH_FN(parallel_mm));
            library.impl("addmm", TORCH_FN(parallel_addmm));
        });
        enabled.store(enable != 0);
    });
}
DSL_API int32_t dsl_runtime_parallel_gemm(void) { return enabled.load() ? 1 : 0; }
}
