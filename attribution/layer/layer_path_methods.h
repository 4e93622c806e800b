#pragma once
/// Layer path methods, as Captum 0.8's LayerIntegratedGradients, LayerConductance,
/// InternalInfluence and LayerGradientShap: gradients with respect to one layer's output along a
/// path (or at sampled points) between baselines and inputs, steps x items rows per chunk
/// (internal_batch_size, as Captum). On the CPU with class targets the threads run parts of each
/// path chunk side by side, one whole forward+backward each (attribution/core/side_by_side.h;
/// the one-thread result up to float rounding). Conventions (layer paths, targets, result
/// shapes) as the other layer methods: see attribution/layer/layer_methods.h.
#include <string>
#include <vector>

#include "attribution/core/baseline.h"
#include "attribution/path/integration.h"
#include "attribution/core/pass.h"
#include "attribution/core/result.h"

namespace backlight {

struct LayerIntegratedGradientsOptions {
  std::string layer;
  int steps = 50;
  Integration method = Integration::GaussLegendre;
  std::vector<Baseline> baselines = {Baseline::zero()};  ///< input baselines; averaged over when several
  int internal_batch_size = 0;                           ///< rows (steps x items) per forward; 0 = all steps at once
  bool multiply_by_inputs = true;
  const Workspace* workspace = nullptr;
};
/// LayerIntegratedGradients (Sundararajan et al. 2017 in a layer's output space, Captum
/// LayerIntegratedGradients): with a = layer(x), a' = layer(x'),
///   attr = (a - a') * sum_k w_k * d target / d a |_(a' + alpha_k (a - a'))
/// where the rest of the network runs with the layer output replaced by the interpolated value
/// (the layers before it still see x, as Captum, so skip connections around the layer keep
/// their input). delta[n] = sum(attr[n]) - (f_t(x_n) - f_t(x'_n)).
AttributionResult layer_integrated_gradients(const Module& model, const Tensor& inputs, const Target& target,
                                             const LayerIntegratedGradientsOptions& options);

struct LayerConductanceOptions {
  std::string layer;
  int steps = 50;
  Integration method = Integration::GaussLegendre;
  std::vector<Baseline> baselines = {Baseline::zero()};
  int internal_batch_size = 0;  ///< rows per forward; 0 = all steps at once
  const Workspace* workspace = nullptr;
};
/// LayerConductance (Dhamdhere et al. 2018, Captum's formula): the input path is sampled at the
/// steps + 1 alphas of the integration method (weights unused) and
///   attr = sum_{k<steps} (a(x_{k+1}) - a(x_k)) * d target / d a |_(x_k),  x_k = x' + alpha_k (x - x').
/// Sums over the layer to about the IG total (completeness, exact in the limit when the alphas
/// span [0, 1], e.g. riemann_trapezoid). delta[n] = sum(attr[n]) - (f_t(x_n) - f_t(x'_n)).
AttributionResult layer_conductance(const Module& model, const Tensor& inputs, const Target& target,
                                    const LayerConductanceOptions& options);

using InternalInfluenceOptions = LayerConductanceOptions;
/// InternalInfluence (Leino et al. 2018): the layer gradient integrated along the input path,
///   attr = sum_k w_k * d target / d a |_(x' + alpha_k (x - x')), no multiplication.
AttributionResult internal_influence(const Module& model, const Tensor& inputs, const Target& target,
                                     const InternalInfluenceOptions& options);

struct LayerGradientShapOptions {
  std::string layer;
  /// Baseline distribution [B, ...] with the inputs' per-item shape (rows drawn with replacement).
  Tensor baselines;
  int samples = 5;     ///< Captum n_samples
  float stdev = 0.0f;  ///< Gaussian noise added to the inputs (Captum stdevs)
  uint64_t seed = 0;
  bool multiply_by_inputs = true;
  // Explicit draws (as gradient_shap.h), to reproduce Captum's numpy/torch draws exactly:
  std::vector<int64_t> baseline_indices;  ///< [samples * N], index s * N + n
  std::vector<float> alphas;              ///< [samples * N], index s * N + n
  Tensor noise;                           ///< [samples, N, ...] added to the inputs (stdev unused)
  const Workspace* workspace = nullptr;
};
/// LayerGradientShap (Lundberg & Lee 2017, Captum LayerGradientShap): per sample, noisy input
/// x~ = x + noise, baseline b drawn from the distribution, alpha ~ U[0,1),
///   attr = mean_s (a(x~) - a(b)) * d target / d a |_(alpha x~ + (1 - alpha) b).
/// delta[n] = mean over samples of sum(attr_s) - (f_t(x~) - f_t(b)) (Captum returns the
/// per-sample terms, [N * samples]). Draws use Philox (seeded), so values match Captum in
/// expectation, not sample by sample - or the explicit draws above, which match it exactly.
AttributionResult layer_gradient_shap(const Module& model, const Tensor& inputs, const Target& target,
                                      const LayerGradientShapOptions& options);

}  // namespace backlight
