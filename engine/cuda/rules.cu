// Embedding lookup and the rule maps (DeepLIFT Rescale, LRP stabilised division); the
// per-element formulas are engine/rules/rule_math.h, shared with the CPU rules.
#include "engine/cuda/context_impl.cuh"
#include "engine/cuda/ops.h"
#include "engine/rules/rule_math.h"

namespace backlight::cuda {

namespace {

// --- kernels
__global__ void embedding_forward_kernel(const float* idx, const float* weight, int64_t dim, float* y, int64_t n) {
  BL_GRID_LOOP(i, n) y[i] = weight[static_cast<int64_t>(idx[i / dim]) * dim + i % dim];
}

__global__ void embedding_backward_kernel(const float* g, const float* idx, int64_t dim, float* dw, int64_t n) {
  BL_GRID_LOOP(i, n) atomicAdd(dw + static_cast<int64_t>(idx[i / dim]) * dim + i % dim, g[i]);
}

__global__ void deeplift_rescale_kernel(const float* x, const float* y, const float* g, const float* plain,
                                        float* out, int64_t half, float eps) {
  BL_GRID_LOOP(i, half) {
    const float dx = x[i] - x[i + half], dy = y[i] - y[i + half];
    out[i] = rule_math::rescale(g[i], plain[i], dx, dy, eps);
    out[i + half] = rule_math::rescale(g[i + half], plain[i + half], dx, dy, eps);
  }
}

// One thread per item: the mean over both halves of that item, subtracted from both.
__global__ void center_pairs_kernel(float* out, int64_t n, int64_t per_item) {
  BL_GRID_LOOP(i, n) {
    float* a = out + i * per_item;
    float* b = out + (i + n) * per_item;
    double s = 0.0;
    for (int64_t j = 0; j < per_item; ++j) s += a[j] + b[j];
    const float mean = static_cast<float>(s / (2 * per_item));
    for (int64_t j = 0; j < per_item; ++j) {
      a[j] -= mean;
      b[j] -= mean;
    }
  }
}

__global__ void deeplift_maxpool_weights_kernel(const float* y, const float* g, float* w, int64_t half) {
  BL_GRID_LOOP(i, half) {
    const float m = fmaxf(y[i], y[i + half]);
    w[i] = g[i] * (m - y[i + half]);
    w[i + half] = g[i + half] * (y[i] - m);
  }
}

__global__ void deeplift_from_unpooled_kernel(const float* x, const float* u, const float* plain, float* out,
                                              int64_t half, float eps) {
  BL_GRID_LOOP(i, half) {
    const float dx = x[i] - x[i + half];
    const float sum = u[i] + u[i + half];
    // rescale(g=1, ...) with dy = the summed unpooled difference: u / dx, or plain when dx is small.
    out[i] = rule_math::rescale(1.0f, plain[i], dx, sum, eps);
    out[i + half] = rule_math::rescale(1.0f, plain[i + half], dx, sum, eps);
  }
}

__global__ void lrp_ratio_kernel(const float* rel, const float* z, const float* out, int where, float eps, float* s,
                                 int64_t n) {
  BL_GRID_LOOP(i, n) s[i] = rule_math::lrp_ratio(rel[i], z[i], out[i], where, eps);
}

__global__ void lrp_accumulate_kernel(float* acc, float coef, const float* in, const float* c, int64_t n) {
  BL_GRID_LOOP(i, n) acc[i] += in ? coef * in[i] * c[i] : coef * c[i];
}

}  // namespace

// --- launchers
void embedding_forward(Context& ctx, const float* idx, int64_t count, const float* weight, int64_t dim, float* y) {
  BL_LAUNCH(ctx, count * dim, embedding_forward_kernel, idx, weight, dim, y, count * dim);
}

void embedding_backward(Context& ctx, const float* g, const float* idx, int64_t count, int64_t dim, int64_t num,
                        float* dw) {
  use_device(ctx);
  if (num * dim > 0) BL_CUDA_CHECK(cudaMemsetAsync(dw, 0, num * dim * sizeof(float), ctx.stream));
  BL_LAUNCH(ctx, count * dim, embedding_backward_kernel, g, idx, dim, dw, count * dim);
}

void deeplift_rescale(Context& ctx, const float* x, const float* y, const float* g, const float* plain, float* out,
                      int64_t half, float eps) {
  BL_LAUNCH(ctx, half, deeplift_rescale_kernel, x, y, g, plain, out, half, eps);
}

void center_pairs(Context& ctx, float* out, int64_t n, int64_t per_item) {
  BL_LAUNCH(ctx, n, center_pairs_kernel, out, n, per_item);
}

void deeplift_maxpool_weights(Context& ctx, const float* y, const float* g, float* w, int64_t half_out) {
  BL_LAUNCH(ctx, half_out, deeplift_maxpool_weights_kernel, y, g, w, half_out);
}

void deeplift_from_unpooled(Context& ctx, const float* x, const float* u, const float* plain, float* out,
                            int64_t half, float eps) {
  BL_LAUNCH(ctx, half, deeplift_from_unpooled_kernel, x, u, plain, out, half, eps);
}

void lrp_ratio(Context& ctx, const float* rel, const float* z, const float* out, int where, float eps, float* s,
               int64_t n) {
  BL_LAUNCH(ctx, n, lrp_ratio_kernel, rel, z, out, where, eps, s, n);
}

void lrp_accumulate(Context& ctx, float* acc, float coef, const float* in, const float* c, int64_t n) {
  BL_LAUNCH(ctx, n, lrp_accumulate_kernel, acc, coef, in, c, n);
}

}  // namespace backlight::cuda
