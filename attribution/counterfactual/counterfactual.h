#pragma once
/// Counterfactual explanations: an input x' close to x that the model assigns to a desired class.
///
/// Wachter, Mittelstadt, Russell 2017, "Counterfactual explanations without opening the black box":
///
///     L(x') = max(0, max_{j != t} z_j(x') - z_t(x') + kappa) + lambda * d(x', x)
///
/// (a hinge on the logit margin of the desired class t, then the distance of metric.h's l1, l2 or
/// MAD-weighted l1), minimised by Adam on x' from x, x' clamped to the allowed ranges after every
/// step, immutable features held at x. Every round runs max_iter steps and keeps the closest valid
/// iterate; a round without a valid one multiplies lambda by lambda_decay and starts again.
///
/// DiCE, Mothilal, Sharma, Tan 2020, "Explaining machine learning classifiers through diverse
/// counterfactual explanations", as dice-ml 0.12's gradient method (DicePyTorch): k answers
/// c_1..c_k optimised jointly,
///
///     L(C) = 1/k sum_i max(0, kappa - margin_i) + proximity_weight / (k F) sum_i d(c_i, x)
///            - diversity_weight * det K,    K_ij = 1 / (1 + d(c_i, c_j)) (+1e-4 on the diagonal)
///
/// (margin_i = z_t(c_i) - max_{j != t} z_j(c_i); for a binary model with logit z_1 - z_0 and
/// kappa = 1 this is dice-ml's hinge_loss on its logit), c_n initialised at x + n * init_offset
/// (dice-ml's init_near_query_instance), Adam with clamping to the ranges, at least min_iter and at
/// most max_iter steps, stopping when the loss changes by <= loss_diff_thresh and all k are valid;
/// when the last iterate is not all valid, the last all-valid iterate is returned if there was one.
///
/// Post-hoc sparsity (DiCE section 3.3, optional): per counterfactual, changed features are reset
/// to x's value one at a time, smallest weighted change first, keeping each reset that leaves
/// the counterfactual valid (one forward pass per changed feature: meant for tabular inputs).
///
/// Inputs: x is one item [1, ...] on the CPU; the model returns logits [N, classes] for a batch.
/// "Valid" means argmax_j z_j(c) == t. Features are the item's values flattened (F = numel).
#include <cstdint>
#include <limits>
#include <vector>

#include "attribution/core/progress.h"
#include "attribution/counterfactual/distance.h"
#include "engine/module.h"

namespace backlight {

/// What may change and where: per flattened feature.
struct CfConstraints {
  std::vector<uint8_t> immutable;  ///< 1: the feature keeps x's value; empty: all mutable
  std::vector<float> lower, upper;  ///< allowed range per feature; empty: the scalar bounds below
  float lower_bound = -std::numeric_limits<float>::infinity();
  float upper_bound = std::numeric_limits<float>::infinity();
};

struct WachterOptions {
  float kappa = 0.1f;          ///< logit margin the desired class must reach in the hinge
  float lambda = 1.0f;         ///< initial weight of the distance
  float lambda_decay = 0.5f;   ///< lambda *= lambda_decay after a round without a valid answer
  int64_t lambda_steps = 8;    ///< rounds at most
  int64_t max_iter = 300;      ///< Adam steps per round
  float learning_rate = 0.01f;
  CfMetric metric;
  CfConstraints constraints;
  bool posthoc_sparsity = false;
  double change_tolerance = 1e-3;  ///< |c_f - x_f| above this counts as a change (sparsity)
  ProgressOptions progress{.enabled = false};  ///< one unit per Adam step
  const Workspace* workspace = nullptr;
};

struct DiceOptions {
  int64_t k = 4;                   ///< dice-ml total_CFs
  float proximity_weight = 0.5f;   ///< dice-ml defaults
  float diversity_weight = 1.0f;
  float kappa = 1.0f;              ///< hinge margin (dice-ml's hinge_loss: 1)
  float learning_rate = 0.05f;
  int64_t min_iter = 500;
  int64_t max_iter = 5000;
  double loss_diff_thresh = 1e-5;
  float init_offset = 0.01f;       ///< c_n starts at x + n * init_offset (mutable features)
  CfMetric metric;
  CfConstraints constraints;
  bool posthoc_sparsity = false;
  double change_tolerance = 1e-3;
  ProgressOptions progress{.enabled = false};  ///< one unit per Adam step (up to max_iter)
  const Workspace* workspace = nullptr;
};

struct CounterfactualResult {
  Tensor counterfactuals;              ///< [k, ...item shape] (k = 1 for Wachter)
  int64_t desired_class = -1;
  std::vector<int64_t> prediction;     ///< argmax per counterfactual
  std::vector<float> probability;      ///< softmax probability of the desired class
  std::vector<uint8_t> valid;          ///< prediction == desired_class
  CfMetrics metrics;                   ///< measured with the options' metric
  int64_t iterations = 0;              ///< Adam steps run (all rounds)
  double lambda = 0;                   ///< Wachter: lambda of the round that produced the answer
};

/// Wachter et al. 2017 (one counterfactual). Throws for a bad shape, class or option.
CounterfactualResult wachter_counterfactual(const Module& model, const Tensor& x, int64_t desired_class,
                                            const WachterOptions& options = {});

/// DiCE's gradient method (k counterfactuals). Throws for a bad shape, class or option.
CounterfactualResult dice_counterfactuals(const Module& model, const Tensor& x, int64_t desired_class,
                                          const DiceOptions& options = {});

}  // namespace backlight
