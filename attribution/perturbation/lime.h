#pragma once
/// LIME and KernelSHAP: a weighted linear surrogate fitted, per item, to the model's target on
/// random coalitions of interpretable features, as Captum 0.8's Lime and KernelShap.
///
/// Interpretable features: the groups of a feature mask (attribution/perturbation/perturbation.h rules), or a
/// segmentation of image inputs (attribution/perturbation/segmentation.h). A coalition z in {0,1}^M keeps the
/// input where z = 1 and puts the baseline where z = 0 (Captum's default_from_interp_rep_transform).
/// Each item gets its own surrogate (Captum trains one per example when N > 1) and its own
/// samples; the attribution of an element is the coefficient of its feature (return_input_shape).
/// Ids are renumbered per item to 0 .. M_n - 1 (Captum shifts them to start at 0 and counts up to
/// the largest; ids absent from an item would only add dead columns).
///
/// Sampling is seeded: sample k of item n depends only on (seed, n, k) (Philox), not on
/// perturbations_per_eval or threads. Captum draws with torch's generator, so its numbers match in
/// distribution, not sample by sample. Forwards run in inference mode, perturbations_per_eval
/// samples x N items per forward (0: about 64 rows). result.output is the model output for the
/// inputs; result.delta[n] = intercept + sum of coefficients - f(x_n) (the surrogate's error at
/// the input itself).
#include <vector>

#include "attribution/core/baseline.h"
#include "attribution/core/progress.h"
#include "attribution/core/result.h"
#include "attribution/perturbation/segmentation.h"
#include "attribution/perturbation/surrogate.h"
#include "attribution/core/target.h"
#include "engine/module.h"

namespace backlight {

/// Where the interpretable features come from.
struct InterpretableFeatures {
  /// Integer ids (as float) broadcastable to the inputs; takes precedence when defined.
  Tensor feature_mask;
  /// Without a mask: image inputs [N, C, H, W] are segmented (default SLIC, per image, shared by
  /// the channels); other inputs use every element (Captum's default). Elements forces that for
  /// images too.
  Segmentation segmentation = Segmentation::Slic;
  SlicOptions slic;  ///< segments (also the cell count of Grid), compactness, iterations
};

enum class LimeDistance { Cosine, Euclidean };

struct LimeOptions {
  InterpretableFeatures features;
  Baseline baseline = Baseline::zero();
  int samples = 25;  ///< Captum Lime's n_samples default
  int perturbations_per_eval = 0;
  uint64_t seed = 0;
  /// Similarity pi(x, x') = exp(-d(x, x')^2 / (2 width^2)) between the input and the perturbed
  /// input in input space (Captum get_exp_kernel_similarity_function("cosine", 1.0)), d = 1 - cos
  /// or the Euclidean norm.
  LimeDistance distance = LimeDistance::Cosine;
  float kernel_width = 1.0f;
  /// Surrogate and its penalty. Captum's Lime default is Lasso(alpha = 0.01); backlight's default
  /// is Ridge(alpha = 1), the original LIME's (Ribeiro et al. 2016, sklearn Ridge()).
  Surrogate surrogate = Surrogate::Ridge;
  double alpha = 1.0;
  ProgressOptions progress;
  const Workspace* workspace = nullptr;
};
/// LIME (Ribeiro et al. 2016): coalitions z_j ~ Bernoulli(0.5) (Captum's default_perturb_func),
/// weights pi(x, x'), surrogate per `surrogate`.
AttributionResult lime(const Module& model, const Tensor& inputs, const Target& target,
                       const LimeOptions& options = {});

struct KernelShapOptions {
  InterpretableFeatures features;
  Baseline baseline = Baseline::zero();
  int samples = 25;  ///< Captum's n_samples default (includes the two anchor coalitions)
  int perturbations_per_eval = 0;
  uint64_t seed = 0;
  ProgressOptions progress;
  const Workspace* workspace = nullptr;
};
/// KernelSHAP (Lundberg & Lee 2017), Captum's formulation: the first two coalitions are all-ones
/// and all-zeros with weight 1e6; the others draw a size k in 1..M-1 with probability
/// proportional to (M - 1) / (k (M - k)) and then k features uniformly, with weight 1 (sampling
/// from the Shapley kernel instead of weighting by it); the surrogate is weighted least squares
/// (sklearn LinearRegression; minimum-norm when the samples do not determine it). On a model that
/// is linear in the features this recovers the exact Shapley values once the samples span them.
AttributionResult kernel_shap(const Module& model, const Tensor& inputs, const Target& target,
                              const KernelShapOptions& options = {});

}  // namespace backlight
