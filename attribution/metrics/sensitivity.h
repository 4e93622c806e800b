#pragma once
/// Max-sensitivity (Yeh et al. 2019, "On the (In)fidelity and Sensitivity of Explanations"), as
/// Captum's captum.metrics.sensitivity_max:
///   SENS_max(Phi, x) = max_{||d||_inf <= r} ||Phi(x + d) - Phi(x)|| / ||Phi(x)||
/// estimated by Monte Carlo: `samples` draws d ~ U[-r, r]^D per item (Philox(seed, stream = s)),
/// Frobenius norms over each item's attribution. Lower is better (a stable explanation).
/// ||Phi(x)|| == 0 gives the unnormalised ||Phi(x + d) - Phi(x)|| (Captum's safe_div by 1).
///
/// Batched: the explanation is called once per sample on all N perturbed items at once.
#include <cstdint>
#include <functional>
#include <string_view>

#include "attribution/registry.h"

namespace backlight {

/// An explanation: attributions [N, ...] for inputs [N, ...] (row n is always item n, so the
/// function may hold a per-item target).
using Explanation = std::function<Tensor(const Tensor& inputs)>;

struct SensitivityOptions {
  int samples = 10;       ///< Monte-Carlo draws per item (Captum's n_perturb_samples)
  float radius = 0.02f;   ///< L-inf radius r (Captum's perturb_radius)
  uint64_t seed = 0;
};

/// Max-sensitivity per item, [N]. Throws on samples < 1, radius < 0 or an explanation that
/// returns another batch size.
Tensor sensitivity_max(const Explanation& explain, const Tensor& inputs, const SensitivityOptions& options = {});

/// The same for registry method `method` (attribution/registry.h) explaining `target`; the
/// classes are resolved once on the unperturbed inputs, so every perturbed copy explains the
/// same class.
Tensor sensitivity_max(std::string_view method, const Module& model, const Tensor& inputs, const Target& target,
                       const MethodOptions& method_options = {}, const SensitivityOptions& options = {});

}  // namespace backlight
