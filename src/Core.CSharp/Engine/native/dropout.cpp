// dropout.cpp — dropout with counter-based masks.
//
// libtorch 1.13 built without MKL (Debian's) fills bernoulli_ on the CPU one element at a time from the
// generator's mt19937, on one thread: ~20 ns an element, 23 ms for the 1.2M activations a Keras-style CNN
// drops per batch of 128 (more than its max-pool). Here element i of a CPU mask is a function of
// (key, i) only — SplitMix64's output function applied to key + (i/2)·γ, one 32-bit half per element —
// where key is a single 64-bit draw from the generator per call: the mask is the same whatever the number
// of threads, reproducible from the generator's seed, and filled in parallel. Other devices (CUDA) and
// the switch turned off (Torch.CounterDropout, DSL_COUNTER_DROPOUT=0) keep libtorch's bernoulli_.
#include "shim.h"
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <atomic>
#include <cmath>
#include <algorithm>
#include <mutex>

using dsl::T;
using dsl::tensor_op;

namespace {
std::atomic<bool> counter_masks{true};

constexpr uint64_t kGamma = 0x9e3779b97f4a7c15ULL;  // SplitMix64's increment (2^64 / φ)

inline uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

// One draw from the generator (the default CPU generator when none is given), under its lock.
uint64_t draw_key(const c10::optional<at::Generator>& g) {
    auto* impl = at::get_generator_or_default<at::CPUGeneratorImpl>(g, at::detail::getDefaultCPUGenerator());
    std::lock_guard<std::mutex> lock(impl->mutex_);
    return impl->random64();
}

// Elements [2·begin, min(2·end, n)) of the mask: element i is scale when its 32-bit half of
// mix64(key + (i/2 + 1)·γ) is below threshold, else 0.
template <typename S>
inline void fill_pairs(S* out, int64_t n, int64_t begin, int64_t end, uint64_t key, uint64_t threshold, S scale) {
    // Whole pairs in a loop without a bounds test (a test, or a branch on random comparisons, keeps it scalar),
    // then the last element of an odd-sized mask.
    const S zero = static_cast<S>(0);
    const int64_t whole = std::min(end, n / 2);
    for (int64_t k = begin; k < whole; ++k) {
        const uint64_t h = mix64(key + static_cast<uint64_t>(k + 1) * kGamma);
        out[2 * k] = (h & 0xffffffffULL) < threshold ? scale : zero;
        out[2 * k + 1] = (h >> 32) < threshold ? scale : zero;
    }
    if (whole < end) {
        const uint64_t h = mix64(key + static_cast<uint64_t>(whole + 1) * kGamma);
        out[2 * whole] = (h & 0xffffffffULL) < threshold ? scale : zero;
    }
}
// float32, the common case, also compiled for AVX2 (chosen at load time; integer arithmetic, so every clone
// gives the same mask): 4× faster than the baseline x86-64 build, whose 64-bit multiplies do not vectorise.
__attribute__((target_clones("avx2", "default"))) void fill_pairs_f32(float* out, int64_t n, int64_t begin, int64_t end, uint64_t key, uint64_t threshold, float scale) {
    fill_pairs(out, n, begin, end, key, threshold, scale);
}
template <typename S>
inline void fill_range(S* out, int64_t n, int64_t begin, int64_t end, uint64_t key, uint64_t threshold, S scale) {
    fill_pairs(out, n, begin, end, key, threshold, scale);
}
inline void fill_range(float* out, int64_t n, int64_t begin, int64_t end, uint64_t key, uint64_t threshold, float scale) {
    fill_pairs_f32(out, n, begin, end, key, threshold, scale);
}

// A dense mask shaped (and strided) like `like`: each element 1/keep with probability keep, else 0.
at::Tensor counter_mask(const at::Tensor& like, double keep, uint64_t key) {
    at::Tensor mask = at::empty_like(like, like.options().requires_grad(false));
    // P(u32 < threshold) = threshold / 2^32; keep lies in (0, 1) here.
    const uint64_t threshold = static_cast<uint64_t>(std::llround(std::ldexp(keep, 32)));
    const int64_t n = mask.numel();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, mask.scalar_type(), "dropout", [&] {
        scalar_t* out = mask.data_ptr<scalar_t>();
        const scalar_t scale = static_cast<scalar_t>(1.0 / keep);
        at::parallel_for(0, (n + 1) / 2, 16384, [&](int64_t begin, int64_t end) {
            fill_range(out, n, begin, end, key, threshold, scale);
        });
    });
    return mask;
}
}  // namespace

DSL_API dsl_tensor dsl_nn_dropout(dsl_tensor x, double p, int32_t training, dsl_generator g) {
    return tensor_op([&] {
        if (p < 0.0 || p > 1.0) throw std::invalid_argument("dropout: rate p=" + std::to_string(p) + " is outside [0, 1]");
        const at::Tensor& in = T(x);
        if (!training || p == 0.0) return in;
        if (p == 1.0) return in * 0;
        // p is the probability of dropping (as in PyTorch and Keras); kept units are scaled by 1/(1-p).
        const auto gen = dsl::gen(g);
        if (counter_masks.load(std::memory_order_relaxed) && in.device().is_cpu() && at::isFloatingType(in.scalar_type()))
            return in * counter_mask(in, 1.0 - p, draw_key(gen));
        at::Tensor keep = at::empty_like(in, in.options().requires_grad(false)).bernoulli_(1.0 - p, gen);
        return in * keep.div_(1.0 - p);
    });
}
DSL_API int32_t dsl_runtime_set_counter_dropout(int32_t enable) {
    counter_masks.store(enable != 0);
    return 0;
}
DSL_API int32_t dsl_runtime_counter_dropout(void) { return counter_masks.load() ? 1 : 0; }
