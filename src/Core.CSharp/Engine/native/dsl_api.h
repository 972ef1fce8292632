/* dsl_api.h — the flat C ABI of Dsl's libtorch shim.
 *
 * This header is the single declaration of every export. The C++ sources include it (the compiler
 * rejects a definition whose C signature drifts from it), and the C# test `ExportTests` parses it
 * and compares each prototype with the [LibraryImport] declaration of the same name.
 *
 * Conventions
 *  - Names are dsl_<area>_<op>; a trailing '_' marks an in-place variant.
 *  - A function returning dsl_tensor returns NULL on failure. A function returning int32_t returns
 *    a negative value on failure. After a failure, dsl_error_message() returns the message
 *    (without the C++ backtrace) until the next failure on the same thread.
 *  - Optional tensor arguments are NULL when absent. Shapes are (const int64_t*, int32_t n).
 *  - Every returned dsl_tensor is a new handle that the caller frees with dsl_tensor_free.
 *  - dtype codes are c10::ScalarType values; device type codes are c10::DeviceType values
 *    (0 = CPU, 1 = CUDA); reduction codes are at::Reduction values (0 none, 1 mean, 2 sum).
 *  - Op-family functions (dsl_math_unary, ...) take an op code; dsl_op_name(family, code) returns
 *    its name so the managed enums can be checked against the native tables.
 */
#ifndef DSL_API_H
#define DSL_API_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define DSL_API __declspec(dllexport)
#else
#define DSL_API __attribute__((visibility("default")))
#endif

typedef struct dsl_tensor_s* dsl_tensor;
typedef struct dsl_generator_s* dsl_generator;
typedef struct dsl_dist_group_s* dsl_dist_group;

/* Tensor options for creation functions, passed by value. */
typedef struct dsl_options {
    int32_t dtype;
    int32_t device_type;
    int32_t device_index;
    int32_t requires_grad;
} dsl_options;

/* ---- error.cpp: last error, live handles, op tables ---- */
DSL_API const char* dsl_error_message(void);
DSL_API void dsl_error_clear(void);
DSL_API int64_t dsl_tensor_live_count(void);
/* Bytes held by the live handles (each counts min(its elements' bytes, its storage's bytes); aliases count again). */
DSL_API int64_t dsl_tensor_live_bytes(void);
/* The memory budget: the address of a flag that becomes 1 when the live bytes pass the budget (1 GiB at start),
 * and the setter of the budget (which also recomputes the flag). */
DSL_API const int32_t* dsl_memory_over_budget_flag(void);
DSL_API void dsl_memory_set_budget(int64_t bytes);
DSL_API const char* dsl_op_name(int32_t family, int32_t code);

/* ---- runtime.cpp: versions, threads, devices, seeds, generators ---- */
DSL_API const char* dsl_runtime_built_version(void);
DSL_API const char* dsl_runtime_loaded_version(void);
DSL_API int32_t dsl_runtime_set_num_threads(int32_t n);
DSL_API int32_t dsl_runtime_num_threads(void);
DSL_API int32_t dsl_runtime_set_thread_local_threads(int32_t n);
DSL_API int32_t dsl_runtime_set_blas_threads(int32_t n);
DSL_API int32_t dsl_runtime_blas_threads(void);
/* parallel_gemm.cpp: mm/addmm split over the intra-op threads (1 on, 0 off) */
DSL_API int32_t dsl_runtime_set_parallel_gemm(int32_t enable);
DSL_API int32_t dsl_runtime_parallel_gemm(void);
/* nn.cpp: 2-D convolutions in channels-last layout (1 on, 0 off) */
DSL_API int32_t dsl_runtime_set_conv_channels_last(int32_t enable);
DSL_API int32_t dsl_runtime_conv_channels_last(void);
/* dropout.cpp: CPU dropout masks from a counter-based generator (1) or libtorch's bernoulli_ (0) */
DSL_API int32_t dsl_runtime_set_counter_dropout(int32_t enable);
DSL_API int32_t dsl_runtime_counter_dropout(void);
/* max_pool.cpp: CPU max pooling over tiling windows by the engine's kernels (1) or libtorch's (0) */
DSL_API int32_t dsl_runtime_set_tiled_max_pool(int32_t enable);
DSL_API int32_t dsl_runtime_tiled_max_pool(void);
DSL_API int32_t dsl_runtime_cuda_device_count(void);
DSL_API int32_t dsl_runtime_manual_seed(int64_t seed);
DSL_API dsl_generator dsl_runtime_generator_new(int64_t seed, int32_t device_type, int32_t device_index);
DSL_API void dsl_runtime_generator_free(dsl_generator g);
DSL_API int32_t dsl_runtime_generator_set_seed(dsl_generator g, int64_t seed);
DSL_API dsl_tensor dsl_runtime_generator_state(dsl_generator g);
DSL_API int32_t dsl_runtime_generator_set_state(dsl_generator g, dsl_tensor state);

