// CUDA implementation of the batched IG kernels (compiled in CUDA builds; no device here, so
// never run in this project's CI - see docs/cuda.md). Same math as the CPU code (ig_math.h).
#include <cuda_runtime.h>

#include "engine/error.h"
#include "kernels/detail/ig_math.h"
#include "kernels/ig.h"

namespace backlight {

namespace {

// --- kernels
__global__ void ig_interpolate_kernel(const float* x, const float* b, const float* alphas, long long total,
                                      long long steps, float* out) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i >= total * steps) return;
  const long long k = i / total, e = i % total;
  out[i] = ig_math::interpolate(x[e], b[e], alphas[k]);
}

__global__ void ig_accumulate_kernel(const float* grads, const float* weights, long long total, long long steps,
                                     float* acc) {
  const long long i = blockIdx.x * static_cast<long long>(blockDim.x) + threadIdx.x;
  if (i >= total) return;
  float s = acc[i];
  for (long long k = 0; k < steps; ++k) s += weights[k] * grads[k * total + i];
  acc[i] = s;
}

// --- launchers
void check(cudaError_t e, const char* what) {
  BL_CHECK(e == cudaSuccess, what, ": ", cudaGetErrorString(e));
}

float* upload(const float* v, long long n, cudaStream_t s) {
  float* d = nullptr;
  check(cudaMallocAsync(&d, n * sizeof(float), s), "ig: cudaMallocAsync");
  check(cudaMemcpyAsync(d, v, n * sizeof(float), cudaMemcpyHostToDevice, s), "ig: cudaMemcpyAsync");
  return d;
}

}  // namespace

// --- dispatch
void ig_interpolate_cuda(const IgChunk& c, float* out, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  const long long total = c.items * c.per_item, steps = c.steps;
  float* alphas = upload(c.alphas, steps, s);
  const int threads = 256;
  const long long blocks = (total * steps + threads - 1) / threads;
  ig_interpolate_kernel<<<static_cast<unsigned>(blocks), threads, 0, s>>>(c.input, c.baseline, alphas, total, steps,
                                                                          out);
  check(cudaGetLastError(), "ig_interpolate_kernel launch");
  check(cudaFreeAsync(alphas, s), "ig: cudaFreeAsync");
}

void ig_accumulate_cuda(const IgChunk& c, const float* grads, float* acc, void* stream) {
  auto s = static_cast<cudaStream_t>(stream);
  const long long total = c.items * c.per_item, steps = c.steps;
  float* weights = upload(c.weights, steps, s);
  const int threads = 256;
  const long long blocks = (total + threads - 1) / threads;
  ig_accumulate_kernel<<<static_cast<unsigned>(blocks), threads, 0, s>>>(grads, weights, total, steps, acc);
  check(cudaGetLastError(), "ig_accumulate_kernel launch");
  check(cudaFreeAsync(weights, s), "ig: cudaFreeAsync");
}

}  // namespace backlight
