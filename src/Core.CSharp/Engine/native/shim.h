// shim.h — internal helpers shared by the shim's sources: handle wrapping, the catch-all guard,
// option and shape conversion, and the op-table type used by every op family.
#pragma once
#include "dsl_api.h"
#include <ATen/ATen.h>
#include <ATen/core/Generator.h>
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

namespace torch {
class Library;
}

namespace dsl {

// Live native tensor handles (for leak tests) and the bytes they hold (for the managed memory budget).
extern std::atomic<int64_t> live_tensors;
extern std::atomic<int64_t> live_bytes;
// The managed memory budget: wrap() raises over_budget when live_bytes passes budget_bytes; the managed side reads
// the flag through its address on every new tensor, collects, and sets a new budget (dsl_memory_set_budget).
extern std::atomic<int64_t> budget_bytes;
extern std::atomic<int32_t> over_budget;

// What a dsl_tensor points to: the tensor and the bytes counted for it in live_bytes (the smaller of its
// elements' size and its storage's, so that neither an expanded view nor a narrow slice of a large storage
// counts more than it can hold).
struct Handle {
    at::Tensor tensor;
    int64_t bytes;
};
inline int64_t held_bytes(const at::Tensor& t) {
    if (!t.defined() || !t.has_storage()) return 0;
    const int64_t view = t.numel() * static_cast<int64_t>(t.element_size());
    const int64_t storage = static_cast<int64_t>(t.storage().nbytes());
    return view < storage ? view : storage;
}

void set_error(const char* message);

inline at::Tensor& T(dsl_tensor t) {
    if (t == nullptr) throw std::invalid_argument("null tensor handle (was the tensor disposed?)");
    return reinterpret_cast<Handle*>(t)->tensor;
}
inline c10::optional<at::Tensor> opt(dsl_tensor t) {
    if (t == nullptr) return c10::nullopt;
    return reinterpret_cast<Handle*>(t)->tensor;
}
inline dsl_tensor wrap(at::Tensor&& t) {
    const int64_t bytes = held_bytes(t);
    live_tensors.fetch_add(1, std::memory_order_relaxed);
    if (live_bytes.fetch_add(bytes, std::memory_order_relaxed) + bytes > budget_bytes.load(std::memory_order_relaxed))
        over_budget.store(1, std::memory_order_relaxed);
    return reinterpret_cast<dsl_tensor>(new Handle{std::move(t), bytes});
}
inline dsl_tensor wrap(const at::Tensor& t) { return wrap(at::Tensor(t)); }

inline c10::optional<at::Generator> gen(dsl_generator g) {
    if (g == nullptr) return c10::nullopt;
    return *reinterpret_cast<at::Generator*>(g);
}
inline at::IntArrayRef dims(const int64_t* p, int32_t n) { return at::IntArrayRef(p, static_cast<size_t>(n)); }

// Every enum code that crosses the ABI is checked here before libtorch sees it (a code outside the enum
// reaching at::ScalarType or at::DeviceType crashes or allocates without bound). The managed side checks
// them too; these are the second line.

// The element types of Dsl.Engine.DType (c10::ScalarType codes).
inline at::ScalarType scalar_type(int32_t code) {
    switch (code) {
        case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 11: case 15:
            return static_cast<at::ScalarType>(code);
        default:
            throw std::invalid_argument("unknown dtype code " + std::to_string(code) +
                                        " (known: 0 uint8, 1 int8, 2 int16, 3 int32, 4 int64, 5 float16, 6 float32, 7 float64, 11 bool, 15 bfloat16)");
    }
}
// The reductions of Dsl.Engine.Reduction (at::Reduction codes).
inline int64_t reduction(int32_t code) {
    if (code < 0 || code > 2) throw std::invalid_argument("unknown reduction code " + std::to_string(code) + " (known: 0 none, 1 mean, 2 sum)");
    return code;
}

// Devices of Dsl.Engine.DeviceType (0 CPU, 1 CUDA). The CPU has no device index in libtorch (cpu, not
// cpu:0), so one is never given for it; otherwise .to(cpu) of a CPU tensor would look like a device change and copy.
inline at::Device device(int32_t type, int32_t index) {
    if (type != 0 && type != 1) throw std::invalid_argument("unknown device type code " + std::to_string(type) + " (known: 0 cpu, 1 cuda)");
    auto t = static_cast<at::DeviceType>(type);
    if (t == at::DeviceType::CPU || index < 0) return at::Device(t);
    if (index > 255) throw std::invalid_argument("device index " + std::to_string(index) + " is out of range");
    return at::Device(t, static_cast<c10::DeviceIndex>(index));
}
inline at::TensorOptions options(dsl_options o) {
    return at::TensorOptions()
        .dtype(scalar_type(o.dtype))
        .device(device(o.device_type, o.device_index))
        .requires_grad(o.requires_grad != 0);
}

// Runs f and converts every C++ exception into the thread-local last error, returning `failed`.
// c10::Error messages are taken without their backtrace.
template <class R, class F>
R guard(R failed, F&& f) noexcept {
    try {
        return f();
    } catch (const c10::Error& e) {
        set_error(e.what_without_backtrace());
    } catch (const std::exception& e) {
        set_error(e.what());
    } catch (...) {
        set_error("unknown C++ exception");
    }
    return failed;
}
// Tensor-returning export: NULL on failure.
template <class F>
dsl_tensor tensor_op(F&& f) noexcept {
    return guard<dsl_tensor>(nullptr, [&] { return wrap(f()); });
}
// Status-returning export: 0 on success, -1 on failure.
template <class F>
int32_t status_op(F&& f) noexcept {
    return guard<int32_t>(-1, [&] { f(); return 0; });
}

// Runs an out-of-place, non-view op below libtorch's autograd layer when autograd has nothing to record
// (grad mode off, or no input requires grad). The dispatcher then skips the VariableType kernel: ~600 of
// the ~5,900 instructions of a 1-element add. The result is what autograd would have returned: no grad_fn.
template <class F>
at::Tensor below_autograd_if_constant(std::initializer_list<const at::Tensor*> inputs, F&& f) {
    if (at::GradMode::is_enabled())
        for (const at::Tensor* t : inputs)
            if (t->requires_grad()) return f();
    at::AutoDispatchBelowADInplaceOrView below;
    return f();
}

// Registers the engine's CPU kernels for aten operators once per `once` (cpu_kernels.cpp): `install` calls
// library.impl(name, TORCH_FN(kernel)) for each; they replace libtorch's CPU kernels for every caller.
void install_cpu_kernels(std::once_flag& once, void (*install)(torch::Library&));

// An op family: a table of named entries, indexed by the op code the managed side passes.
template <class Fn>
struct OpEntry {
    const char* name;
    Fn fn;
};
template <class Fn, size_t N>
const OpEntry<Fn>& lookup(const OpEntry<Fn> (&table)[N], int32_t code, const char* family) {
    if (code < 0 || static_cast<size_t>(code) >= N)
        throw std::out_of_range(std::string(family) + ": unknown op code " + std::to_string(code));
    return table[code];
}
template <class Fn, size_t N>
const char* name_of(const OpEntry<Fn> (&table)[N], int32_t code) {
    return (code >= 0 && static_cast<size_t>(code) < N) ? table[code].name : nullptr;
}

// Family codes for dsl_op_name.
enum Family : int32_t { Unary = 0, Binary = 1, Reduce = 2, Activation = 3, RegressionLoss = 4 };
const char* unary_name(int32_t code);
const char* binary_name(int32_t code);
const char* reduce_name(int32_t code);
const char* activation_name(int32_t code);
const char* regression_loss_name(int32_t code);

}  // namespace dsl
