// Occlusion kernels, CUDA tier: same arguments as the CPU tier plus the stream (kernels/occlusion.h).
//
// What: batched occluded copies (occlude_batch, mask_ablate), the gather of output differences
// onto the elements (occlusion_scatter, mask_scatter) and the overlap average (occlusion_divide).
// Shapes: N items of `numel` elements, P positions / F features -> P*N rows.
// Variants: one each; every kernel is a grid-stride loop over output elements, one thread per
// element, so writes are coalesced and no atomics are needed (the scatter is written as a gather).
// Bytes moved: occlude/ablate write P*N*numel floats and read as many (input rows stay in L2);
// scatter reads ~windows-per-element diffs per output element (tiny) and writes N*numel.
// No launch synchronises; errors of the launch itself throw backlight::Error.
#include <cuda_runtime.h>

#include "engine/cuda/check.h"
#include "engine/cuda/launch.h"
#include "engine/error.h"
#include "kernels/detail/occlusion_math.h"
#include "kernels/occlusion.h"

namespace backlight {

using namespace occlusion_math;

// --- math: kernels/detail/occlusion_math.h ---------------------------------------------------------

// --- kernels --------------------------------------------------------------------------------------

namespace {

__global__ void occlude_batch_kernel(const float* input, int64_t items, BaselineRef baseline, OcclusionGeometry g,
                                     int64_t first, int64_t total, float* out) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t e = i % g.numel, r = i / g.numel;
    const int64_t n = r % items, p = r / items;
    out[i] = window_covers(g, first + p, e) ? baseline_at(baseline, n, e) : input[n * g.numel + e];
  }
}

__global__ void occlusion_scatter_kernel(const float* diffs, int64_t items, OcclusionGeometry g, float* attr,
                                         float* counts) {
  const int64_t total = items * g.numel;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t n = i / g.numel, e = i % g.numel;
    double sum = 0.0;
    int64_t cnt = 0;
    for_each_covering_window(g, e, [&](int64_t j) {
      sum += diffs[j * items + n];
      ++cnt;
    });
    attr[i] += static_cast<float>(sum);
    if (n == 0) counts[e] += static_cast<float>(cnt);
  }
}

__global__ void occlusion_divide_kernel(float* attr, int64_t total, int64_t numel, const float* counts) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x)
    attr[i] /= counts[i % numel];
}

__global__ void mask_ablate_kernel(const float* input, int64_t items, int64_t numel, BaselineRef baseline, MaskRef mask,
                                   int32_t first_id, int64_t total, float* out) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t e = i % numel, r = i / numel;
    const int64_t n = r % items, f = r / items;
    out[i] = mask_id(mask, n, e, numel) == first_id + f ? baseline_at(baseline, n, e) : input[n * numel + e];
  }
}

__global__ void mask_scatter_kernel(const float* values, int64_t features, int64_t items, int64_t numel, MaskRef mask,
                                    int32_t first_id, float* attr) {
  const int64_t total = items * numel;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t n = i / numel, e = i % numel;
    const int64_t f = static_cast<int64_t>(mask_id(mask, n, e, numel)) - first_id;
    if (f >= 0 && f < features) attr[i] += values[f * items + n];
  }
}

// --- launchers ------------------------------------------------------------------------------------

constexpr int kThreads = 256;

unsigned grid_for(int64_t n) { return cuda::grid_for(n, kThreads); }

}  // namespace

// --- dispatch (one variant each) ------------------------------------------------------------------

void occlude_batch_cuda(const float* input, int64_t items, BaselineRef baseline, const OcclusionGeometry& g,
                        int64_t first, int64_t count, float* out, CudaStream stream) {
  const int64_t total = count * items * g.numel;
  if (total == 0) return;
  occlude_batch_kernel<<<grid_for(total), kThreads, 0, stream>>>(input, items, baseline, g, first, total, out);
  BL_CUDA_CHECK_LAUNCH(occlude_batch_cuda);
}

void occlusion_scatter_cuda(const float* diffs, int64_t items, const OcclusionGeometry& g, float* attr, float* counts,
                            CudaStream stream) {
  const int64_t total = items * g.numel;
  if (total == 0) return;
  occlusion_scatter_kernel<<<grid_for(total), kThreads, 0, stream>>>(diffs, items, g, attr, counts);
  BL_CUDA_CHECK_LAUNCH(occlusion_scatter_cuda);
}

void occlusion_divide_cuda(float* attr, int64_t items, int64_t numel, const float* counts, CudaStream stream) {
  const int64_t total = items * numel;
  if (total == 0) return;
  occlusion_divide_kernel<<<grid_for(total), kThreads, 0, stream>>>(attr, total, numel, counts);
  BL_CUDA_CHECK_LAUNCH(occlusion_divide_cuda);
}

void mask_ablate_cuda(const float* input, int64_t items, int64_t numel, BaselineRef baseline, MaskRef mask,
                      int32_t first_id, int64_t count, float* out, CudaStream stream) {
  const int64_t total = count * items * numel;
  if (total == 0) return;
  mask_ablate_kernel<<<grid_for(total), kThreads, 0, stream>>>(input, items, numel, baseline, mask, first_id, total,
                                                               out);
  BL_CUDA_CHECK_LAUNCH(mask_ablate_cuda);
}

void mask_scatter_cuda(const float* values, int64_t features, int64_t items, int64_t numel, MaskRef mask,
                       int32_t first_id, float* attr, CudaStream stream) {
  const int64_t total = items * numel;
  if (total == 0) return;
  mask_scatter_kernel<<<grid_for(total), kThreads, 0, stream>>>(values, features, items, numel, mask, first_id, attr);
  BL_CUDA_CHECK_LAUNCH(mask_scatter_cuda);
}

}  // namespace backlight
