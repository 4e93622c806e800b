#pragma once
/// Fragility of explanations under a small perturbation of the input (Ghorbani, Abid, Zou 2019,
/// "Interpretation of neural networks is fragile", AAAI): the method's map of the same class on
/// x and on x' = x + delta, ||delta||_inf <= epsilon, compared with explanation_fragility
/// (attribution/metrics/fragility.h: top-k intersection and Spearman rank correlation of the
/// per-position saliency). Higher is more robust; sensitivity-max (sensitivity.h) is the
/// averaged-over-noise, "lower is better" counterpart.
///
/// Perturbations:
///   random_sign  delta = epsilon * s, s in {-1, +1} per input value (Philox(seed), stream 0):
///                the paper's random sign perturbation, its baseline attack.
///   fgsm / pgd   the prediction attacks of attribution/robustness/attack.h (Captum semantics),
///                untargeted against the explained class (PGD: `steps` steps of `step_size`).
///   topk         the paper's own top-k attack (its Algorithm 1) for saliency and input x
///                gradient: `steps` signed steps of `step_size` descending the clean top-k
///                positions' saliency, second derivatives through a softplus-smoothed backward
///                (attribution/metrics/fragility_topk.h); keeps the most damaging step that leaves
///                the prediction alone (x itself when none does: FragilityResult::kept_input).
/// The paper's centre-of-mass attack is not implemented.
/// Defaults are the paper's: epsilon = 8/255 (its largest L-inf budget, pixels in [0, 1]) and
/// k = 2 % of the positions (k = 1000 of 224 x 224).
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "attribution/metrics/fragility.h"
#include "attribution/registry.h"

namespace backlight {

enum class FragilityAttack { RandomSign, Fgsm, Pgd, TopK };

/// "random_sign" | "fgsm" | "pgd" | "topk"; throws backlight::Error listing them.
FragilityAttack fragility_attack_from_string(std::string_view name);
std::string to_string(FragilityAttack attack);

struct FragilityOptions {
  FragilityAttack attack = FragilityAttack::RandomSign;
  float epsilon = 8.0f / 255.0f;  ///< L-inf budget
  int64_t steps = 10;             ///< pgd / topk steps
  float step_size = 0;            ///< pgd / topk step; 0: epsilon / 4
  double top_k_fraction = 0.02;   ///< k as a fraction of the map's positions (at least 1)
  int64_t top_k = 0;              ///< k itself when > 0 (overrides the fraction)
  float lower_bound = -std::numeric_limits<float>::infinity();  ///< x' clamped to these
  float upper_bound = std::numeric_limits<float>::infinity();
  uint64_t seed = 0;              ///< random_sign draws
  float softplus_beta = 10.0f;    ///< topk: ReLU backward -> sigmoid(beta z) (fragility_topk.h)
};

/// x' for `inputs` [N, ...] (the perturbation above, clamped to the bounds). Not for topk, which
/// needs the explained method (attack_fragility, or topk_attack in fragility_topk.h): throws.
Tensor fragility_perturbation(const Module& model, const Tensor& inputs, const std::vector<int64_t>& classes,
                              const FragilityOptions& options);

/// Per item: registry method `method` explaining `target` (resolved once on the clean inputs) on
/// the inputs and on their perturbed copies, compared by explanation_fragility. Throws for
/// epsilon < 0, steps < 1, a fraction outside (0, 1], and (topk) a method other than saliency or
/// input_x_gradient.
FragilityResult attack_fragility(std::string_view method, const Module& model, const Tensor& inputs,
                                 const Target& target, const MethodOptions& method_options = {},
                                 const FragilityOptions& options = {});

}  // namespace backlight
