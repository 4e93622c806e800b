#pragma once
/// Row builders for the batched layer and neuron methods: every method that evaluates the model at
/// several points per item (a path, a paired reference, GradientSHAP samples) stacks those points
/// as rows of one batch, so each forward/backward covers the whole batch at once.
///
/// Two row layouts, as Captum:
///   step-major   row k*N + n = point k of item n   (path methods: torch.cat over alphas)
///   interleaved  row n*S + s = sample s of item n   (noise tunnel / GradientSHAP: repeat_interleave)
/// Tensors are CPU (unless a function says otherwise), contiguous, float32; outputs come from `ws`.
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "attribution/core/baseline.h"
#include "attribution/core/target.h"
#include "engine/tensor.h"

namespace backlight {

/// [a; b] along the batch axis (DeepLIFT's paired reference pass): a [N, ...], b the same shape
/// -> [2N, ...].
Tensor stack_rows(const Tensor& a, const Tensor& b, const Workspace& ws);

/// Step-major path points for alphas[k0..k1): row (k-k0)*N + n = base[n] + alpha_k (x[n] - base[n]),
/// computed in float32 as Captum (alpha rounded to float). x and base [N, ...] (same shape).
Tensor path_rows(const Tensor& x, const Tensor& base, std::span<const double> alphas, size_t k0, size_t k1,
                 const Workspace& ws);

/// Step-major repetition: row k*N + n = x[n] for k < times.
Tensor repeat_rows(const Tensor& x, int64_t times, const Workspace& ws);

/// The class of every row of a batch built from N items with resolved classes `classes`:
/// step-major (row k*N + n -> classes[n]) or interleaved (row n*S + s -> classes[n]).
std::vector<int64_t> row_classes(const std::vector<int64_t>& classes, int64_t repeats, bool interleaved);

/// The target for such a batch: class targets become Target::indices(row classes); function
/// targets are returned unchanged (they apply to whatever batch the model produced).
Target rows_target(const Target& target, const std::vector<int64_t>& row_classes);

/// Sum of each item's elements of a [N, ...] tensor, accumulated in double. A device tensor is
/// summed on its device (each sum rounded to float there); only the N sums come back (a sync).
std::vector<double> item_sums(const Tensor& t);

/// acc += w * block `block` of `rows`, where a block is acc.numel() consecutive elements (the N
/// rows of one path step in step-major order).
void add_scaled(Tensor& acc, const Tensor& rows, int64_t block, float w);

/// The target value per row of a model output [R, ...]: output[r, row_classes[r]] for class
/// targets, the target function's value otherwise (run on a non-recording tape). Shape [R].
Tensor target_rows(const Tensor& output, const Target& target, const std::vector<int64_t>& row_classes);

/// The rows of a baseline distribution [B, ...] with the inputs' per-item shape (GradientSHAP,
/// DeepLIFT-SHAP): a given tensor contributes all its rows when its per-item shape matches the
/// inputs' (a [B, ...] tensor) or one row when it is one item's shape; every other kind
/// contributes the one row it makes for the first input (zero, constant, uniform noise; blur of
/// item 0). Throws when no baseline is given or a given tensor does not fit.
Tensor baseline_distribution(const std::vector<Baseline>& baselines, const Tensor& inputs);

/// GradientSHAP samples (Captum GradientShap = NoiseTunnel(smoothgrad) over
/// InputBaselineXGradient with draw_baseline_from_distrib), interleaved rows n*S + s:
///   noisy[r]    = x[n] + stdev * normal noise
///   baseline[r] = distribution[j_r], j_r drawn uniformly from [0, B)
///   scaled[r]   = alpha_r noisy[r] + (1 - alpha_r) baseline[r], alpha_r ~ U[0, 1)
/// Drawn with Philox from `seed` (same values for any thread count); Captum draws with numpy and
/// torch generators, so results match Captum in distribution, not sample by sample - unless the
/// draws are given explicitly (ShapDraws, gradient_shap's convention: index s * N + n, noise
/// [S, N, ...] added as is, stdev unused), which reproduces Captum's draws exactly.
struct ShapSamples {
  Tensor noisy;      ///< [N*S, ...]
  Tensor baselines;  ///< [N*S, ...]
  Tensor scaled;     ///< [N*S, ...]
};
struct ShapDraws {
  std::span<const int64_t> baseline_indices;  ///< empty, or [S * N], index s * N + n
  std::span<const float> alphas;              ///< empty, or [S * N], index s * N + n
  Tensor noise;                               ///< undefined, or [S, N, ...]
};
/// `method` names the caller in error messages (e.g. "layer_gradient_shap").
ShapSamples shap_samples(const Tensor& x, const Tensor& distribution, int samples, float stdev, uint64_t seed,
                         const Workspace& ws, const ShapDraws& draws = {}, std::string_view method = "gradient_shap");

/// Mean over the S interleaved samples of each item: [N*S, ...] -> [N, ...].
Tensor mean_over_samples(const Tensor& rows, int samples);

}  // namespace backlight
