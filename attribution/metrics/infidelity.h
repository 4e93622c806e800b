#pragma once
/// Infidelity (Yeh et al. 2019, "On the (In)fidelity and Sensitivity of Explanations"), as
/// Captum's captum.metrics.infidelity:
///   INFD(attr, f, x) = E_I [ (I . attr - (f_t(x) - f_t(x - I)))^2 ]
/// estimated with `samples` perturbations I per item. f_t is the target's logit (or the target
/// function). Lower is better; 0 means the attribution predicts every perturbation's effect.
///
/// normalize (Captum's `normalize`): the attribution is first rescaled by the optimal
///   beta = E[(I . attr) (f_t(x) - f_t(x - I))] / E[(I . attr)^2],
/// so the metric ignores the attribution's scale.
/// multiply_by_inputs (Captum's infidelity_perturb_func_decorator(True)): for attributions that
/// are multiplied by (x - baseline) (input x gradient, IG, DeepLIFT), the dot product uses
/// I / (x - baseline) instead of I (0 where x == baseline); with it, input x gradient of a linear
/// model has infidelity 0 for any additive perturbation (tested).
///
/// Batched: samples x items perturbed rows run in forwards of `batch` rows. Seeded: the default
/// perturbation is Gaussian noise I ~ N(0, stdev^2) from Philox(seed, stream = sample), so the
/// result does not depend on `batch`.
#include <cstdint>
#include <functional>

#include "attribution/core/target.h"
#include "engine/module.h"

namespace backlight {

/// Perturbation I for all items of `inputs` [N, ...] at sample `s` (same shape as inputs); the
/// perturbed input is inputs - I. Must be deterministic in (inputs, s) for seeded results.
using InfidelityPerturbation = std::function<Tensor(const Tensor& inputs, int64_t s)>;

struct InfidelityOptions {
  int samples = 10;      ///< perturbations per item (Captum's n_perturb_samples)
  float stdev = 0.003f;  ///< default perturbation: Gaussian noise stdev (absolute)
  uint64_t seed = 0;
  bool normalize = false;
  bool multiply_by_inputs = false;
  Tensor baseline{};  ///< for multiply_by_inputs, same shape as inputs; undefined = zeros
  InfidelityPerturbation perturbation{};  ///< empty: the Gaussian noise above
  int64_t batch = 0;                    ///< rows per forward; 0: all samples x items at once
};

/// Infidelity per item, [N]. `attributions` has the shape of `inputs` [N, ...]. Throws on
/// shape mismatches, samples < 1 or a perturbation of the wrong shape.
Tensor infidelity(const Module& model, const Tensor& inputs, const Tensor& attributions, const Target& target,
                  const InfidelityOptions& options = {});

/// The default perturbation: I[n, j] = stdev * Philox normal(seed, stream = s, n * numel + j).
Tensor gaussian_perturbation(const Tensor& inputs, int64_t s, float stdev, uint64_t seed);

}  // namespace backlight
