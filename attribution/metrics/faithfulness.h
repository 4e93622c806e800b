#pragma once
/// Faithfulness correlation (Bhatt et al. 2020, "Evaluating and Aggregating Feature-based Model
/// Explanations", IJCAI), as Quantus' FaithfulnessCorrelation:
///   mu_F = corr_{S ~ random subsets of size |S|} ( sum_{j in S} attr_j ,  f_t(x) - f_t(x_[x_S = baseline]) )
/// the Pearson correlation over `subsets` random feature subsets between the attribution mass of
/// the subset and the drop of the target's logit when the subset is set to the baseline. In
/// [-1, 1]; higher is better. 0 when either side is constant (correlation undefined).
///
/// Features: for image inputs [N, C, H, W] with attributions [N, C', H, W] a feature is a pixel
/// (all channels set together, attribution summed over channels); otherwise every element.
/// Seeded: subset s of item n is a partial Fisher-Yates shuffle with Philox(seed, stream = s)
/// draws. Batched: subsets x items rows in forwards of `batch` rows.
#include <cstdint>
#include <vector>

#include "attribution/core/target.h"
#include "engine/module.h"

namespace backlight {

struct FaithfulnessOptions {
  int subsets = 50;          ///< random subsets per item (Quantus' nr_runs)
  int64_t subset_size = 0;   ///< features per subset; 0: 10% of the features (at least 1)
  float baseline = 0.0f;     ///< value the subset is set to
  uint64_t seed = 0;
  int64_t batch = 0;         ///< rows per forward; 0: all at once
};

/// Faithfulness correlation per item, [N]. Throws on shape mismatches, subsets < 2 or a
/// subset_size larger than the feature count.
Tensor faithfulness_correlation(const Module& model, const Tensor& inputs, const Tensor& attributions,
                                const Target& target, const FaithfulnessOptions& options = {});

/// Pearson correlation of two equally long samples; 0 when either has zero variance.
double pearson(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace backlight
