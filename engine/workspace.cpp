#include "engine/workspace.h"

#include <cstdlib>
#include <map>
#include <mutex>
#include <new>
#include <vector>

#include "engine/block_cache.h"
#include "engine/error.h"
#ifdef BACKLIGHT_HAVE_CUDA
#include "kernels/cuda/context.h"
#endif

namespace backlight {

struct Workspace::State {
  std::mutex mutex;
  std::multimap<size_t, void*> free_blocks;  // rounded size -> block
  size_t max_cached = 0;
  WorkspaceStats stats;
  std::shared_ptr<cuda::Context> cuda;  // set for for_cuda() workspaces: device blocks come from it

  ~State() {
    for (auto& [size, ptr] : free_blocks) std::free(ptr);
  }
};

namespace {

// Round up so that blocks of nearby sizes (e.g. the last, smaller chunk of a batched run) can be
// reused: multiples of 1/8 of the next power of two waste at most 12.5% (the policy is shared
// with the device allocator, block_cache.h).
size_t round_block_size(size_t bytes) { return BlockCache::size_class(bytes); }

}  // namespace

Workspace::Workspace(size_t max_cached_bytes) : state_(std::make_shared<State>()) {
  state_->max_cached = max_cached_bytes;
}

namespace {

// The deleter returns the block to the free lists (or to the system when the cache is full).
std::shared_ptr<float> make_block(const std::shared_ptr<Workspace::State>& st, void* ptr, size_t size);

}  // namespace

Workspace Workspace::for_cuda(int device, size_t max_cached_bytes) {
  Workspace ws(max_cached_bytes);
#ifdef BACKLIGHT_HAVE_CUDA
  ws.state_->cuda = cuda::create_context(device, max_cached_bytes);
#else
  BL_THROW("Workspace::for_cuda(", device, "): this build has no CUDA backend (rebuild with -DBACKLIGHT_CUDA=ON)");
#endif
  return ws;
}

cuda::Context* Workspace::cuda_context() const { return state_->cuda.get(); }

std::shared_ptr<float> Workspace::allocate(size_t bytes) const {
#ifdef BACKLIGHT_HAVE_CUDA
  if (state_->cuda) return cuda::allocate(*state_->cuda, bytes);
#endif
  const size_t size = round_block_size(bytes);
  {
    std::lock_guard lock(state_->mutex);
    // Best fit: the smallest cached block that is large enough, but at most twice the size
    // (a huge block serving a tiny request would pin memory).
    auto it = state_->free_blocks.lower_bound(size);
    if (it != state_->free_blocks.end() && it->first <= 2 * size) {
      void* ptr = it->second;
      const size_t got = it->first;
      state_->free_blocks.erase(it);
      state_->stats.bytes_cached -= got;
      state_->stats.bytes_in_use += got;
      ++state_->stats.reused_allocations;
      return make_block(state_, ptr, got);
    }
    ++state_->stats.fresh_allocations;
    state_->stats.bytes_in_use += size;
  }
  void* ptr = std::aligned_alloc(64, size);
  if (!ptr) {
    std::lock_guard lock(state_->mutex);
    state_->stats.bytes_in_use -= size;
    BL_THROW("Workspace::allocate: out of memory requesting ", bytes, " bytes");
  }
  return make_block(state_, ptr, size);
}

namespace {

std::shared_ptr<float> make_block(const std::shared_ptr<Workspace::State>& st, void* ptr, size_t size) {
  return std::shared_ptr<float>(static_cast<float*>(ptr), [st, size](float* p) {
    std::lock_guard lock(st->mutex);
    st->stats.bytes_in_use -= size;
    if (st->stats.bytes_cached + size <= st->max_cached) {
      st->free_blocks.emplace(size, p);
      st->stats.bytes_cached += size;
    } else {
      std::free(p);
    }
  });
}

}  // namespace

WorkspaceStats Workspace::stats() const {
#ifdef BACKLIGHT_HAVE_CUDA
  if (state_->cuda) {
    const BlockCacheStats d = cuda::cache_stats(*state_->cuda);
    return {d.bytes_cached, d.bytes_in_use, d.fresh_allocations, d.reused_allocations};
  }
#endif
  std::lock_guard lock(state_->mutex);
  return state_->stats;
}

void Workspace::trim() const {
#ifdef BACKLIGHT_HAVE_CUDA
  if (state_->cuda) return cuda::trim_cache(*state_->cuda);
#endif
  std::lock_guard lock(state_->mutex);
  for (auto& [size, ptr] : state_->free_blocks) std::free(ptr);
  state_->free_blocks.clear();
  state_->stats.bytes_cached = 0;
}

}  // namespace backlight
