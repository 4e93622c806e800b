#pragma once
/// BlockCache: the caching policy of a memory pool, separated from the memory it manages.
///
/// The CUDA backend keeps device blocks here (cudaMalloc/cudaFree are the callbacks) so repeated
/// attribution calls reuse memory instead of calling cudaMalloc in the loop; every host Workspace
/// is one over aligned host memory; tests drive it with a fake allocator. Policy: requests are
/// rounded to size classes (4 KiB minimum, then multiples of 1/8 of the next power of two, so at
/// most 12.5% waste), a request takes the smallest cached block that fits but at most twice its
/// class (a huge block never pins memory for a tiny request), and released blocks are cached
/// until `max_cached` bytes are held, beyond which they go back through `free`.
///
/// Thread-safe (one mutex; one lock per allocation, never per element). Header-only and C++17 so
/// the CUDA sources (C++17, see cmake/Cuda.cmake) can use it.
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <utility>

namespace backlight {

struct BlockCacheStats {
  size_t bytes_cached = 0;        ///< bytes held in free lists, ready for reuse
  size_t bytes_in_use = 0;        ///< bytes handed out and not yet released
  size_t fresh_allocations = 0;   ///< requests served by the underlying allocator
  size_t reused_allocations = 0;  ///< requests served from the free lists
};

class BlockCache {
 public:
  /// Returns a block of `bytes` bytes or throws (never returns null).
  using AllocFn = std::function<void*(size_t bytes)>;
  using FreeFn = std::function<void(void* ptr)>;

  struct Block {
    void* ptr = nullptr;
    size_t size = 0;  ///< the size class actually reserved (>= the request)
  };

  BlockCache(AllocFn alloc, FreeFn free, size_t max_cached_bytes)
      : alloc_(std::move(alloc)), free_(std::move(free)), max_cached_(max_cached_bytes) {}
  BlockCache(const BlockCache&) = delete;
  BlockCache& operator=(const BlockCache&) = delete;
  ~BlockCache() { trim(); }

  /// The size class of a request (see the top of this file).
  static size_t size_class(size_t bytes) {
    if (bytes <= 4096) return 4096;
    size_t pow2 = 4096;
    while (pow2 < bytes) pow2 <<= 1;
    const size_t step = pow2 / 8;
    return (bytes + step - 1) / step * step;
  }

  /// A block of at least `bytes` bytes: cached when one fits, else fresh from `alloc`.
  Block acquire(size_t bytes) {
    const size_t size = size_class(bytes);
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto it = free_blocks_.lower_bound(size);
      if (it != free_blocks_.end() && it->first <= 2 * size) {
        Block b{it->second, it->first};
        free_blocks_.erase(it);
        stats_.bytes_cached -= b.size;
        stats_.bytes_in_use += b.size;
        ++stats_.reused_allocations;
        return b;
      }
    }
    void* ptr = alloc_(size);  // outside the lock: may be slow, may throw
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.fresh_allocations;
    stats_.bytes_in_use += size;
    return Block{ptr, size};
  }

  /// Gives a block from acquire() back: cached, or freed when the cache is full.
  void release(Block b) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stats_.bytes_in_use -= b.size;
      if (stats_.bytes_cached + b.size <= max_cached_) {
        free_blocks_.emplace(b.size, b.ptr);
        stats_.bytes_cached += b.size;
        return;
      }
    }
    free_(b.ptr);
  }

  /// Frees every cached block (blocks in use are unaffected).
  void trim() {
    std::multimap<size_t, void*> blocks;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      blocks.swap(free_blocks_);
      stats_.bytes_cached = 0;
    }
    for (auto& entry : blocks) free_(entry.second);
  }

  BlockCacheStats stats() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stats_;
  }

 private:
  AllocFn alloc_;
  FreeFn free_;
  size_t max_cached_;
  mutable std::mutex mutex_;
  std::multimap<size_t, void*> free_blocks_;  // size class -> block
  BlockCacheStats stats_;
};

}  // namespace backlight
