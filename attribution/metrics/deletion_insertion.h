#pragma once
/// Deletion and insertion curves (Petsiuk et al. 2018, "RISE: Randomized Input Sampling for
/// Explanation of Black-box Models", section 4.1).
///
/// Pixels are ranked by the attribution summed over channels (descending; ties by pixel index).
///   deletion:  start from the input, set the next `step` most important pixels (all channels)
///              to the deletion baseline (default 0) per step, until none is left;
///   insertion: start from the insertion baseline (default: the input blurred by a Gaussian of
///              `blur_sigma` pixels; or zeros) and copy the next `step` pixels of the input in.
/// curve[k] = score of the target after k steps (softmax probability by default), k = 0..K,
/// K = ceil(H*W / step), at fraction[k] = min(k * step, H*W) / (H*W) of the pixels.
/// AUC = trapezoid integral of the curve over fraction in [0, 1] (so in [0, 1] for
/// probabilities). Good attributions: low deletion AUC, high insertion AUC.
///
/// Batched: the K + 1 images per item are built and run in forwards of `batch` rows (0: one
/// forward per item), never all at once for all items.
#include <cstdint>
#include <vector>

#include "attribution/metrics/scoring.h"

namespace backlight {

enum class InsertionStart {
  Blur,  ///< Gaussian-blurred input (Petsiuk et al.)
  Zero,  ///< zeros (or `insertion_baseline` when given)
};

struct PixelCurveOptions {
  int64_t step = 0;            ///< pixels per step; 0: ceil(H*W / 64) (64 steps)
  float deletion_value = 0.0f; ///< deletion baseline when `deletion_baseline` is undefined
  Tensor deletion_baseline{};   ///< [N, C, H, W] or [C, H, W]; undefined: deletion_value everywhere
  InsertionStart insertion_start = InsertionStart::Blur;
  float blur_sigma = 5.0f;     ///< pixels; kernel radius ceil(3 sigma), edges clamped
  Tensor insertion_baseline{};  ///< overrides insertion_start when defined ([N,C,H,W] or [C,H,W])
  metrics::Score score = metrics::Score::Probability;
  int64_t batch = 0;
};

struct PixelCurve {
  Tensor curve;                 ///< [N, K + 1]
  Tensor auc;                   ///< [N]
  std::vector<float> fraction;  ///< K + 1 fractions of changed pixels, 0 ... 1
};

/// Inputs [N, C, H, W]; attributions [N, C', H, W] (any C', e.g. 1 for CAM maps). Throws on
/// spatial mismatches, step < 0 or baselines of the wrong shape.
PixelCurve deletion_curve(const Module& model, const Tensor& inputs, const Tensor& attributions, const Target& target,
                          const PixelCurveOptions& options = {});
PixelCurve insertion_curve(const Module& model, const Tensor& inputs, const Tensor& attributions, const Target& target,
                           const PixelCurveOptions& options = {});

/// Separable Gaussian blur of [N, C, H, W] (edges clamped), the insertion start image.
Tensor gaussian_blur(const Tensor& images, float sigma);

/// Channel-summed saliency [N, H*W] of attributions [N, C, H, W] (shared with localisation).
std::vector<std::vector<float>> channel_sum(const Tensor& attributions);

/// Pixel indices of one item's saliency, most important first (ties: lower index first).
std::vector<int64_t> rank_pixels(const std::vector<float>& saliency);

}  // namespace backlight