/* ---- tensor_create.cpp: lifetime, metadata, creation, conversion ---- */
DSL_API void dsl_tensor_free(dsl_tensor t);
DSL_API dsl_tensor dsl_tensor_alias(dsl_tensor t);
DSL_API int32_t dsl_tensor_shape(dsl_tensor t, int64_t* out, int32_t capacity);
DSL_API int32_t dsl_tensor_dtype(dsl_tensor t);
DSL_API int32_t dsl_tensor_device(dsl_tensor t, int32_t* index);
DSL_API int64_t dsl_tensor_numel(dsl_tensor t);
DSL_API int32_t dsl_tensor_is_contiguous(dsl_tensor t);
/* 1 when this handle is the only reference to the tensor and to its storage (no other handle, view or autograd
 * record shares the data) and it does not require grad: an in-place op on it changes nothing anyone else sees. */
DSL_API int32_t dsl_tensor_is_sole_owner(dsl_tensor t);
DSL_API dsl_tensor dsl_tensor_zeros(const int64_t* shape, int32_t n, dsl_options o);
DSL_API dsl_tensor dsl_tensor_ones(const int64_t* shape, int32_t n, dsl_options o);
DSL_API dsl_tensor dsl_tensor_empty(const int64_t* shape, int32_t n, dsl_options o);
DSL_API dsl_tensor dsl_tensor_full(const int64_t* shape, int32_t n, double value, dsl_options o);
DSL_API dsl_tensor dsl_tensor_eye(int64_t rows, int64_t cols, dsl_options o);
DSL_API dsl_tensor dsl_tensor_arange(double start, double end, double step, dsl_options o);
DSL_API dsl_tensor dsl_tensor_linspace(double start, double end, int64_t steps, dsl_options o);
DSL_API dsl_tensor dsl_tensor_rand(const int64_t* shape, int32_t n, dsl_generator g, dsl_options o);
DSL_API dsl_tensor dsl_tensor_randn(const int64_t* shape, int32_t n, dsl_generator g, dsl_options o);
DSL_API dsl_tensor dsl_tensor_randint(int64_t low, int64_t high, const int64_t* shape, int32_t n, dsl_generator g, dsl_options o);
DSL_API dsl_tensor dsl_tensor_normal(double mean, double std, const int64_t* shape, int32_t n, dsl_generator g, dsl_options o);
DSL_API dsl_tensor dsl_tensor_randperm(int64_t n, dsl_generator g, dsl_options o);
DSL_API int32_t dsl_tensor_uniform_(dsl_tensor t, double low, double high, dsl_generator g);
DSL_API int32_t dsl_tensor_normal_(dsl_tensor t, double mean, double std, dsl_generator g);
DSL_API int32_t dsl_tensor_bernoulli_(dsl_tensor t, double p, dsl_generator g);
DSL_API int32_t dsl_tensor_fill_(dsl_tensor t, double value);
DSL_API int32_t dsl_tensor_copy_(dsl_tensor dst, dsl_tensor src);
DSL_API dsl_tensor dsl_tensor_to(dsl_tensor t, int32_t dtype, int32_t device_type, int32_t device_index, int32_t copy);
DSL_API int32_t dsl_tensor_item(dsl_tensor t, double* out);
DSL_API int32_t dsl_tensor_item_int64(dsl_tensor t, int64_t* out);

