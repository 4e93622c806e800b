// Per-device dispatch of the fused attribution kernels (kernels/dispatch.h). One line per
// kernel: the CUDA branch exists only in CUDA builds, where it makes the context's device
// current and launches on its stream.
#include "kernels/dispatch.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"
#ifdef BACKLIGHT_HAVE_CUDA
#include "engine/cuda/context.h"
#include "engine/cuda/ops.h"
#endif

namespace backlight {

// `ON_CUDA(ctx, call);` returns after running `call` (which may name `stream`) on ctx's stream.
#ifdef BACKLIGHT_HAVE_CUDA
#define ON_CUDA(ctx, call)                                   \
  if (ctx) {                                                 \
    const CudaStream stream = cuda::launch_stream(*(ctx));   \
    call;                                                    \
    return;                                                  \
  }
#else
#define ON_CUDA(ctx, call) \
  BL_CHECK(!(ctx), "kernels: a CUDA context was given to a build without the CUDA backend");
#endif

void ig_interpolate(const IgChunk& c, float* out, cuda::Context* ctx) {
  ON_CUDA(ctx, ig_interpolate_cuda(c, out, stream));
  ig_interpolate_cpu(c, out);
}

void ig_accumulate(const IgChunk& c, const float* grads, float* acc, cuda::Context* ctx) {
  ON_CUDA(ctx, ig_accumulate_cuda(c, grads, acc, stream));
  ig_accumulate_cpu(c, grads, acc);
}

void ig_finish(const IgChunk& c, float* acc, bool multiply_by_inputs, float divisor, float* attr,
               cuda::Context* ctx) {
  ON_CUDA(ctx, ig_finish_cuda(c, acc, multiply_by_inputs, divisor, attr, stream));
  ig_finish_cpu(c, acc, multiply_by_inputs, divisor, attr);
}

void occlude_batch(const float* input, int64_t items, BaselineRef baseline, const OcclusionGeometry& g, int64_t first,
                   int64_t count, float* out, cuda::Context* ctx) {
  ON_CUDA(ctx, occlude_batch_cuda(input, items, baseline, g, first, count, out, stream));
  occlude_batch_cpu(input, items, baseline, g, first, count, out);
}

void occlusion_scatter(const float* diffs, int64_t items, const OcclusionGeometry& g, float* attr, float* counts,
                       cuda::Context* ctx) {
  ON_CUDA(ctx, occlusion_scatter_cuda(diffs, items, g, attr, counts, stream));
  occlusion_scatter_cpu(diffs, items, g, attr, counts);
}

void occlusion_divide(float* attr, int64_t items, int64_t numel, const float* counts, cuda::Context* ctx) {
  ON_CUDA(ctx, occlusion_divide_cuda(attr, items, numel, counts, stream));
  occlusion_divide_cpu(attr, items, numel, counts);
}

void mask_ablate(const float* input, int64_t items, int64_t numel, BaselineRef baseline, MaskRef mask,
                 int32_t first_id, int64_t count, float* out, cuda::Context* ctx) {
  ON_CUDA(ctx, mask_ablate_cuda(input, items, numel, baseline, mask, first_id, count, out, stream));
  mask_ablate_cpu(input, items, numel, baseline, mask, first_id, count, out);
}

void mask_scatter(const float* values, int64_t features, int64_t items, int64_t numel, MaskRef mask, int32_t first_id,
                  float* attr, cuda::Context* ctx) {
  ON_CUDA(ctx, mask_scatter_cuda(values, features, items, numel, mask, first_id, attr, stream));
  mask_scatter_cpu(values, features, items, numel, mask, first_id, attr);
}

void noise_rows(const NoiseRows& r, float* out, cuda::Context* ctx) {
  ON_CUDA(ctx, noise_rows_cuda(r, out, stream));
  noise_rows_cpu(r, out);
}

void moments_add(const float* a, int64_t items, int64_t copies, int64_t per, double* sum, double* sum_sq,
                 cuda::Context* ctx) {
  ON_CUDA(ctx, moments_add_cuda(a, items, copies, per, sum, sum_sq, stream));
  moments_add_cpu(a, items, copies, per, sum, sum_sq);
}

void moments_finish(const double* sum, const double* sum_sq, int64_t count, int64_t samples, MomentStat stat,
                    float* out, cuda::Context* ctx) {
  ON_CUDA(ctx, moments_finish_cuda(sum, sum_sq, count, samples, stat, out, stream));
  moments_finish_cpu(sum, sum_sq, count, samples, stat, out);
}

#undef ON_CUDA

std::shared_ptr<double> zeroed_doubles(int64_t count, cuda::Context* ctx) {
  const size_t n = static_cast<size_t>(std::max<int64_t>(1, count));
  if (ctx) {
#ifdef BACKLIGHT_HAVE_CUDA
    std::shared_ptr<float> block = cuda::allocate(*ctx, n * sizeof(double));
    cuda::fill(*ctx, block.get(), static_cast<int64_t>(2 * n), 0.0f);  // all-zero bits: 0.0 as a double
    return std::shared_ptr<double>(block, reinterpret_cast<double*>(block.get()));
#else
    BL_THROW("zeroed_doubles: a CUDA context was given to a build without the CUDA backend");
#endif
  }
  return std::shared_ptr<double>(new double[n](), std::default_delete<double[]>());
}

std::shared_ptr<const int32_t> ids_for(const int32_t* host, int64_t count, cuda::Context* ctx) {
  if (!ctx) return std::shared_ptr<const int32_t>(std::shared_ptr<void>(), host);  // not owned
  (void)count;  // CPU-only builds
#ifdef BACKLIGHT_HAVE_CUDA
  std::shared_ptr<float> block = cuda::allocate(*ctx, static_cast<size_t>(std::max<int64_t>(1, count)) * 4);
  // A byte copy (int32 and float have the same size); no float arithmetic touches the ids.
  cuda::copy_to_device(*ctx, block.get(), reinterpret_cast<const float*>(host), count);
  return std::shared_ptr<const int32_t>(block, reinterpret_cast<const int32_t*>(block.get()));
#else
  BL_THROW("ids_for: a CUDA context was given to a build without the CUDA backend");
#endif
}

int64_t first_nonfinite(const float* x, int64_t n, cuda::Context* ctx) {
  if (ctx) {
#ifdef BACKLIGHT_HAVE_CUDA
    return cuda::first_nonfinite(*ctx, x, n);
#else
    BL_THROW("first_nonfinite: a CUDA context was given to a build without the CUDA backend");
#endif
  }
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(x[i])) return i;
  return -1;
}

}  // namespace backlight
