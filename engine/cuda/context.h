#pragma once
/// cuda::Context: everything one caller's device work needs, owned by the caller (a
/// Workspace made with Workspace::for_cuda; there is no global pool or handle).
///
///   - the device index, one non-blocking stream on which every op of this context runs,
///   - a cuBLAS and a cuDNN handle bound to that stream (cuDNN convolution algorithms are cached
///     per shape in the context),
///   - a caching device allocator (BlockCache over cudaMalloc/cudaFree), so repeated attribution
///     calls reuse device blocks instead of calling cudaMalloc in the loop.
///
/// Stream ordering makes the cache safe without events: a block released by a tensor is only
/// reused by work enqueued later on the same stream. Device tensors keep their context alive
/// (the storage deleter holds it). Syncs: only the copies to the host and synchronize().
/// C++17, no CUDA headers (the engine, C++20, includes it); implemented in context.cu.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "engine/block_cache.h"
#include "engine/cuda/stream.h"

namespace backlight::cuda {

class Context;

/// Creates a context on `device` (throws backlight::Error naming the failing CUDA call, e.g.
/// when there is no device). `max_cached_bytes` bounds the allocator's free lists.
std::shared_ptr<Context> create_context(int device, size_t max_cached_bytes);
int device_index(const Context& ctx);
/// A device block of at least `bytes` bytes; dropping the pointer returns it to the cache.
std::shared_ptr<float> allocate(Context& ctx, size_t bytes);
BlockCacheStats cache_stats(const Context& ctx);
/// Frees the cached (unused) device blocks.
void trim_cache(Context& ctx);

/// Copies of n floats. Host to device: async on the stream (the host buffer may be reused when
/// the call returns). Device to host: waits for the stream (a sync point).
void copy_to_device(Context& ctx, float* dst, const float* src, int64_t n);
void copy_to_host(Context& ctx, float* dst, const float* src, int64_t n);
void copy_on_device(Context& ctx, float* dst, const float* src, int64_t n);
void fill(Context& ctx, float* dst, int64_t n, float value);
/// Waits until every op enqueued on the context's stream has finished.
void synchronize(Context& ctx);
/// Makes the context's device current for the calling thread and returns its stream, for the
/// fused attribution kernels that take a stream argument (kernels/dispatch.h).
CudaStream launch_stream(Context& ctx);

}  // namespace backlight::cuda
