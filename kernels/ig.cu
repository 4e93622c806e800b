// CUDA tier of the batched IG kernels (kernels/ig.h), compiled in CUDA builds; no device here, so
// never run in this project's CI (docs/cuda.md). Same math as the CPU tier (ig_math.h).
//
// Variants: one each, grid-stride loops with one thread per output element (coalesced, no
// atomics). The chunk's alphas/weights travel by value in the kernel parameters, kMaxSteps per
// launch (512 bytes, far below the 4 KiB parameter limit), so nothing is allocated or copied per
// call; longer chunks take several launches in step order, which keeps accumulate's summation
// order (k ascending) the CPU tier's. Nothing here synchronises.
#include <cuda_runtime.h>

#include "engine/cuda/check.h"
#include "engine/cuda/launch.h"
#include "engine/error.h"
#include "kernels/detail/ig_math.h"
#include "kernels/ig.h"

namespace backlight {

namespace {

constexpr int kMaxSteps = 128;
constexpr int kThreads = 256;

unsigned grid_for(int64_t n) { return cuda::grid_for(n, kThreads); }

struct StepValues {
  float v[kMaxSteps];
};

StepValues step_values(const float* host, int64_t first, int64_t count) {
  StepValues s{};
  for (int64_t k = 0; k < count; ++k) s.v[k] = host[first + k];
  return s;
}

// --- kernels

// out[k * total + e] = interpolate(x[e], b[e], alpha_k) for the `steps` steps of this launch.
__global__ void ig_interpolate_kernel(const float* x, const float* b, StepValues alphas, int64_t total, int64_t steps,
                                      float* out) {
  const int64_t n = total * steps;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t k = i / total, e = i % total;
    out[i] = ig_math::interpolate(x[e], b[e], alphas.v[k]);
  }
}

__global__ void ig_accumulate_kernel(const float* grads, StepValues weights, int64_t total, int64_t steps,
                                     float* acc) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float s = acc[i];
    for (int64_t k = 0; k < steps; ++k) s += weights.v[k] * grads[k * total + i];
    acc[i] = s;
  }
}

__global__ void ig_finish_kernel(const float* x, const float* b, int64_t total, bool multiply_by_inputs,
                                 float divisor, float* acc, float* attr) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float a = ig_math::path_attribution(x[i], b[i], acc[i], multiply_by_inputs);
    attr[i] += a / divisor;
    acc[i] = a;
  }
}

// --- launchers

}  // namespace

// --- dispatch (one variant each)

void ig_interpolate_cuda(const IgChunk& c, float* out, CudaStream stream) {
  const int64_t total = c.items * c.per_item;
  if (total == 0) return;
  for (int64_t k0 = 0; k0 < c.steps; k0 += kMaxSteps) {
    const int64_t m = c.steps - k0 < kMaxSteps ? c.steps - k0 : kMaxSteps;
    ig_interpolate_kernel<<<grid_for(total * m), kThreads, 0, stream>>>(c.input, c.baseline,
                                                                         step_values(c.alphas, k0, m), total, m,
                                                                         out + k0 * total);
    BL_CUDA_CHECK_LAUNCH(ig_interpolate_cuda);
  }
}

void ig_accumulate_cuda(const IgChunk& c, const float* grads, float* acc, CudaStream stream) {
  const int64_t total = c.items * c.per_item;
  if (total == 0) return;
  for (int64_t k0 = 0; k0 < c.steps; k0 += kMaxSteps) {
    const int64_t m = c.steps - k0 < kMaxSteps ? c.steps - k0 : kMaxSteps;
    ig_accumulate_kernel<<<grid_for(total), kThreads, 0, stream>>>(grads + k0 * total, step_values(c.weights, k0, m),
                                                                   total, m, acc);
    BL_CUDA_CHECK_LAUNCH(ig_accumulate_cuda);
  }
}

void ig_finish_cuda(const IgChunk& c, float* acc, bool multiply_by_inputs, float divisor, float* attr,
                    CudaStream stream) {
  const int64_t total = c.items * c.per_item;
  if (total == 0) return;
  ig_finish_kernel<<<grid_for(total), kThreads, 0, stream>>>(c.input, c.baseline, total, multiply_by_inputs, divisor,
                                                             acc, attr);
  BL_CUDA_CHECK_LAUNCH(ig_finish_cuda);
}

}  // namespace backlight
