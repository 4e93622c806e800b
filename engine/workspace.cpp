#include "engine/workspace.h"

#include <cstdlib>
#include <new>
#ifdef __linux__
#include <sys/mman.h>
#endif

#include "engine/block_cache.h"
#include "engine/error.h"
#ifdef BACKLIGHT_HAVE_CUDA
#include "engine/cuda/context.h"
#endif

namespace backlight {

// The pool is a BlockCache (engine/block_cache.h: size classes, best fit within 2x, bounded
// free lists) over 64-byte aligned host memory; the CUDA context keeps its own BlockCache of
// device memory with the same policy.
//
// Blocks of 2 MiB and more are 2 MiB aligned and marked MADV_HUGEPAGE (Linux): their first touch
// then faults once per 2 MiB instead of once per 4 KiB page (the kernel's "madvise" THP mode,
// the common default, gives huge pages only to regions that ask). The first chunk of an
// attribution run touches all of its activations fresh: EfficientNet-B0 IG recorded ~1 GB per
// 10-row chunk, and page faults plus page clearing were ~15% of a run in perf (issue 16).
namespace {
constexpr size_t kHugePage = size_t{2} << 20;

void* host_alloc(size_t bytes) {
  const bool huge = bytes >= kHugePage;
  const size_t align = huge ? kHugePage : 64;
  const size_t size = (bytes + align - 1) / align * align;  // aligned_alloc wants a multiple
  void* ptr = std::aligned_alloc(align, size);
  if (!ptr) throw std::bad_alloc();  // Tensor::empty reports shape, size and the driving option
#ifdef __linux__
  if (huge) madvise(ptr, size, MADV_HUGEPAGE);  // advice only: failure leaves 4 KiB pages
#endif
  return ptr;
}
}  // namespace

struct Workspace::State {
  explicit State(size_t max_cached) : host(host_alloc, [](void* ptr) { std::free(ptr); }, max_cached) {}
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
