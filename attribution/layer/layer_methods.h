#pragma once
/// Layer attribution methods, as Captum 0.8's captum.attr.Layer* (attribute_to_layer_input =
/// False): each explains the target through one layer and returns an attribution with the shape
/// of that layer's output [N, ...] (also in result.layer_map). The layer is a module path
/// ("features.3", "layer4"); its output is the output of the last tape node the module records
/// (attribution/core/layer.h). Unknown layers throw listing the module paths of the model.
///
/// Every method takes the model, a batch of inputs [N, ...], the target (class index per item,
/// top-1, or a function of the output; class targets are resolved on the inputs' prediction and
/// kept fixed along paths and samples) and its options; it runs the whole batch in each forward
/// (path methods: steps x items rows, chunked by internal_batch_size as Captum) and never changes
/// the model. result.output holds the model output for the inputs. CPU; no device syncs.
///
/// Grad-CAM and the other CAM methods live in attribution/cam/cam.h; interpolate_layer_map() brings
/// a layer map to the input's size.
#include <string>
#include <vector>

#include "attribution/core/baseline.h"
#include "attribution/core/pass.h"
#include "attribution/core/result.h"
#include "engine/rules/builtin_sets.h"

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
  std::string rules = "auto";  ///< a built-in rule set (engine/rules/builtin_sets.h), or "auto" as LrpOptions::rules
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
