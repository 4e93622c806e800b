#pragma once
/// Batched Integrated Gradients kernels (issue: kernels). Shapes: inputs and baselines
/// [items, per_item] (flattened), a chunk of steps k0..k1 with alphas/weights from the
/// integration rule.
///
///   ig_interpolate: out[(k - k0) * items + n, :] = b[n] + alpha_k * (x[n] - b[n])
///                   (the m interpolated inputs of one chunk, alpha-major as Captum)
///   ig_accumulate:  acc[n, :] += sum_k w_k * grads[(k - k0) * items + n, :]
///                   (so no steps x input gradient buffer outlives a chunk)
///
/// Three tiers with one source of math (kernels/detail/ig_math.h): *_ref (naive, double
/// accumulation, tests only), *_cpu (threaded, production), *_cuda (same arguments plus a stream,
/// CUDA builds only; ig.cu). Bytes moved per call: interpolate reads 2 x items x per_item and
/// writes chunk x items x per_item floats; accumulate reads chunk x items x per_item + acc.
#include <cstdint>

namespace backlight {

struct IgChunk {
  const float* input;     ///< [items, per_item]
  const float* baseline;  ///< [items, per_item]
  int64_t items;
  int64_t per_item;
  const float* alphas;   ///< this chunk's alphas (k0..k1), `steps` of them
  const float* weights;  ///< this chunk's weights (k0..k1)
  int64_t steps;         ///< k1 - k0 (plain pointers: the CUDA sources compile as C++17)
};

void ig_interpolate_ref(const IgChunk& c, float* out);
void ig_interpolate_cpu(const IgChunk& c, float* out);
void ig_accumulate_ref(const IgChunk& c, const float* grads, float* acc);
void ig_accumulate_cpu(const IgChunk& c, const float* grads, float* acc);

#ifdef BACKLIGHT_HAVE_CUDA
/// Device pointers; alphas/weights are copied to the device by the launcher (async on `stream`).
void ig_interpolate_cuda(const IgChunk& c, float* out, void* stream);
void ig_accumulate_cuda(const IgChunk& c, const float* grads, float* acc, void* stream);
#endif

}  // namespace backlight
