#pragma once
/// FeatureAblation and FeaturePermutation, as Captum 0.8's: each feature group in turn is set to
/// the baseline (or shuffled across the batch) and f(x) - f(x perturbed) goes to its elements.
/// Conventions (targets, batching, progress, devices) as the other ablation methods: see
/// attribution/perturbation/occlusion.h. feature_ablation also runs on a CUDA workspace.
#include <cstdint>

#include "attribution/core/baseline.h"
#include "attribution/core/progress.h"
#include "attribution/core/result.h"
#include "attribution/core/target.h"
#include "engine/module.h"

namespace backlight {

struct FeatureAblationOptions {
  /// Integer feature ids (as float) broadcastable to the inputs: [N or 1, ...] or fewer leading
  /// dimensions (attribution/perturbation/perturbation.h feature_groups). Undefined: every element alone.
  Tensor feature_mask;
  Baseline baseline = Baseline::zero();
  int perturbations_per_eval = 0;  ///< features per forward; 0: automatic
  ProgressOptions progress;
  const Workspace* workspace = nullptr;
};
/// FeatureAblation: each feature group in turn is set to the baseline; every element of the group
/// gets f(x) - f(x ablated) (no averaging: groups do not overlap). Ids absent from the mask are
/// skipped (Captum runs a forward for every id in [min, max]; absent ids change nothing).
AttributionResult feature_ablation(const Module& model, const Tensor& inputs, const Target& target,
                                   const FeatureAblationOptions& options = {});

struct FeaturePermutationOptions {
  /// As FeatureAblationOptions::feature_mask, but shared by all items ([1, ...] or fewer
  /// dimensions): the same features are permuted in every item.
  Tensor feature_mask;
  int perturbations_per_eval = 0;
  uint64_t seed = 0;
  ProgressOptions progress;
  const Workspace* workspace = nullptr;
};
/// FeaturePermutation (Breiman 2001; Molnar's permutation feature importance), Captum semantics:
/// for each feature, its elements are shuffled across the batch by a random non-identity
/// permutation of the N items; attr = f(x) - f(x permuted) per item. Needs N >= 2. The
/// permutation of feature j depends only on (seed, j) (Philox), so results do not depend on
/// perturbations_per_eval; Captum draws with torch.randperm, so its numbers match in distribution.
AttributionResult feature_permutation(const Module& model, const Tensor& inputs, const Target& target,
                                      const FeaturePermutationOptions& options = {});

}  // namespace backlight
