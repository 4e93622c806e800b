#pragma once
/// MinParamPerturbation as Captum 0.8's captum.robust.MinParamPerturbation: the smallest value of a
/// perturbation's parameter (an FGSM epsilon, a noise level, an occluded fraction) for which the
/// model's answer is no longer correct, found by linear or binary search over
/// arg_min, arg_min + arg_step, ... (< arg_max).
///
///   linear: the first value of the grid whose perturbed input is misclassified (each value tried
///           num_attempts times, for random perturbations).
///   binary: Captum's search on the grid: mid = lo + floor(floor((hi - lo) / step) / 2) * step (at
///           least one step while lo + step < hi); success at mid -> hi = mid (keep the smallest
///           success), failure -> lo = mid; stops when mid is lo. It assumes success is monotone in
///           the parameter.
/// "Correct" is Captum's default_correct_fn: every item's argmax equals its target.
#include <functional>
#include <optional>

#include "attribution/core/target.h"
#include "engine/module.h"

namespace backlight {

enum class MinParamMode { Linear, Binary };

struct MinParamOptions {
  double arg_min = 0;
  double arg_max = 1;
  double arg_step = 0.1;  ///< arg_max must exceed arg_min + arg_step (Captum's assertion)
  MinParamMode mode = MinParamMode::Linear;
  int64_t num_attempts = 1;
};

struct MinParamResult {
  std::optional<double> param;  ///< nullopt: no value in the range changed the answer
  Tensor perturbed;             ///< the perturbed input at `param` (undefined when none)
  std::vector<int64_t> target;  ///< the resolved targets
  int64_t evaluations = 0;      ///< perturbations tried
};

/// A perturbation: the perturbed batch for a parameter value (e.g. FGSM with epsilon = param).
using ParamPerturbation = std::function<Tensor(const Tensor& inputs, double param)>;

/// Captum MinParamPerturbation(model, attack, arg_name, arg_min, arg_max, arg_step, mode,
/// num_attempts).evaluate(inputs, target=...). Target::top1() resolves to the clean prediction.
MinParamResult min_param_perturbation(const Module& model, const Tensor& inputs, const ParamPerturbation& perturb,
                                      const Target& target, const MinParamOptions& options);

/// "linear" / "binary"; throws naming the accepted names.
MinParamMode min_param_mode_from_string(const std::string& name);

}  // namespace backlight
