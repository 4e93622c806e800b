// BlockCache (engine/block_cache.h): the caching policy of the CUDA device allocator, driven by a
// fake allocator on the CPU.
#include <doctest/doctest.h>

#include <map>
#include <memory>
#include <vector>

#include "engine/block_cache.h"

using namespace backlight;

namespace {

// Hands out distinct host buffers and records every call.
struct FakeAllocator {
  std::map<void*, size_t> live;  // pointer -> bytes
  int allocs = 0, frees = 0;
  std::vector<std::unique_ptr<char[]>> storage;

  BlockCache make(size_t max_cached) {
    return BlockCache(
        [this](size_t bytes) -> void* {
          storage.push_back(std::make_unique<char[]>(bytes));
          void* p = storage.back().get();
          live[p] = bytes;
          ++allocs;
          return p;
        },
        [this](void* p) {
          REQUIRE(live.count(p) == 1);  // never a double or foreign free
          live.erase(p);
          ++frees;
        },
        max_cached);
  }
};

}  // namespace

TEST_SUITE("engine") {

TEST_CASE("block_cache: size classes are 4 KiB at least, then 1/8 steps of the next power of two") {
  CHECK(BlockCache::size_class(1) == 4096);
  CHECK(BlockCache::size_class(4096) == 4096);
  CHECK(BlockCache::size_class(4097) == 5120);  // pow2 8192, step 1024
  CHECK(BlockCache::size_class(10000) == 10240);
  CHECK(BlockCache::size_class(size_t{1} << 20) == size_t{1} << 20);
  CHECK(BlockCache::size_class((size_t{1} << 20) + 1) == (size_t{1} << 20) + (size_t{1} << 18));
}

TEST_CASE("block_cache: a released block serves the next request of its class without allocating") {
  FakeAllocator fake;
  {
    BlockCache cache = fake.make(size_t{1} << 30);
    const BlockCache::Block a = cache.acquire(10000);
    CHECK(a.size == 10240);
    CHECK(fake.allocs == 1);
    cache.release(a);
    CHECK(cache.stats().bytes_cached == 10240);
    CHECK(cache.stats().bytes_in_use == 0);
    const BlockCache::Block b = cache.acquire(9000);  // same class
    CHECK(b.ptr == a.ptr);
    CHECK(fake.allocs == 1);
    const BlockCacheStats s = cache.stats();
    CHECK(s.fresh_allocations == 1);
    CHECK(s.reused_allocations == 1);
    CHECK(s.bytes_in_use == 10240);
    CHECK(s.bytes_cached == 0);
    cache.release(b);
  }
  CHECK(fake.frees == 1);  // the destructor frees what the cache held
  CHECK(fake.live.empty());
}

TEST_CASE("block_cache: a block more than twice the request is not handed out") {
  FakeAllocator fake;
  BlockCache cache = fake.make(size_t{1} << 30);
  const BlockCache::Block big = cache.acquire(size_t{1} << 20);
  cache.release(big);
  const BlockCache::Block small = cache.acquire(4096);
  CHECK(small.ptr != big.ptr);
  CHECK(fake.allocs == 2);
  const BlockCache::Block half = cache.acquire((size_t{1} << 19) + 1);  // class 640 KiB: 1 MiB <= 2x
  CHECK(half.ptr == big.ptr);
  cache.release(small);
  cache.release(half);
}

TEST_CASE("block_cache: the cache keeps at most max_cached bytes; trim frees the rest") {
  FakeAllocator fake;
  BlockCache cache = fake.make(8192);
  const BlockCache::Block a = cache.acquire(4096), b = cache.acquire(4096), c = cache.acquire(4096);
  CHECK(fake.allocs == 3);
  cache.release(a);
  cache.release(b);
  CHECK(fake.frees == 0);
  cache.release(c);  // would exceed 8192 cached bytes: freed at once
  CHECK(fake.frees == 1);
  CHECK(cache.stats().bytes_cached == 8192);
  cache.trim();
  CHECK(fake.frees == 3);
  CHECK(cache.stats().bytes_cached == 0);
  CHECK(fake.live.empty());
}

TEST_CASE("block_cache: a failing allocator leaves the statistics unchanged") {
  BlockCache cache([](size_t) -> void* { throw std::runtime_error("out of fake memory"); }, [](void*) {}, 1 << 20);
  CHECK_THROWS_WITH(cache.acquire(100), "out of fake memory");
  CHECK(cache.stats().bytes_in_use == 0);
  CHECK(cache.stats().fresh_allocations == 0);
}

}  // TEST_SUITE
