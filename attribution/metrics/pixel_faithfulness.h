#pragma once
/// Per-pixel faithfulness (Alvarez-Melis and Jaakkola 2018, "Towards Robust Interpretability
/// with Self-Explaining Neural Networks", NeurIPS, section 5 "Faithfulness"), as Quantus'
/// FaithfulnessEstimate: remove one feature group at a time from the ORIGINAL input (not
/// cumulatively), record the drop of the target's score, and correlate the drops with the
/// groups' attributions:
///   rho = Pearson_k ( sum_{j in G_k} attr_j ,  f_t(x) - f_t(x with x_{G_k} = baseline) )
/// Groups G_k: the pixels ranked by channel-summed attribution (descending, ties lower index
/// first: rank_pixels of deletion_insertion.h), `step` consecutive pixels per group (the paper:
/// 1, i.e. every pixel on its own). For non-image inputs a feature is an element. In [-1, 1];
/// higher is better; 0 when either side is constant.
///
/// Cost: ceil(D / step) forwards per item (D = H*W pixels), run in chunks of `batch` rows built
/// on the fly, so memory stays at `batch` rows.
#include <cstdint>

#include "attribution/core/target.h"
#include "attribution/metrics/scoring.h"
#include "engine/module.h"

namespace backlight {

struct PixelFaithfulnessOptions {
  int64_t step = 1;        ///< features per group (Quantus' features_in_step; the paper: 1)
  float baseline = 0.0f;   ///< value of a removed feature (Quantus' "black")
  metrics::Score score = metrics::Score::Logit;  ///< Quantus' default (softmax=False)
  int64_t batch = 256;     ///< rows per forward (> 0)
};

/// Per item, [N]. Inputs [N, C, H, W] with attributions [N, C', H, W], or any [N, ...] with
/// attributions of the same shape. Throws on shape mismatches, step < 1 or batch < 1.
Tensor pixel_faithfulness(const Module& model, const Tensor& inputs, const Tensor& attributions, const Target& target,
                          const PixelFaithfulnessOptions& options = {});

}  // namespace backlight
