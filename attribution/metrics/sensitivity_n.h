#pragma once
/// Sensitivity-n (Ancona, Ceolini, Oztireli, Gross 2018, "Towards better understanding of
/// gradient-based attribution methods for Deep Neural Networks", ICLR, section 3.2): an
/// attribution is sensitive-n when, for every subset S of n features,
///   sum_{j in S} attr_j = f_t(x) - f_t(x with x_S = baseline).
/// Measured as in the paper's figure 3: for each subset size n, the Pearson correlation over
/// `samples` random subsets of n features between the attribution mass of the subset and the
/// drop of the target's logit, per item; a curve over n (the paper plots it against n / D on a
/// log axis). Higher is better; 1 means exact sensitivity-n up to scale.
///
/// One size n is exactly faithfulness_correlation with subset_size = n (faithfulness.h: features
/// are pixels for image inputs, all channels set to `baseline`, attribution summed over
/// channels), seeded with Philox(seed + k, stream = subset) for the k-th size.
#include <cstdint>
#include <vector>

#include "attribution/core/target.h"
#include "engine/module.h"

namespace backlight {

struct SensitivityNOptions {
  /// Subset sizes as fractions of the feature count D (each rounded, at least 1 feature, at
  /// most D - 1): a log-spaced grid like the paper's x axis.
  std::vector<double> fractions{0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 0.6, 0.9};
  int samples = 100;       ///< random subsets per size and item
  float baseline = 0.0f;   ///< value a removed feature takes (the paper: 0)
  uint64_t seed = 0;
  int64_t batch = 0;       ///< rows per forward; 0: all subsets of one size at once
};

struct SensitivityNResult {
  std::vector<int64_t> sizes;  ///< n per column (from `fractions`, duplicates kept)
  Tensor correlation;          ///< [N, sizes]: Pearson correlation per item and size
  Tensor mean;                 ///< [N]: mean over the sizes (the single number evaluate reports)
};

/// Throws on an empty fraction list, a fraction outside (0, 1], samples < 2 or shape mismatches
/// (as faithfulness_correlation).
SensitivityNResult sensitivity_n(const Module& model, const Tensor& inputs, const Tensor& attributions,
                                 const Target& target, const SensitivityNOptions& options = {});

/// The subset size of `fraction` of `features`: round(fraction * features) clamped to
/// [1, max(1, features - 1)].
int64_t sensitivity_n_size(double fraction, int64_t features);

}  // namespace backlight
