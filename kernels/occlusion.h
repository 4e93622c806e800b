#pragma once
/// Occlusion-sweep kernels: the batched input construction and the accumulation of the
/// perturbation methods (Occlusion, FeatureAblation and the mask-based methods built on it).
///
/// Three tiers with one argument list (STYLE pattern 7); the per-element math is written once in
/// kernels/detail/occlusion_math.h:
///   *_ref   naive loops with double accumulation (occlusion_ref.cpp; tests only)
///   *_cpu   threaded over all cores (occlusion_cpu.cpp; production)
///   *_cuda  same arguments + a stream (occlusion.cu; declared only in CUDA builds,
///           BACKLIGHT_HAVE_CUDA). Pointers are device pointers; launches are asynchronous on
///           `stream` and never synchronise; a failed launch throws backlight::Error.
///
/// Layout. One "item" is one batch element [d0, d1, ..., d_{r-1}] (any rank r <= 7, e.g.
/// [C, H, W]), stored row-major with `numel` elements. A sweep over N items and P window
/// positions writes P*N rows in position-major order, row p*N + n = item n occluded at position
/// first + p (Captum's layout: torch.cat([inputs] * perturbations_per_eval)).
///
/// Window positions follow Captum's Occlusion exactly: along dimension d there are
///   counts[d] = ceil((dims[d] - window[d]) / stride[d]) + 1
/// positions with origins 0, stride, 2*stride, ...; the last may overhang the end, and then the
/// window is clipped (never wrapped to the other side: Zennit's torch.roll pitfall). Position
/// index j enumerates the grid with dimension 0 fastest (Captum's _occlusion_mask base
/// conversion): j = k0 + counts[0] * (k1 + counts[1] * (k2 + ...)).
#include <cstdint>
#include <vector>

#include "engine/cuda/stream.h"

