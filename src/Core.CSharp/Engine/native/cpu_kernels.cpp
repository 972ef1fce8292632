// cpu_kernels.cpp — installing the engine's own CPU kernels for aten operators (parallel_gemm.cpp's mm and
// addmm, max_pool.cpp's tiled max pooling). A kernel registered for an operator's CPU key replaces libtorch's
// for every caller, autograd included; the original stays callable through at::cpu::<op>.
#include "shim.h"
#include <torch/library.h>

namespace {
// Registering over an existing kernel makes libtorch warn once per operator; that is intended here.
struct Quiet : c10::WarningHandler {
    void process(const c10::SourceLocation&, const std::string&, const bool) override {}
};
}  // namespace

namespace dsl {
void install_cpu_kernels(std::once_flag& once, void (*install)(torch::Library&)) {
    std::call_once(once, [&] {
        Quiet quiet;
        c10::Warning::WarningHandlerGuard guard(&quiet);
        // Never removed: replacing a kernel rewrites the dispatch table that running ops read without a lock, so
        // each feature keeps its kernels registered and switches them with a flag of its own.
        auto* library = new torch::Library(torch::Library::IMPL, "aten", c10::make_optional(c10::DispatchKey::CPU), __FILE__, __LINE__);
        install(*library);
    });
}
}  // namespace dsl
