#pragma once
/// The image modification of ROAR and KAR (Hooker, Erhan, Kindermans, Kim 2019, "A Benchmark for
/// Interpretability Methods in Deep Neural Networks", NeurIPS): per image, the pixels are ranked
/// by the channel-summed attribution (descending, ties lower index first: rank_pixels of
/// deletion_insertion.h) and either the top fraction t (ROAR, "remove") or all but the top t
/// (KAR, "keep") is replaced by the per-channel dataset mean (all channels of a pixel at once).
/// The paper's baselines: a random ranking and a Sobel edge detector. The retraining loop (a model
/// trained from scratch on the modified training set, tested on the modified test set) is not
/// part of this file. CPU.
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace backlight {

enum class RoarMode {
  Remove,  ///< ROAR: replace the top-t pixels
  Keep,    ///< KAR: keep the top-t pixels, replace the rest
};

/// Per-channel mean of images [N, C, H, W] over N, H, W: C values.
std::vector<float> channel_means(const Tensor& images);

/// The modified copy of `images` [N, C, H, W]: with k = round(fraction * H * W) and the ranking
/// of `attributions` [N, C', H, W], the top k pixels (Remove) or the other H*W - k (Keep) get
/// `mean[c]` in channel c. Throws for fraction outside [0, 1], mismatched shapes or a mean of
/// the wrong length.
Tensor roar_modify(const Tensor& images, const Tensor& attributions, double fraction, RoarMode mode,
                   const std::vector<float>& mean);

/// The Sobel baseline ranking [N, 1, H, W]: gradient magnitude sqrt(gx^2 + gy^2) of the
/// channel-mean image with 3x3 Sobel kernels, edges replicated.
Tensor sobel_ranking(const Tensor& images);

/// The random baseline ranking [N, 1, H, W]: Philox uniform values (seed, stream = 0).
Tensor random_ranking(const Tensor& images, uint64_t seed);

}  // namespace backlight
