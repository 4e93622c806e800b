#pragma once
// `backlight sanity`: the similarity of two sets of maps as Adebayo et al. 2018 measure it, one
// code path for every mode (cascading, independent, labels): per image the channel-summed maps,
// Spearman rank correlation of the signed and of the absolute values, and SSIM and HOG similarity
// of the absolute maps scaled to [0, 1] by their maximum; means over the images.
#include <cstdint>

#include "attribution/metrics/map_similarity.h"
#include "engine/tensor.h"

namespace backlight::cli {

/// Item i's channel-summed map of `a` [N, C, H, W] as a plane; `unit`: |.| / max |.| (the
/// paper's normalisation before SSIM and HOG).
MapPlane sanity_plane(const Tensor& a, int64_t i, bool unit);

struct SanitySimilarity {
  double spearman = 0, spearman_abs = 0, ssim = 0, hog = 0;
};

/// The similarities of item i's maps in `reference` and `other` (both [N, C, H, W]).
SanitySimilarity sanity_image_similarity(const Tensor& reference, const Tensor& other, int64_t i);
/// Means over the N items of the similarities of `reference` and `other` (both [N, C, H, W]).
SanitySimilarity sanity_similarity(const Tensor& reference, const Tensor& other);

}  // namespace backlight::cli