/* ---- io.cpp: raw data in and out ---- */
DSL_API dsl_tensor dsl_io_from_data(const void* data, int64_t nbytes, const int64_t* shape, int32_t n, dsl_options o);
DSL_API int32_t dsl_io_copy_to(dsl_tensor t, void* dst, int64_t nbytes);
DSL_API int64_t dsl_io_element_size(int32_t dtype);

/* ---- tensor_shape.cpp: views, indexing, joining ---- */
DSL_API dsl_tensor dsl_shape_reshape(dsl_tensor t, const int64_t* shape, int32_t n);
DSL_API dsl_tensor dsl_shape_view(dsl_tensor t, const int64_t* shape, int32_t n);
DSL_API dsl_tensor dsl_shape_permute(dsl_tensor t, const int64_t* dims, int32_t n);
DSL_API dsl_tensor dsl_shape_expand(dsl_tensor t, const int64_t* shape, int32_t n);
DSL_API dsl_tensor dsl_shape_repeat(dsl_tensor t, const int64_t* repeats, int32_t n);
DSL_API dsl_tensor dsl_shape_flip(dsl_tensor t, const int64_t* dims, int32_t n);
DSL_API dsl_tensor dsl_shape_roll(dsl_tensor t, const int64_t* shifts, int32_t n_shifts, const int64_t* dims, int32_t n_dims);
DSL_API dsl_tensor dsl_shape_transpose(dsl_tensor t, int64_t dim0, int64_t dim1);
DSL_API dsl_tensor dsl_shape_flatten(dsl_tensor t, int64_t start_dim, int64_t end_dim);
DSL_API dsl_tensor dsl_shape_squeeze(dsl_tensor t, int64_t dim, int32_t all);
DSL_API dsl_tensor dsl_shape_unsqueeze(dsl_tensor t, int64_t dim);
DSL_API dsl_tensor dsl_shape_narrow(dsl_tensor t, int64_t dim, int64_t start, int64_t length);
DSL_API dsl_tensor dsl_shape_slice(dsl_tensor t, int64_t dim, int64_t start, int64_t end, int64_t step);
DSL_API dsl_tensor dsl_shape_select(dsl_tensor t, int64_t dim, int64_t index);
DSL_API dsl_tensor dsl_shape_index_select(dsl_tensor t, int64_t dim, dsl_tensor index);
DSL_API dsl_tensor dsl_shape_gather(dsl_tensor t, int64_t dim, dsl_tensor index);
DSL_API dsl_tensor dsl_shape_scatter(dsl_tensor t, int64_t dim, dsl_tensor index, dsl_tensor src, int32_t add);
DSL_API dsl_tensor dsl_shape_contiguous(dsl_tensor t);
DSL_API dsl_tensor dsl_shape_clone(dsl_tensor t);
DSL_API dsl_tensor dsl_shape_cat(const dsl_tensor* ts, int32_t count, int64_t dim);
DSL_API dsl_tensor dsl_shape_stack(const dsl_tensor* ts, int32_t count, int64_t dim);
DSL_API int32_t dsl_shape_split(dsl_tensor t, int64_t split_size, int64_t dim, dsl_tensor* out, int32_t capacity);
DSL_API int32_t dsl_shape_chunk(dsl_tensor t, int64_t chunks, int64_t dim, dsl_tensor* out, int32_t capacity);

/* ---- tensor_index.cpp: x[...] with n entries of spec[5] = {kind, flags, a, b, c} and tensors[n] (see the file) ---- */
DSL_API dsl_tensor dsl_shape_index(dsl_tensor t, const int64_t* spec, const dsl_tensor* tensors, int32_t n);
DSL_API int32_t dsl_shape_index_put_(dsl_tensor t, const int64_t* spec, const dsl_tensor* tensors, int32_t n, dsl_tensor value);

