#pragma once
// The definition of cuda::Context and launch helpers, shared by the .cu files of the backend.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <cudnn.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>

#include "engine/block_cache.h"
#include "engine/cuda/check.h"
#include "engine/cuda/context.h"

namespace backlight::cuda {

class Context : public std::enable_shared_from_this<Context> {
 public:
  Context(int device, size_t max_cached_bytes);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  int device = 0;
  cudaStream_t stream = nullptr;
  cublasHandle_t cublas = nullptr;
  cudnnHandle_t cudnn = nullptr;
  BlockCache cache;

  // cuDNN algorithm choice per convolution geometry (key: the 16 numbers of the geometry plus
  // the direction), looked up once per shape.
  using ConvKey = std::tuple<int, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int, int, int, int,
                             int, int, int>;
  std::mutex algo_mutex;
  std::map<ConvKey, int> conv_algos;
};

/// Makes `ctx.device` current for the calling thread (cheap when it already is).
inline void use_device(const Context& ctx) { BL_CUDA_CHECK(cudaSetDevice(ctx.device)); }

inline unsigned blocks_for(int64_t n, int threads = 256) {
  const int64_t b = (n + threads - 1) / threads;
  return static_cast<unsigned>(b < 1 ? 1 : (b > 65535LL * 1024 ? 65535LL * 1024 : b));
}

/// Grid-stride loop index helpers (kernels cover any n with a bounded grid).
#define BL_GRID_LOOP(i, n)                                                                       \
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < (n);         \
       i += static_cast<int64_t>(blockDim.x) * gridDim.x)

/// Enqueues kernel<<<grid for n, 256, 0, stream>>>(args...) and checks the launch.
#define BL_LAUNCH(ctx, n, kernel, ...)                                                           \
  do {                                                                                           \
    if ((n) > 0) {                                                                               \
      ::backlight::cuda::use_device(ctx);                                                        \
      kernel<<<::backlight::cuda::blocks_for(n), 256, 0, (ctx).stream>>>(__VA_ARGS__);           \
      BL_CUDA_CHECK(cudaGetLastError());                                                         \
    }                                                                                            \
  } while (0)

/// A device scratch block from the context's cache, returned when the holder is dropped.
inline std::shared_ptr<float> scratch(Context& ctx, size_t bytes) { return allocate(ctx, bytes); }

/// Copies a small host array (geometry tables) into a device scratch block.
template <class T>
std::shared_ptr<float> upload(Context& ctx, const T* host, int64_t count) {
  auto block = allocate(ctx, static_cast<size_t>(count) * sizeof(T) + 1);
  if (count > 0)
    BL_CUDA_CHECK(cudaMemcpyAsync(block.get(), host, static_cast<size_t>(count) * sizeof(T), cudaMemcpyHostToDevice,
                                  ctx.stream));
  return block;
}

}  // namespace backlight::cuda
