#pragma once
/// Localisation metrics: how much of an attribution map falls on the ground-truth evidence
/// (a binary mask, e.g. the target shape of models/data/shapes.h). All work on the
/// channel-summed saliency s = sum_c attr[c] of attributions [N, C, H, W] (any C, so CAM maps
/// [N, 1, H, W] work too) and masks [N, 1, H, W] or [N, H, W] (a pixel is inside when > 0.5).
/// Each returns one value per item, [N]. Higher is better for all.
#include <cstdint>

#include "engine/tensor.h"

namespace backlight {

/// Pointing game (Zhang et al. 2016, "Top-down Neural Attention by Excitation Backprop"):
/// 1 when the pixel of maximal saliency lies inside the mask, else 0 (ties: the first pixel in
/// row-major order).
Tensor pointing_game(const Tensor& attributions, const Tensor& masks);

/// Relevance mass accuracy (Arras et al. 2022, "CLEVR-XAI"): sum of positive saliency inside
/// the mask / sum of positive saliency everywhere (0 when no saliency is positive).
Tensor relevance_mass_accuracy(const Tensor& attributions, const Tensor& masks);

/// Relevance rank accuracy (Arras et al. 2022): with K = number of mask pixels, the fraction of
/// the K pixels of highest saliency (ties: lower index first) that lie inside the mask (0 for an
/// empty mask).
Tensor relevance_rank_accuracy(const Tensor& attributions, const Tensor& masks);

/// How mask_iou binarises the saliency.
enum class IouThreshold {
  TopFraction,  ///< the `threshold` fraction of pixels of highest saliency (at least 1 pixel)
  Value,        ///< pixels with saliency > threshold
};

/// Intersection over union of the binarised saliency and the mask (1 when both are empty).
Tensor mask_iou(const Tensor& attributions, const Tensor& masks, float threshold = 0.1f,
                IouThreshold mode = IouThreshold::TopFraction);

}  // namespace backlight