/* ---- tensor_math.cpp: elementwise, reductions, linear algebra ---- */
DSL_API dsl_tensor dsl_math_unary(int32_t op, dsl_tensor a);
DSL_API int32_t dsl_math_unary_(int32_t op, dsl_tensor a);
DSL_API dsl_tensor dsl_math_binary(int32_t op, dsl_tensor a, dsl_tensor b);
DSL_API int32_t dsl_math_binary_(int32_t op, dsl_tensor a, dsl_tensor b);
DSL_API dsl_tensor dsl_math_binary_scalar(int32_t op, dsl_tensor a, double s, int32_t integral, int32_t scalar_first);
DSL_API int32_t dsl_math_binary_scalar_(int32_t op, dsl_tensor a, double s, int32_t integral);
/* The scalar as an int64 (exact beyond 2^53). */
DSL_API dsl_tensor dsl_math_binary_long(int32_t op, dsl_tensor a, int64_t s, int32_t scalar_first);
DSL_API int32_t dsl_math_binary_long_(int32_t op, dsl_tensor a, int64_t s);
DSL_API dsl_tensor dsl_math_clamp(dsl_tensor a, double min, double max, int32_t has_min, int32_t has_max);
DSL_API int32_t dsl_math_clamp_(dsl_tensor a, double min, double max, int32_t has_min, int32_t has_max);
DSL_API dsl_tensor dsl_math_where(dsl_tensor cond, dsl_tensor a, dsl_tensor b);
DSL_API dsl_tensor dsl_math_masked_fill(dsl_tensor a, dsl_tensor mask, double value);
DSL_API int32_t dsl_math_masked_fill_(dsl_tensor a, dsl_tensor mask, double value);
DSL_API dsl_tensor dsl_math_reduce(int32_t op, dsl_tensor a, const int64_t* dims, int32_t n, int32_t keepdim);
DSL_API dsl_tensor dsl_math_var(dsl_tensor a, const int64_t* dims, int32_t n, int32_t unbiased, int32_t keepdim, int32_t take_sqrt);
DSL_API dsl_tensor dsl_math_norm(dsl_tensor a, double p, const int64_t* dims, int32_t n, int32_t keepdim);
DSL_API int32_t dsl_math_minmax_dim(int32_t is_max, dsl_tensor a, int64_t dim, int32_t keepdim, dsl_tensor* values, dsl_tensor* indices);
DSL_API dsl_tensor dsl_math_argminmax(int32_t is_max, dsl_tensor a, int64_t dim, int32_t has_dim, int32_t keepdim);
DSL_API int32_t dsl_math_topk(dsl_tensor a, int64_t k, int64_t dim, int32_t largest, dsl_tensor* values, dsl_tensor* indices);
DSL_API dsl_tensor dsl_math_linear(dsl_tensor x, dsl_tensor w, dsl_tensor b);
DSL_API int32_t dsl_math_qr(dsl_tensor a, dsl_tensor* q, dsl_tensor* r);
DSL_API int32_t dsl_math_svd(dsl_tensor a, int32_t full_matrices, dsl_tensor* u, dsl_tensor* s, dsl_tensor* vh);
DSL_API int32_t dsl_math_equal(dsl_tensor a, dsl_tensor b);

/* ---- tensor_select.cpp: sorting, order statistics, masks ---- */
/* Stable sort; median without a dim (has_dim 0) sets *indices to NULL; interpolation codes: 0 linear, 1 lower,
 * 2 higher, 3 midpoint, 4 nearest; quantile takes q as a tensor, or q_scalar when q is NULL. */
DSL_API int32_t dsl_math_sort(dsl_tensor a, int64_t dim, int32_t descending, dsl_tensor* values, dsl_tensor* indices);
DSL_API int32_t dsl_math_median(dsl_tensor a, int64_t dim, int32_t has_dim, int32_t keepdim, int32_t ignore_nan, dsl_tensor* values, dsl_tensor* indices);
DSL_API dsl_tensor dsl_math_quantile(dsl_tensor a, dsl_tensor q, double q_scalar, int64_t dim, int32_t has_dim, int32_t keepdim, int32_t interpolation, int32_t ignore_nan);
DSL_API int32_t dsl_math_kthvalue(dsl_tensor a, int64_t k, int64_t dim, int32_t keepdim, dsl_tensor* values, dsl_tensor* indices);
DSL_API dsl_tensor dsl_math_masked_select(dsl_tensor a, dsl_tensor mask);
/* where(cond, a, b) with a (or b) NULL standing for the scalar a_scalar (b_scalar), or a_long (b_long) when integral. */
DSL_API dsl_tensor dsl_math_where_scalar(dsl_tensor cond, dsl_tensor a, double a_scalar, int64_t a_long, dsl_tensor b, double b_scalar, int64_t b_long, int32_t integral);
DSL_API dsl_tensor dsl_math_nonzero(dsl_tensor a);

