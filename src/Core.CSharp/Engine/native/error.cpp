// error.cpp — the thread-local last error, the live-handle counter, and op-table names.
#include "shim.h"
#include <c10/util/Logging.h>

namespace dsl {
std::atomic<int64_t> live_tensors{0};
std::atomic<int64_t> live_bytes{0};
std::atomic<int64_t> budget_bytes{int64_t(1) << 30};
std::atomic<int32_t> over_budget{0};

// libtorch captures a C++ backtrace for every c10::Error, which costs milliseconds per failure and
// is then dropped from our messages anyway: capture none, from the moment the library loads.
static const bool no_backtraces = [] {
    c10::SetStackTraceFetcher([] { return std::string(); });
    return true;
}();
static thread_local std::string last_error;
static thread_local bool has_error = false;

void set_error(const char* message) {
    std::string m = message ? message : "";
    // Drop any C++ backtrace or "Exception raised from" trailer that a message may still carry.
    for (const char* marker : {"\nException raised from", "\nframe #0", "\nCompile stack"}) {
        auto pos = m.find(marker);
        if (pos != std::string::npos) m.erase(pos);
    }
    while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
    last_error = std::move(m);
    has_error = true;
}
}  // namespace dsl

extern "C" {
DSL_API const char* dsl_error_message(void) { return dsl::has_error ? dsl::last_error.c_str() : nullptr; }
DSL_API void dsl_error_clear(void) { dsl::has_error = false; dsl::last_error.clear(); }
DSL_API int64_t dsl_tensor_live_count(void) { return dsl::live_tensors.load(std::memory_order_relaxed); }
DSL_API int64_t dsl_tensor_live_bytes(void) { return dsl::live_bytes.load(std::memory_order_relaxed); }
DSL_API const int32_t* dsl_memory_over_budget_flag(void) { return reinterpret_cast<const int32_t*>(&dsl::over_budget); }
DSL_API void dsl_memory_set_budget(int64_t bytes) {
    dsl::budget_bytes.store(bytes, std::memory_order_relaxed);
    dsl::over_budget.store(dsl::live_bytes.load(std::memory_order_relaxed) > bytes ? 1 : 0, std::memory_order_relaxed);
}
DSL_API const char* dsl_op_name(int32_t family, int32_t code) {
    switch (family) {
        case dsl::Unary: return dsl::unary_name(code);
        case dsl::Binary: return dsl::binary_name(code);
        case dsl::Reduce: return dsl::reduce_name(code);
        case dsl::Activation: return dsl::activation_name(code);
        case dsl::RegressionLoss: return dsl::regression_loss_name(code);
        default: return nullptr;
    }
}
}
