#pragma once
/// Fragility of explanations (Ghorbani, Abid, Zou 2019, "Interpretation of neural networks is
/// fragile"): how much an attribution map changes between an input and a slightly perturbed copy
/// (e.g. a small adversarial attack that leaves the prediction alone). Maps are compared on the
/// saliency per position: the absolute attribution summed over the channel axis (axis 1 of
/// [N, C, H, W]; a map of rank 2, [N, F], is used as is).
///
///   top-k intersection: |topk(s) ∩ topk(s')| / k    (k most salient positions; 1: same top-k)
///   Spearman rank correlation: Pearson correlation of the ranks of s and s' (ties get the mean
///   rank; 1: same order)
///
/// Both are "higher = more robust", the opposite direction of sensitivity-max
/// (attribution/metrics/sensitivity.h).
#include <cstdint>
#include <vector>

#include "engine/tensor.h"

namespace backlight {

struct FragilityResult {
  std::vector<double> top_k_intersection;  ///< per item, in [0, 1]
  std::vector<double> spearman;            ///< per item, in [-1, 1] (0 when a map is constant)
  int64_t k = 0;                           ///< the k used
  /// topk attack only (fragility_attack.h), per item: true when no attack step kept the
  /// prediction, so x' = x and the item scores 1 and 1. Empty for the other perturbations.
  std::vector<bool> kept_input;
};

/// Compares `original` and `perturbed` maps [N, ...] (same shape). `k` <= 0: 10 % of the
/// positions (at least 1); larger than the positions: all of them. Throws on a shape mismatch.
FragilityResult explanation_fragility(const Tensor& original, const Tensor& perturbed, int64_t k = 0);

/// Spearman's rank correlation of two equally long series (average ranks for ties).
double spearman_correlation(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace backlight
