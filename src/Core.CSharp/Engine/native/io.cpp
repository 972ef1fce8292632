// io.cpp — raw data into and out of tensors, with one memcpy each way.
#include "shim.h"
#include <cstring>

extern "C" {
DSL_API int64_t dsl_io_element_size(int32_t dtype) {
    return dsl::guard<int64_t>(-1, [&] { return static_cast<int64_t>(c10::elementSize(dsl::scalar_type(dtype))); });
}

DSL_API dsl_tensor dsl_io_from_data(const void* data, int64_t nbytes, const int64_t* s, int32_t n, dsl_options o) {
    return dsl::tensor_op([&] {
        dsl_options cpu = o;
        cpu.device_type = 0;
        cpu.device_index = 0;
        cpu.requires_grad = 0;
        at::Tensor t = at::empty(dsl::dims(s, n), dsl::options(cpu));
        const int64_t expected = t.numel() * static_cast<int64_t>(t.element_size());
        if (expected != nbytes)
            throw std::invalid_argument("from_data: shape " + c10::str(t.sizes()) + " of " + c10::toString(t.scalar_type()) +
                                        " needs " + std::to_string(expected) + " bytes but " + std::to_string(nbytes) +
                                        " were given");
        if (nbytes > 0) std::memcpy(t.data_ptr(), data, static_cast<size_t>(nbytes));
        if (o.device_type != 0) t = t.to(dsl::device(o.device_type, o.device_index));
        if (o.requires_grad) t.set_requires_grad(true);
        return t;
    });
}

DSL_API int32_t dsl_io_copy_to(dsl_tensor t, void* dst, int64_t nbytes) {
    return dsl::status_op([&] {
        at::Tensor src = dsl::T(t).detach();
        if (!src.device().is_cpu()) src = src.cpu();
        src = src.contiguous();
        const int64_t have = src.numel() * static_cast<int64_t>(src.element_size());
        if (have != nbytes)
            throw std::invalid_argument("copy_to: tensor of shape " + c10::str(src.sizes()) + " holds " + std::to_string(have) +
                                        " bytes but the destination has " + std::to_string(nbytes));
        if (nbytes > 0) std::memcpy(dst, src.data_ptr(), static_cast<size_t>(nbytes));
    });
}
}
