// runtime.cpp — library versions, thread pools (libtorch intra-op and OpenBLAS), devices, seeds
// and random generators.
#include "shim.h"
#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <ATen/Version.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <dlfcn.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <torch/version.h>

namespace {
// OpenBLAS's thread-count setter, found in whichever BLAS libtorch loaded (libblas.so.3 is an
// alternatives link to OpenBLAS when libopenblas0-pthread is installed). NULL when it is not OpenBLAS.
using blas_set_fn = void (*)(int);
using blas_get_fn = int (*)(void);
void* blas_symbol(const char* name) {
    for (const char* lib : {"libblas.so.3", "libopenblas.so.0", "libopenblasp.so.0"}) {
        if (void* h = dlopen(lib, RTLD_LAZY | RTLD_NOLOAD)) {
            if (void* s = dlsym(h, name)) return s;
        }
    }
    return dlsym(RTLD_DEFAULT, name);
}
}  // namespace

extern "C" {
DSL_API const char* dsl_runtime_built_version(void) { return TORCH_VERSION; }

DSL_API const char* dsl_runtime_loaded_version(void) {
    // libtorch reports the version it was built as in its configuration string.
    static const std::string version = dsl::guard<std::string>("unknown", [] {
        std::string config = at::show_config();
        const std::string key = "TORCH_VERSION=";
        auto pos = config.find(key);
        if (pos == std::string::npos) return std::string("unknown");
        auto end = config.find_first_of(", \n", pos + key.size());
        return config.substr(pos + key.size(), end - pos - key.size());
    });
    return version.c_str();
}

DSL_API int32_t dsl_runtime_set_num_threads(int32_t n) {
    return dsl::status_op([&] { at::set_num_threads(n); });
}
DSL_API int32_t dsl_runtime_num_threads(void) { return at::get_num_threads(); }

DSL_API int32_t dsl_runtime_set_thread_local_threads(int32_t n) {
    return dsl::status_op([&] {
        if (n < 1) throw std::invalid_argument("need at least 1 thread, got " + std::to_string(n));
#ifdef _OPENMP
        // libtorch sets each thread's OpenMP count lazily, on the thread's first parallel call, to the global
        // value; trigger that first so that it does not undo the setting below.
        at::get_num_threads();
        omp_set_num_threads(n);   // OpenMP's nthreads-var is per thread: only this thread's parallel regions change
#endif
    });
}

DSL_API int32_t dsl_runtime_set_blas_threads(int32_t n) {
    auto set = reinterpret_cast<blas_set_fn>(blas_symbol("openblas_set_num_threads"));
    if (set == nullptr) return 0;
    set(n);
    return 1;
}
DSL_API int32_t dsl_runtime_blas_threads(void) {
    // Looked up once: parallel_gemm.cpp asks on every large product.
    static const auto get = reinterpret_cast<blas_get_fn>(blas_symbol("openblas_get_num_threads"));
    return get == nullptr ? -1 : get();
}

DSL_API int32_t dsl_runtime_cuda_device_count(void) {
    return dsl::guard<int32_t>(0, [] {
        return at::detail::getCUDAHooks().hasCUDA() ? static_cast<int32_t>(at::detail::getCUDAHooks().getNumGPUs()) : 0;
    });
}

DSL_API int32_t dsl_runtime_manual_seed(int64_t seed) {
    return dsl::status_op([&] {
        auto g = at::detail::getDefaultCPUGenerator();
        {
            std::lock_guard<std::mutex> lock(g.mutex());
            g.set_current_seed(static_cast<uint64_t>(seed));
        }
        if (at::detail::getCUDAHooks().hasCUDA()) {
            for (int i = 0; i < at::detail::getCUDAHooks().getNumGPUs(); ++i) {
                auto cg = at::detail::getCUDAHooks().getDefaultCUDAGenerator(i);
                std::lock_guard<std::mutex> lock(cg.mutex());
                cg.set_current_seed(static_cast<uint64_t>(seed));
            }
        }
    });
}

DSL_API dsl_generator dsl_runtime_generator_new(int64_t seed, int32_t device_type, int32_t device_index) {
    return dsl::guard<dsl_generator>(nullptr, [&] {
        at::Device device = dsl::device(device_type, device_index);
        // A new CPU generator is made, not cloned from the default one: in libtorch 1.13
        // GeneratorImpl::clone() leaks the clone (its mt19937 state, 2.6 KB a generator, measured).
        at::Generator g = device.is_cpu() ? at::make_generator<at::CPUGeneratorImpl>(static_cast<uint64_t>(seed))
                                          : at::detail::getCUDAHooks().getDefaultCUDAGenerator(device.has_index() ? device.index() : 0).clone();
        g.set_current_seed(static_cast<uint64_t>(seed));
        return reinterpret_cast<dsl_generator>(new at::Generator(std::move(g)));
    });
}
DSL_API void dsl_runtime_generator_free(dsl_generator g) { delete reinterpret_cast<at::Generator*>(g); }
DSL_API int32_t dsl_runtime_generator_set_seed(dsl_generator g, int64_t seed) {
    return dsl::status_op([&] {
        if (g == nullptr) throw std::invalid_argument("null generator handle");
        auto& gen = *reinterpret_cast<at::Generator*>(g);
        std::lock_guard<std::mutex> lock(gen.mutex());
        gen.set_current_seed(static_cast<uint64_t>(seed));
    });
}
DSL_API dsl_tensor dsl_runtime_generator_state(dsl_generator g) {
    return dsl::tensor_op([&] {
        if (g == nullptr) throw std::invalid_argument("null generator handle");
        auto& gen = *reinterpret_cast<at::Generator*>(g);
        std::lock_guard<std::mutex> lock(gen.mutex());
        return gen.get_state();
    });
}
DSL_API int32_t dsl_runtime_generator_set_state(dsl_generator g, dsl_tensor state) {
    return dsl::status_op([&] {
        if (g == nullptr) throw std::invalid_argument("null generator handle");
        auto& gen = *reinterpret_cast<at::Generator*>(g);
        std::lock_guard<std::mutex> lock(gen.mutex());
        gen.set_state(dsl::T(state));
    });
}
}
