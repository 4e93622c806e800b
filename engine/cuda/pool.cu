// 2-D pooling kernels with the CPU path's exact semantics. The window tables (one input range
// per output row and column) come from fn::pool2d_geometry / the adaptive bins on the host and
// are uploaded, so ceil_mode, dilation, count_include_pad and adaptive bins behave exactly as on
// the CPU. cuDNN pooling is not used: it has no ceil_mode or dilation and its max-pool gradient
// does not promise PyTorch's first-maximum tie rule, which DeepLIFT and LRP results depend on.
#include <cmath>

#include "engine/cuda/context_impl.cuh"
#include "engine/cuda/ops.h"

namespace backlight::cuda {

namespace {

// --- kernels
// One thread per output element: the first maximum of its window (NaN counts as a maximum).
__global__ void maxpool_forward_kernel(PoolShape s, const Window* rows, const Window* cols, const float* x, float* y,
                                       float* argmax, int64_t n) {
  BL_GRID_LOOP(i, n) {
    const int64_t ox = i % s.ow, oy = (i / s.ow) % s.oh, p = i / (s.ow * s.oh);
    const Window r = rows[oy], c = cols[ox];
    const float* plane = x + p * s.h * s.w;
    float best = -INFINITY;
    int64_t index = -1;
    if (r.begin < r.end && c.begin < c.end) {
      index = r.begin * s.w + c.begin;
      for (int64_t iy = r.begin; iy < r.end; iy += s.dilation_h)
        for (int64_t ix = c.begin; ix < c.end; ix += s.dilation_w) {
          const float v = plane[iy * s.w + ix];
          if (v > best || isnan(v)) {
            best = v;
            index = iy * s.w + ix;
          }
        }
    }
    y[i] = best;
    if (argmax) argmax[i] = static_cast<float>(index);
  }
}

// Overlapping windows may share a maximum: atomics.
__global__ void maxpool_backward_kernel(PoolShape s, const float* g, const float* argmax, float* dx, int64_t n) {
  BL_GRID_LOOP(i, n) {
    const int64_t p = i / (s.oh * s.ow);
    const int64_t index = static_cast<int64_t>(argmax[i]);
    if (index >= 0) atomicAdd(dx + p * s.h * s.w + index, g[i]);
  }
}

__device__ inline int64_t divisor(const PoolShape& s, const Window& r, const Window& c) {
  return s.count_include_pad ? r.padded_extent * c.padded_extent : (r.end - r.begin) * (c.end - c.begin);
}

__global__ void meanpool_forward_kernel(PoolShape s, const Window* rows, const Window* cols, const float* x, float* y,
                                        int64_t n) {
  BL_GRID_LOOP(i, n) {
    const int64_t ox = i % s.ow, oy = (i / s.ow) % s.oh, p = i / (s.ow * s.oh);
    const Window r = rows[oy], c = cols[ox];
    const float* plane = x + p * s.h * s.w;
    float sum = 0.0f;
    for (int64_t iy = r.begin; iy < r.end; ++iy)
      for (int64_t ix = c.begin; ix < c.end; ++ix) sum += plane[iy * s.w + ix];
    const int64_t d = divisor(s, r, c);
    y[i] = d > 0 ? sum / static_cast<float>(d) : 0.0f;
  }
}

__global__ void meanpool_backward_kernel(PoolShape s, const Window* rows, const Window* cols, const float* g,
                                         float* dx, int64_t n) {
  BL_GRID_LOOP(i, n) {
    const int64_t ox = i % s.ow, oy = (i / s.ow) % s.oh, p = i / (s.ow * s.oh);
    const Window r = rows[oy], c = cols[ox];
    const int64_t d = divisor(s, r, c);
    if (d <= 0) continue;
    const float v = g[i] / static_cast<float>(d);
    float* plane = dx + p * s.h * s.w;
    for (int64_t iy = r.begin; iy < r.end; ++iy)
      for (int64_t ix = c.begin; ix < c.end; ++ix) atomicAdd(plane + iy * s.w + ix, v);
  }
}

void zero(Context& ctx, float* p, int64_t n) {
  if (n > 0) BL_CUDA_CHECK(cudaMemsetAsync(p, 0, n * sizeof(float), ctx.stream));
}

}  // namespace

// --- launchers
void maxpool_forward(Context& ctx, const PoolShape& s, const Window* rows, const Window* cols, const float* x,
                     float* y, float* argmax) {
  auto d_rows = upload(ctx, rows, s.oh);
  auto d_cols = upload(ctx, cols, s.ow);
  const int64_t n = s.planes * s.oh * s.ow;
  BL_LAUNCH(ctx, n, maxpool_forward_kernel, s, reinterpret_cast<const Window*>(d_rows.get()),
            reinterpret_cast<const Window*>(d_cols.get()), x, y, argmax, n);
}

void maxpool_backward(Context& ctx, const PoolShape& s, const float* g, const float* argmax, float* dx) {
  use_device(ctx);
  zero(ctx, dx, s.planes * s.h * s.w);
  const int64_t n = s.planes * s.oh * s.ow;
  BL_LAUNCH(ctx, n, maxpool_backward_kernel, s, g, argmax, dx, n);
}

void meanpool_forward(Context& ctx, const PoolShape& s, const Window* rows, const Window* cols, const float* x,
                      float* y) {
  auto d_rows = upload(ctx, rows, s.oh);
  auto d_cols = upload(ctx, cols, s.ow);
  const int64_t n = s.planes * s.oh * s.ow;
  BL_LAUNCH(ctx, n, meanpool_forward_kernel, s, reinterpret_cast<const Window*>(d_rows.get()),
            reinterpret_cast<const Window*>(d_cols.get()), x, y, n);
}

void meanpool_backward(Context& ctx, const PoolShape& s, const Window* rows, const Window* cols, const float* g,
                       float* dx) {
  use_device(ctx);
  zero(ctx, dx, s.planes * s.h * s.w);
  auto d_rows = upload(ctx, rows, s.oh);
  auto d_cols = upload(ctx, cols, s.ow);
  const int64_t n = s.planes * s.oh * s.ow;
  BL_LAUNCH(ctx, n, meanpool_backward_kernel, s, reinterpret_cast<const Window*>(d_rows.get()),
            reinterpret_cast<const Window*>(d_cols.get()), g, dx, n);
}

}  // namespace backlight::cuda
