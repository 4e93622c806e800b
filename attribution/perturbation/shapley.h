#pragma once
/// Shapley value sampling (Strumbelj & Kononenko 2010; Castro et al. 2009), as Captum 0.8's
/// ShapleyValueSampling: for each of `samples` random permutations of the features, start from
/// the baseline, add the features (set them to the input) one at a time in permutation order and
/// credit each feature with the change of the target it caused; average over the permutations:
///   phi_i = 1/S sum_s [ f(x_{pre_s(i) + i}) - f(x_{pre_s(i)}) ]
/// where x_A is the baseline with the features in A taken from the input. Every element of a
/// feature group gets the group's phi (Captum's layout). Efficiency holds exactly per item:
/// sum_i phi_i = f(x) - f(baseline) (the last step of every permutation is the input itself, so
/// it is not re-evaluated; differences accumulate in double). result.delta[n] is that residual
/// (sum over features, not elements; ~1e-7 relative).
///
/// Permutation s depends only on (seed, s) (Philox), so the result does not depend on
/// perturbations_per_eval or the thread count; Captum draws with torch.randperm, so its numbers
/// match in distribution. Cost: samples x (features - 1) x N rows, perturbations_per_eval steps
/// (x N rows) per inference-mode forward. Ids absent from the mask are skipped (Captum evaluates
/// them, with a warning); ids need not start at 0.
#include <vector>

#include "attribution/core/baseline.h"
#include "attribution/core/progress.h"
#include "attribution/core/result.h"
#include "attribution/core/target.h"
#include "engine/module.h"

namespace backlight {

struct ShapleyValueSamplingOptions {
  /// Integer feature ids (as float) broadcastable to the inputs ([N or 1, ...]); undefined: every
  /// element is a feature (Captum's default; expensive beyond a few hundred elements).
  Tensor feature_mask;
  Baseline baseline = Baseline::zero();
  int samples = 25;                ///< permutations (Captum's n_samples)
  int perturbations_per_eval = 0;  ///< permutation steps per forward; 0: automatic
  uint64_t seed = 0;
  ProgressOptions progress;
  const Workspace* workspace = nullptr;
};
AttributionResult shapley_value_sampling(const Module& model, const Tensor& inputs, const Target& target,
                                         const ShapleyValueSamplingOptions& options = {});

}  // namespace backlight
