#pragma once
/// Layer attribution methods, as Captum 0.8's captum.attr.Layer* (attribute_to_layer_input =
/// False): each explains the target through one layer and returns an attribution with the shape
/// of that layer's output [N, ...] (also in result.layer_map). The layer is a module path
/// ("features.3", "layer4"); its output is the output of the last tape node the module records
/// (attribution/layer.h). Unknown layers throw listing the module paths of the model.
///
/// Every method takes the model, a batch of inputs [N, ...], the target (class index per item,
/// top-1, or a function of the output; class targets are resolved on the inputs' prediction and
/// kept fixed along paths and samples) and its options; it runs the whole batch in each forward
/// (path methods: steps x items rows, chunked by internal_batch_size as Captum) and never changes
/// the model. result.output holds the model output for the inputs. CPU; no device syncs.
///
/// Grad-CAM and the other CAM methods live in attribution/cam.h; interpolate_layer_map() brings
/// a layer map to the input's size.
#include <string>
#include <vector>

#include "attribution/baseline.h"
#include "attribution/integration.h"
#include "attribution/pass.h"
#include "attribution/result.h"
#include "engine/rule_sets.h"

namespace backlight {

// --- single forward ------------------------------------------------------------------------------

struct LayerActivationOptions {
  std::string layer;
  const Workspace* workspace = nullptr;
};
/// LayerActivation: the layer's output itself (no backward; the target is ignored).
AttributionResult layer_activation(const Module& model, const Tensor& inputs, const Target& target,
                                   const LayerActivationOptions& options);

struct LayerGradientXActivationOptions {
  std::string layer;
  bool multiply_by_inputs = true;  ///< false: the layer gradient alone
  const Workspace* workspace = nullptr;
};
/// LayerGradientXActivation: a(x) * d target / d a at the layer output a (Shrikumar et al. 2016
/// applied to a layer).
AttributionResult layer_gradient_x_activation(const Module& model, const Tensor& inputs, const Target& target,
                                              const LayerGradientXActivationOptions& options);

// --- path methods (layer_path_methods.cpp) --------------------------------------------------------

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

// --- reference and rule methods -------------------------------------------------------------------

struct LayerDeepLiftOptions {
  std::string layer;
  std::vector<Baseline> baselines = {Baseline::zero()};  ///< averaged over when several
  bool multiply_by_inputs = true;
  const Workspace* workspace = nullptr;
};
/// LayerDeepLift (Shrikumar et al. 2017, Rescale): one paired forward over [x; x'] and one
/// backward through the `deeplift` rule set to the layer output,
///   attr = (a(x) - a(x')) * multipliers;  delta[n] = sum(attr[n]) - (f_t(x_n) - f_t(x'_n)).
AttributionResult layer_deeplift(const Module& model, const Tensor& inputs, const Target& target,
                                 const LayerDeepLiftOptions& options);

struct LayerDeepLiftShapOptions {
  std::string layer;
  Tensor baselines;  ///< distribution [B, ...] with the inputs' per-item shape
  bool multiply_by_inputs = true;
  const Workspace* workspace = nullptr;
};
/// LayerDeepLiftShap: the mean of LayerDeepLift over the B baselines (one paired pass each).
/// delta[n] is the mean of the per-baseline deltas.
AttributionResult layer_deeplift_shap(const Module& model, const Tensor& inputs, const Target& target,
                                      const LayerDeepLiftShapOptions& options);

struct LayerLrpOptions {
  std::string layer;
  std::string rules = "auto";  ///< a built-in rule set (rule_sets.h), or "auto" as LrpOptions::rules
  RuleParams params;
  const RuleSet* rule_set = nullptr;  ///< a custom rule set instead of `rules`
  bool merge_batchnorm = true;        ///< fold BatchNorm into conv/linear first (as lrp())
  /// Captum scales relevances by the target's output value (its LRP starts from f_t(x)); the
  /// default starts from 1, as backlight's lrp() and Zennit.
  bool multiply_by_output = false;
  const Workspace* workspace = nullptr;
};
/// LayerLRP: the relevance arriving at the layer's output under a rule set (layer-wise relevance
/// propagation, Bach et al. 2015). delta[n] = (start relevance) - sum(attr[n]).
AttributionResult layer_lrp(const Module& model, const Tensor& inputs, const Target& target,
                            const LayerLrpOptions& options);

// --- showing layer maps ---------------------------------------------------------------------------

enum class LayerMapReduce { None, Sum, Mean };
enum class LayerMapInterpolation { Bilinear, Nearest };

/// Upsamples a layer map [N, C, h, w] to [N, C', height, width] for display over the input:
/// first reduces the channels (Sum or Mean -> C' = 1; None keeps C), then resizes with bilinear
/// (align_corners = false, upsample_bilinear) or nearest interpolation (PyTorch F.interpolate;
/// Captum's LayerAttribution.interpolate defaults to nearest and never reduces channels).
Tensor interpolate_layer_map(const Tensor& map, int64_t height, int64_t width,
                             LayerMapReduce reduce = LayerMapReduce::None,
                             LayerMapInterpolation mode = LayerMapInterpolation::Bilinear);

}  // namespace backlight