/* ---- dropout.cpp: dropout (counter-based CPU masks) ---- */
DSL_API dsl_tensor dsl_nn_dropout(dsl_tensor x, double p, int32_t training, dsl_generator g);

/* ---- nn.cpp: convolutions, pooling, normalisation, activations, losses ---- */
DSL_API dsl_tensor dsl_nn_conv1d(dsl_tensor x, dsl_tensor w, dsl_tensor b, int64_t stride, int64_t padding, int64_t dilation, int64_t groups, int32_t same);
DSL_API dsl_tensor dsl_nn_conv2d(dsl_tensor x, dsl_tensor w, dsl_tensor b, int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w, int64_t dilation_h, int64_t dilation_w, int64_t groups, int32_t same);
DSL_API dsl_tensor dsl_nn_conv_transpose2d(dsl_tensor x, dsl_tensor w, dsl_tensor b, int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w, int64_t out_pad_h, int64_t out_pad_w, int64_t groups, int64_t dilation_h, int64_t dilation_w);
DSL_API dsl_tensor dsl_nn_max_pool2d(dsl_tensor x, int64_t kernel_h, int64_t kernel_w, int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w, int64_t dilation_h, int64_t dilation_w, int32_t ceil_mode);
DSL_API dsl_tensor dsl_nn_avg_pool2d(dsl_tensor x, int64_t kernel_h, int64_t kernel_w, int64_t stride_h, int64_t stride_w, int64_t pad_h, int64_t pad_w, int32_t ceil_mode, int32_t count_include_pad);
DSL_API dsl_tensor dsl_nn_adaptive_avg_pool2d(dsl_tensor x, int64_t out_h, int64_t out_w);
DSL_API dsl_tensor dsl_nn_batch_norm(dsl_tensor x, dsl_tensor weight, dsl_tensor bias, dsl_tensor running_mean, dsl_tensor running_var, int32_t training, double momentum, double eps);
DSL_API dsl_tensor dsl_nn_group_norm(dsl_tensor x, int64_t groups, dsl_tensor weight, dsl_tensor bias, double eps);
DSL_API dsl_tensor dsl_nn_layer_norm(dsl_tensor x, const int64_t* normalized_shape, int32_t n, dsl_tensor weight, dsl_tensor bias, double eps);
DSL_API dsl_tensor dsl_nn_embedding(dsl_tensor weight, dsl_tensor indices, int64_t padding_idx);
DSL_API dsl_tensor dsl_nn_pad(dsl_tensor x, const int64_t* pads, int32_t n, int32_t mode, double value);
DSL_API dsl_tensor dsl_nn_interpolate(dsl_tensor x, int64_t out_h, int64_t out_w, int32_t mode, int32_t align_corners);
DSL_API dsl_tensor dsl_nn_activation(int32_t op, dsl_tensor x, double a, double b);
DSL_API int32_t dsl_nn_activation_(int32_t op, dsl_tensor x, double a, double b);
DSL_API dsl_tensor dsl_nn_softmax(dsl_tensor x, int64_t dim, int32_t log);
DSL_API dsl_tensor dsl_nn_cross_entropy(dsl_tensor logits, dsl_tensor target, dsl_tensor weight, int32_t reduction, int64_t ignore_index, double label_smoothing);
DSL_API dsl_tensor dsl_nn_nll_loss(dsl_tensor log_probs, dsl_tensor target, dsl_tensor weight, int32_t reduction, int64_t ignore_index);
DSL_API dsl_tensor dsl_nn_binary_cross_entropy(dsl_tensor probs, dsl_tensor target, dsl_tensor weight, int32_t reduction);
DSL_API dsl_tensor dsl_nn_bce_with_logits(dsl_tensor logits, dsl_tensor target, dsl_tensor weight, dsl_tensor pos_weight, int32_t reduction);
DSL_API dsl_tensor dsl_nn_regression_loss(int32_t op, dsl_tensor input, dsl_tensor target, int32_t reduction, double param);

