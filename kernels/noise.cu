// CUDA tier of the noise-tunnel kernels (kernels/noise.h), compiled in CUDA builds; no device
// here, so never run in this project's CI (docs/cuda.md). Same math as the CPU tier
// (noise_math.h).
//
// Variants: one each, grid-stride loops with one thread per output element (coalesced writes,
// no atomics). noise_rows: each thread draws its own element; the two threads of a Box-Muller
// pair both run the Philox block (cheaper than sharing through memory). moments_add: one thread
// per element of the aggregate, looping over its copies in order (double, as the CPU tier).
// Bytes: noise_rows writes items * copies * per floats and reads the input rows (L2-resident)
// plus the explicit noise when given; moments_add reads that many floats and updates 2 doubles
// per element. Nothing here synchronises.
#include <cuda_runtime.h>

#include "engine/cuda/check.h"
#include "engine/cuda/launch.h"
#include "engine/error.h"
#include "kernels/detail/noise_math.h"
#include "kernels/noise.h"

namespace backlight {

namespace {

constexpr int kThreads = 256;

unsigned grid_for(int64_t n) { return cuda::grid_for(n, kThreads); }

// --- kernels

__global__ void noise_rows_kernel(NoiseRows r, int64_t total, float* out) {
  for (int64_t idx = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t row = idx / r.per_item, i = idx % r.per_item;
    const int64_t n = row / r.copies, s = r.first_sample + row % r.copies;
    const float x = r.input[n * r.per_item + i];
    if (r.given) {
      out[idx] = x + r.given[(s * r.items + n) * r.per_item + i];
    } else {
      const uint64_t stream = noise_math::noise_stream(r.stream_base, s, r.items, n);
      out[idx] = noise_math::noisy(x, r.stdev[n], r.seed, stream, static_cast<uint64_t>(i));
    }
  }
}

__global__ void moments_add_kernel(const float* a, int64_t items, int64_t copies, int64_t per, double* sum,
                                   double* sum_sq) {
  const int64_t total = items * per;
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < total;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x)
    noise_math::moments_add_at(a, k, copies, per, sum, sum_sq);
}

__global__ void moments_finish_kernel(const double* sum, const double* sum_sq, int64_t count, int64_t samples,
                                      MomentStat stat, float* out) {
  for (int64_t k = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; k < count;
       k += static_cast<int64_t>(gridDim.x) * blockDim.x)
    out[k] = static_cast<float>(noise_math::moment(sum[k], sum_sq[k], static_cast<double>(samples), stat));
}

// --- launchers

}  // namespace

// --- dispatch (one variant each)

void noise_rows_cuda(const NoiseRows& r, float* out, CudaStream stream) {
  const int64_t total = r.items * r.copies * r.per_item;
  if (total == 0) return;
  noise_rows_kernel<<<grid_for(total), kThreads, 0, stream>>>(r, total, out);
  BL_CUDA_CHECK_LAUNCH(noise_rows_cuda);
}

void moments_add_cuda(const float* a, int64_t items, int64_t copies, int64_t per, double* sum, double* sum_sq,
                      CudaStream stream) {
  if (items * per == 0) return;
  moments_add_kernel<<<grid_for(items * per), kThreads, 0, stream>>>(a, items, copies, per, sum, sum_sq);
  BL_CUDA_CHECK_LAUNCH(moments_add_cuda);
}

void moments_finish_cuda(const double* sum, const double* sum_sq, int64_t count, int64_t samples, MomentStat stat,
                         float* out, CudaStream stream) {
  if (count == 0) return;
  moments_finish_kernel<<<grid_for(count), kThreads, 0, stream>>>(sum, sum_sq, count, samples, stat, out);
  BL_CUDA_CHECK_LAUNCH(moments_finish_cuda);
}

}  // namespace backlight
