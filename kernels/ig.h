#pragma once
/// Batched Integrated Gradients kernels (issue: kernels). Shapes: inputs and baselines
/// [items, per_item] (flattened), a chunk of steps k0..k1 with alphas/weights from the
/// integration rule.
///
///   ig_interpolate: out[(k - k0) * items + n, :] = b[n] + alpha_k * (x[n] - b[n])
///                   (the m interpolated inputs of one chunk, alpha-major as Captum)
///   ig_accumulate:  acc[n, :] += sum_k w_k * grads[(k - k0) * items + n, :]
///                   (so no steps x input gradient buffer outlives a chunk)
///   ig_finish:      a = multiply_by_inputs ? (x - b) * acc : acc;  attr += a / divisor;  acc = a
///                   (one baseline's attribution, added to the average over `divisor`
///                   baselines; acc keeps a so that the item sums of the delta can follow)
///
/// Three tiers with one source of math (kernels/detail/ig_math.h): *_ref (naive, double
/// accumulation, tests only), *_cpu (threaded, production), *_cuda (same arguments plus a stream,
/// CUDA builds only; ig.cu). Bytes moved per call: interpolate reads 2 x items x per_item and
/// writes chunk x items x per_item floats; accumulate reads chunk x items x per_item + acc.
/// kernels/dispatch.h picks the tier for a workspace.
#include <cstdint>

#include "engine/cuda/stream.h"

namespace backlight {

struct IgChunk {
  const float* input;     ///< [items, per_item]
  const float* baseline;  ///< [items, per_item]
  int64_t items;
  int64_t per_item;
  const float* alphas;   ///< this chunk's alphas (k0..k1), `steps` of them; always a host array
  const float* weights;  ///< this chunk's weights (k0..k1); always a host array
  int64_t steps;         ///< k1 - k0 (plain pointers: the CUDA sources compile as C++17)
};

void ig_interpolate_ref(const IgChunk& c, float* out);
void ig_interpolate_cpu(const IgChunk& c, float* out);
void ig_accumulate_ref(const IgChunk& c, const float* grads, float* acc);
void ig_accumulate_cpu(const IgChunk& c, const float* grads, float* acc);
/// Reads c.input, c.baseline, c.items and c.per_item (not the steps).
void ig_finish_ref(const IgChunk& c, float* acc, bool multiply_by_inputs, float divisor, float* attr);
void ig_finish_cpu(const IgChunk& c, float* acc, bool multiply_by_inputs, float divisor, float* attr);

#ifdef BACKLIGHT_HAVE_CUDA
/// input, baseline, out, grads, acc and attr are device pointers; alphas and weights stay host
/// arrays: the launcher passes them by value in the kernel parameters (up to 128 steps per
/// launch, several launches for longer chunks), so no device buffer is allocated per call.
/// Asynchronous on `stream`; a failed launch throws backlight::Error.
void ig_interpolate_cuda(const IgChunk& c, float* out, CudaStream stream);
void ig_accumulate_cuda(const IgChunk& c, const float* grads, float* acc, CudaStream stream);
void ig_finish_cuda(const IgChunk& c, float* acc, bool multiply_by_inputs, float divisor, float* attr,
                    CudaStream stream);
#endif

}  // namespace backlight