/* ---- optim.cpp: fused optimizer steps (state[n * slots] handles are created lazily; scalars[n * scalars]) ---- */
DSL_API int32_t dsl_optim_layout(int32_t kind, int32_t* hyper, int32_t* slots, int32_t* scalars);
DSL_API int32_t dsl_optim_step(int32_t kind, const dsl_tensor* params, int32_t n, dsl_tensor* state, const double* hyper, int32_t n_hyper, double* scalars);
DSL_API int32_t dsl_optim_zero_grad(const dsl_tensor* params, int32_t n, int32_t set_to_none);
DSL_API int32_t dsl_optim_clip_grad_norm(const dsl_tensor* params, int32_t n, double max_norm, double norm_type, double* total_norm);
DSL_API int32_t dsl_optim_clip_grad_value(const dsl_tensor* params, int32_t n, double clip);

/* ---- autograd.cpp ---- */
DSL_API int32_t dsl_autograd_requires_grad(dsl_tensor t);
DSL_API int32_t dsl_autograd_set_requires_grad(dsl_tensor t, int32_t requires_grad);
DSL_API int32_t dsl_autograd_is_leaf(dsl_tensor t);
DSL_API int32_t dsl_autograd_backward(dsl_tensor t, dsl_tensor gradient, int32_t retain_graph, int32_t create_graph);
DSL_API int32_t dsl_autograd_get_grad(dsl_tensor t, dsl_tensor* out);
DSL_API int32_t dsl_autograd_set_grad(dsl_tensor t, dsl_tensor grad);
DSL_API int32_t dsl_autograd_zero_grad(dsl_tensor t, int32_t set_to_none);
DSL_API dsl_tensor dsl_autograd_detach(dsl_tensor t);
DSL_API int32_t dsl_autograd_grad_enabled(void);
DSL_API int32_t dsl_autograd_set_grad_enabled(int32_t enabled);
DSL_API int32_t dsl_autograd_grad(const dsl_tensor* outputs, const dsl_tensor* grad_outputs, int32_t n_outputs,
                                  const dsl_tensor* inputs, int32_t n_inputs, int32_t retain_graph, int32_t create_graph,
                                  int32_t allow_unused, dsl_tensor* results);

/* ---- distributed.cpp: c10d process groups (Gloo) and collectives; every call bounded by the group's timeout ----
 * store_kind 0: TCP store at address:port (rank 0 hosts it); 1: file store at the path `address`.
 * Reduce op codes: 0 sum, 1 mean, 2 max, 3 min. Collectives work in place on contiguous CPU tensors. */
DSL_API dsl_dist_group dsl_dist_new(int32_t store_kind, const char* address, int32_t port, int32_t world_size, int32_t rank, int64_t timeout_ms);
DSL_API void dsl_dist_free(dsl_dist_group g);
DSL_API int32_t dsl_dist_all_reduce(dsl_dist_group g, dsl_tensor t, int32_t op);
/* Broadcasts n tensors from root in buckets (one flat buffer per dtype, up to 25 MiB each). */
DSL_API int32_t dsl_dist_broadcast(dsl_dist_group g, const dsl_tensor* ts, int32_t n, int32_t root);
/* The tensor of every rank, stacked: [world_size, ...]. */
DSL_API dsl_tensor dsl_dist_all_gather(dsl_dist_group g, dsl_tensor t);
DSL_API int32_t dsl_dist_barrier(dsl_dist_group g);
/* Averages the gradients of n parameters across ranks as DistributedDataParallel does: buckets of up to bucket_bytes
 * filled from the last parameter back, each gradient scaled by 1 / world size, then summed (a missing gradient counts
 * as zeros). *sent_bytes (if not NULL) receives the bytes all-reduced. */
DSL_API int32_t dsl_dist_average_grads(dsl_dist_group g, const dsl_tensor* params, int32_t n, int64_t bucket_bytes, int64_t* sent_bytes);
/* The group's key-value store: set, and get (waits up to the timeout for the key; returns the value's length, or,
 * when it does not fit in capacity bytes with its NUL, the capacity it needs). */
DSL_API int32_t dsl_dist_store_set(dsl_dist_group g, const char* key, const char* value);
DSL_API int32_t dsl_dist_store_get(dsl_dist_group g, const char* key, uint8_t* out, int32_t capacity);

#ifdef __cplusplus
}
#endif
#endif
