// cuda::Context: stream, cuBLAS/cuDNN handles and the caching device allocator (see context.h).
#include "engine/cuda/context_impl.cuh"

namespace backlight::cuda {

// check.h spells cuBLAS's status numbers out (to name them on the CPU too); keep them honest.
static_assert(CUBLAS_STATUS_NOT_INITIALIZED == 1 && CUBLAS_STATUS_ALLOC_FAILED == 3 &&
                  CUBLAS_STATUS_INVALID_VALUE == 7 && CUBLAS_STATUS_ARCH_MISMATCH == 8 &&
                  CUBLAS_STATUS_MAPPING_ERROR == 11 && CUBLAS_STATUS_EXECUTION_FAILED == 13 &&
                  CUBLAS_STATUS_INTERNAL_ERROR == 14 && CUBLAS_STATUS_NOT_SUPPORTED == 15 &&
                  CUBLAS_STATUS_LICENSE_ERROR == 16,
              "cuBLAS status numbering changed: update cublas_status_text in engine/cuda/check.h");

namespace {

BlockCache::AllocFn device_alloc(int device) {
  return [device](size_t bytes) -> void* {
    BL_CUDA_CHECK(cudaSetDevice(device));
    void* ptr = nullptr;
    BL_CUDA_CHECK(cudaMalloc(&ptr, bytes));
    return ptr;
  };
}

BlockCache::FreeFn device_free(int device) {
  // Runs in deleters and destructors: must not throw; a failing cudaFree at exit is ignored.
  return [device](void* ptr) {
    if (cudaSetDevice(device) == cudaSuccess && cudaFree(ptr) == cudaSuccess) return;
    cudaGetLastError();
  };
}

}  // namespace

Context::Context(int dev, size_t max_cached_bytes)
    : device(dev), cache(device_alloc(dev), device_free(dev), max_cached_bytes) {
  BL_CUDA_CHECK(cudaSetDevice(device));
  BL_CUDA_CHECK(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking));
  BL_CUBLAS_CHECK(cublasCreate(&cublas));
  BL_CUBLAS_CHECK(cublasSetStream(cublas, stream));
  // Plain FP32 arithmetic (no TF32): results comparable with the CPU path.
  BL_CUBLAS_CHECK(cublasSetMathMode(cublas, CUBLAS_DEFAULT_MATH));
  BL_CUDNN_CHECK(cudnnCreate(&cudnn));
  BL_CUDNN_CHECK(cudnnSetStream(cudnn, stream));
}

Context::~Context() {
  if (cudaSetDevice(device) != cudaSuccess) return;
  if (stream) cudaStreamSynchronize(stream);
  cache.trim();
  if (cudnn) cudnnDestroy(cudnn);
  if (cublas) cublasDestroy(cublas);
  if (stream) cudaStreamDestroy(stream);
  cudaGetLastError();
}

std::shared_ptr<Context> create_context(int device, size_t max_cached_bytes) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    cudaGetLastError();
    BL_THROW("cuda: device ", device, " requested, but no CUDA device is usable (cudaGetDeviceCount: ",
             cudaGetErrorString(e), " (", cudaGetErrorName(e), ")); run on the CPU instead");
  }
  BL_CHECK(device >= 0 && device < count, "cuda: device ", device, " requested, but ", count,
           " CUDA device(s) exist; run on the CPU instead");
  return std::make_shared<Context>(device, max_cached_bytes);
}

int device_index(const Context& ctx) { return ctx.device; }

std::shared_ptr<float> allocate(Context& ctx, size_t bytes) {
  const BlockCache::Block b = ctx.cache.acquire(bytes);
  std::shared_ptr<Context> owner = ctx.shared_from_this();  // blocks keep their context alive
  return std::shared_ptr<float>(static_cast<float*>(b.ptr), [owner, b](float*) { owner->cache.release(b); });
}

BlockCacheStats cache_stats(const Context& ctx) { return ctx.cache.stats(); }

void trim_cache(Context& ctx) {
  synchronize(ctx);  // cached blocks may still be read by enqueued work
  ctx.cache.trim();
}

void copy_to_device(Context& ctx, float* dst, const float* src, int64_t n) {
  if (n <= 0) return;
  use_device(ctx);
  BL_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyHostToDevice, ctx.stream));
}

void copy_to_host(Context& ctx, float* dst, const float* src, int64_t n) {
  if (n <= 0) return;
  use_device(ctx);
  BL_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToHost, ctx.stream));
  BL_CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
}

void copy_on_device(Context& ctx, float* dst, const float* src, int64_t n) {
  if (n <= 0 || dst == src) return;
  use_device(ctx);
  BL_CUDA_CHECK(cudaMemcpyAsync(dst, src, n * sizeof(float), cudaMemcpyDeviceToDevice, ctx.stream));
}

namespace {
__global__ void fill_kernel(float* dst, int64_t n, float value) {
  BL_GRID_LOOP(i, n) dst[i] = value;
}
}  // namespace

void fill(Context& ctx, float* dst, int64_t n, float value) { BL_LAUNCH(ctx, n, fill_kernel, dst, n, value); }

void synchronize(Context& ctx) {
  use_device(ctx);
  BL_CUDA_CHECK(cudaStreamSynchronize(ctx.stream));
}

CudaStream launch_stream(Context& ctx) {
  use_device(ctx);
  return ctx.stream;
}

}  // namespace backlight::cuda
