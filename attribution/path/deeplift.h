#pragma once
/// DeepLIFT Rescale (Shrikumar et al. 2017) and DeepLIFT-SHAP, as Captum's DeepLift /
/// DeepLiftShap: one paired forward over [inputs; baselines] (the tape's reference pass), one
/// backward through the `deeplift` rule set, attr = (x - x') * multipliers. Summation-to-delta:
/// sum(attr[n]) = f_t(x_n) - f_t(x'_n) (result.delta holds the residual per item).
#include "attribution/core/baseline.h"
#include "attribution/core/pass.h"
#include "attribution/core/result.h"

namespace backlight {

struct DeepLiftOptions {
  /// Averaged over when several are given (each is one paired pass).
  std::vector<Baseline> baselines = {Baseline::zero()};
  bool multiply_by_inputs = true;
  const Workspace* workspace = nullptr;
};
AttributionResult deeplift(const Module& model, const Tensor& inputs, const Target& target,
                           const DeepLiftOptions& options = {});

struct DeepLiftShapOptions {
  /// Baseline distribution [B, ...] (same per-item shape as the inputs); attributions are the
  /// mean of DeepLIFT over the B baselines (Captum DeepLiftShap).
  Tensor baselines;
  bool multiply_by_inputs = true;  ///< false: the mean multipliers alone (Captum's multiply_by_inputs)
  const Workspace* workspace = nullptr;
};
AttributionResult deeplift_shap(const Module& model, const Tensor& inputs, const Target& target,
                                const DeepLiftShapOptions& options);

}  // namespace backlight