namespace backlight {

inline constexpr int kOcclusionMaxRank = 7;

/// Geometry of one sweep: the item's shape, the window and stride per dimension, and the number
/// of window positions per dimension. Plain data, passed by value to CPU and CUDA kernels.
struct OcclusionGeometry {
  int rank = 0;
  int64_t dims[kOcclusionMaxRank] = {};
  int64_t window[kOcclusionMaxRank] = {};
  int64_t stride[kOcclusionMaxRank] = {};
  int64_t counts[kOcclusionMaxRank] = {};
  int64_t positions = 0;  ///< product of counts
  int64_t numel = 0;      ///< product of dims (elements of one item)
};

/// Builds the geometry for items of shape `item_dims`. `stride` may be empty (1 everywhere) or
/// hold one value (used for every dimension) or one value per dimension. Throws backlight::Error
/// (naming the shapes) unless 1 <= window[d] <= dims[d], stride[d] >= 1, and - as Captum -
/// stride[d] <= window[d] wherever window[d] < dims[d], so that every element is covered.
OcclusionGeometry occlusion_geometry(const std::vector<int64_t>& item_dims, const std::vector<int64_t>& window,
                                     const std::vector<int64_t>& stride);

/// What replaces occluded elements: `data` with `item_stride` elements between items (0: one
/// baseline item for all; numel: one per item), or the scalar `value` when data is null.
struct BaselineRef {
  const float* data = nullptr;
  int64_t item_stride = 0;
  float value = 0.0f;
};

// --- occlude_batch: P occluded copies of N items --------------------------------------------------
// input [N, numel]; out [count*N, numel], row p*N + n = input[n] with the window of position
// first + p set to the baseline. Bytes: writes count*N*numel floats, reads the same from cache.

void occlude_batch_ref(const float* input, int64_t items, BaselineRef baseline, const OcclusionGeometry& g,
                       int64_t first, int64_t count, float* out);
void occlude_batch_cpu(const float* input, int64_t items, BaselineRef baseline, const OcclusionGeometry& g,
                       int64_t first, int64_t count, float* out);
#ifdef BACKLIGHT_HAVE_CUDA
void occlude_batch_cuda(const float* input, int64_t items, BaselineRef baseline, const OcclusionGeometry& g,
                        int64_t first, int64_t count, float* out, CudaStream stream);
#endif

// --- occlusion_scatter: accumulate output differences over the windows ----------------------------
// diffs [positions, N]: diffs[j*N + n] = f(x_n) - f(x_n occluded at position j) (all positions).
// attr [N, numel] += sum over positions j whose window covers the element of diffs[j*N + n];
// counts [numel] += the number of such windows (Captum's Occlusion weights). Accumulates in double
// per element (gather: no atomics, deterministic on every tier).

void occlusion_scatter_ref(const float* diffs, int64_t items, const OcclusionGeometry& g, float* attr, float* counts);
void occlusion_scatter_cpu(const float* diffs, int64_t items, const OcclusionGeometry& g, float* attr, float* counts);
#ifdef BACKLIGHT_HAVE_CUDA
void occlusion_scatter_cuda(const float* diffs, int64_t items, const OcclusionGeometry& g, float* attr, float* counts,
                            CudaStream stream);
#endif

// --- occlusion_divide: the average over overlapping windows ---------------------------------------
// attr [N, numel] /= counts [numel] (Captum: total_attrib / weights). An element no window covers
// (impossible with a geometry from occlusion_geometry) divides 0 by 0, as Captum, giving NaN.

void occlusion_divide_ref(float* attr, int64_t items, int64_t numel, const float* counts);
void occlusion_divide_cpu(float* attr, int64_t items, int64_t numel, const float* counts);
#ifdef BACKLIGHT_HAVE_CUDA
void occlusion_divide_cuda(float* attr, int64_t items, int64_t numel, const float* counts, CudaStream stream);
#endif

/// Feature groups for FeatureAblation and the mask-based methods: `ids` [mask_items, numel] with
/// mask_items 1 (one mask for all items) or N (one per item); elements with id == feature belong
/// to that feature.
struct MaskRef {
  const int32_t* ids = nullptr;
  int64_t mask_items = 1;
};

// --- mask_ablate: F ablated copies of N items, one per feature id ---------------------------------
// out [count*N, numel], row f*N + n = input[n] with the elements whose id equals first_id + f set
// to the baseline (Captum FeatureAblation._construct_ablated_input).

void mask_ablate_ref(const float* input, int64_t items, int64_t numel, BaselineRef baseline, MaskRef mask,
                     int32_t first_id, int64_t count, float* out);
void mask_ablate_cpu(const float* input, int64_t items, int64_t numel, BaselineRef baseline, MaskRef mask,
                     int32_t first_id, int64_t count, float* out);
#ifdef BACKLIGHT_HAVE_CUDA
void mask_ablate_cuda(const float* input, int64_t items, int64_t numel, BaselineRef baseline, MaskRef mask,
                      int32_t first_id, int64_t count, float* out, CudaStream stream);
#endif

// --- mask_scatter: per-feature values back onto the elements --------------------------------------
// values [F, N] for ids first_id .. first_id + F - 1; attr [N, numel] += values[(id - first_id)*N + n]
// for every element whose id is in that range (other elements unchanged). The accumulation of
// FeatureAblation (and of feature permutation, layer and neuron ablation) and the final map of
// ShapleyValueSampling.

void mask_scatter_ref(const float* values, int64_t features, int64_t items, int64_t numel, MaskRef mask,
                      int32_t first_id, float* attr);
void mask_scatter_cpu(const float* values, int64_t features, int64_t items, int64_t numel, MaskRef mask,
                      int32_t first_id, float* attr);
#ifdef BACKLIGHT_HAVE_CUDA
void mask_scatter_cuda(const float* values, int64_t features, int64_t items, int64_t numel, MaskRef mask,
                       int32_t first_id, float* attr, CudaStream stream);
#endif

}  // namespace backlight
