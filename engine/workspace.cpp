#include "engine/workspace.h"

#include <cstdlib>
#include <new>

#include "engine/block_cache.h"
#include "engine/error.h"
#ifdef BACKLIGHT_HAVE_CUDA
#include "engine/cuda/context.h"
#endif

namespace backlight {

// The pool is a BlockCache (engine/block_cache.h: size classes, best fit within 2x, bounded
// free lists) over 64-byte aligned host memory; the CUDA context keeps its own BlockCache of
// device memory with the same policy.
struct Workspace::State {
  explicit State(size_t max_cached)
      : host(
            [](size_t bytes) {
              void* ptr = std::aligned_alloc(64, bytes);
              if (!ptr) throw std::bad_alloc();  // Tensor::empty reports shape, size and the driving option
              return ptr;
            },
            [](void* ptr) { std::free(ptr); }, max_cached) {}
  BlockCache host;
  size_t max_tensor = SIZE_MAX;  // with_tensor_limit
  std::shared_ptr<cuda::Context> cuda;  // set for for_cuda() workspaces: device blocks come from it
};

Workspace::Workspace(size_t max_cached_bytes) : state_(std::make_shared<State>(max_cached_bytes)) {}

Workspace Workspace::for_cuda(int device, size_t max_cached_bytes) {
  Workspace ws(max_cached_bytes);
#ifdef BACKLIGHT_HAVE_CUDA
  ws.state_->cuda = cuda::create_context(device, max_cached_bytes);
#else
  BL_THROW("Workspace::for_cuda(", device, "): this build has no CUDA backend (rebuild with -DBACKLIGHT_CUDA=ON)");
#endif
  return ws;
}

Workspace Workspace::with_tensor_limit(size_t max_tensor_bytes, size_t max_cached_bytes) {
  Workspace ws(max_cached_bytes);
  ws.state_->max_tensor = max_tensor_bytes;
  return ws;
}

size_t Workspace::max_tensor_bytes() const { return state_->max_tensor; }

cuda::Context* Workspace::cuda_context() const { return state_->cuda.get(); }

std::shared_ptr<float> Workspace::allocate(size_t bytes) const {
#ifdef BACKLIGHT_HAVE_CUDA
  if (state_->cuda) return cuda::allocate(*state_->cuda, bytes);
#endif
  const BlockCache::Block block = state_->host.acquire(bytes);
  // The deleter gives the block back to the pool; it holds the pool state, so tensors may
  // outlive the Workspace handle.
  return std::shared_ptr<float>(static_cast<float*>(block.ptr),
                                [st = state_, block](float*) { st->host.release(block); });
}

WorkspaceStats Workspace::stats() const {
#ifdef BACKLIGHT_HAVE_CUDA
  if (state_->cuda) {
    const BlockCacheStats d = cuda::cache_stats(*state_->cuda);
    return {d.bytes_cached, d.bytes_in_use, d.fresh_allocations, d.reused_allocations};
  }
#endif
  const BlockCacheStats h = state_->host.stats();
  return {h.bytes_cached, h.bytes_in_use, h.fresh_allocations, h.reused_allocations};
}

void Workspace::trim() const {
#ifdef BACKLIGHT_HAVE_CUDA
  if (state_->cuda) return cuda::trim_cache(*state_->cuda);
#endif
  state_->host.trim();
}

}  // namespace backlight
