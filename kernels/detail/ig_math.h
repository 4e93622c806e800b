#pragma once
/// Per-element math of the batched Integrated Gradients kernels, shared by the reference, the
/// threaded CPU and the CUDA implementations (BL_HD: host and device).
#include "engine/hd.h"

namespace backlight::ig_math {

/// One interpolated element: baseline + alpha * (input - baseline).
BL_HD inline float interpolate(float input, float baseline, float alpha) { return baseline + alpha * (input - baseline); }

/// One element of a baseline's attribution from the accumulated gradient sum: (x - x') * g
/// (Captum's multiply_by_inputs) or g alone.
BL_HD inline float path_attribution(float input, float baseline, float grad_sum, bool multiply_by_inputs) {
  return multiply_by_inputs ? (input - baseline) * grad_sum : grad_sum;
}

/// Row layout of a chunk: row r = k * items + n holds step k0 + k of item n (Captum's
/// alpha-major order), so element e of that row reads input/baseline element n * per_item + e.
BL_HD inline long long source_index(long long row, long long items, long long per_item, long long e) {
  return (row % items) * per_item + e;
}

}  // namespace backlight::ig_math
