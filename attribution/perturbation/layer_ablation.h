#pragma once
/// LayerFeatureAblation and NeuronFeatureAblation, as Captum 0.8's: ablation of a layer's output
/// units, and ablation of input features measured at one neuron. Conventions (targets, batching,
/// progress) as the other ablation methods: see attribution/perturbation/occlusion.h. CPU only.
#include <string>

#include "attribution/core/baseline.h"
#include "attribution/core/neuron.h"
#include "attribution/core/progress.h"
#include "attribution/core/result.h"
#include "attribution/core/target.h"
#include "attribution/perturbation/feature_ablation.h"
#include "engine/module.h"

namespace backlight {

struct LayerFeatureAblationOptions {
  std::string layer;  ///< module path; its output (the last op the module records) is ablated
  /// Integer ids broadcastable to the layer output [N or 1, ...]; undefined: every unit alone
  /// (Captum's default), unless `channels` is set.
  Tensor layer_mask;
  bool channels = false;  ///< without a mask: one group per channel (dimension 1) of the layer
  /// Replacement for ablated units: zero (Captum's default), a constant, or a tensor of the layer
  /// output's shape ([N, ...] or one item).
  Baseline layer_baseline = Baseline::zero();
  int perturbations_per_eval = 0;
  ProgressOptions progress;
  const Workspace* workspace = nullptr;
};
/// LayerFeatureAblation: ablates groups of a layer's output units by substituting the layer's
/// output during the forward (Tape::set_output_hook; no hook in the model) and attributes
/// f(x) - f(x with the group ablated) to every unit of the group. The attribution has the
/// layer output's shape [N, ...] (also in result.layer_map).
AttributionResult layer_feature_ablation(const Module& model, const Tensor& inputs, const Target& target,
                                         const LayerFeatureAblationOptions& options);

using NeuronFeatureAblationOptions = FeatureAblationOptions;
/// NeuronFeatureAblation: FeatureAblation of the input features measured at one neuron of a
/// layer instead of the model output: attr = neuron(x) - neuron(x ablated). Input-shaped.
AttributionResult neuron_feature_ablation(const Module& model, const Tensor& inputs, const Neuron& neuron,
                                          const NeuronFeatureAblationOptions& options = {});

}  // namespace backlight
