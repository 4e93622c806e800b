#pragma once
/// Neuron attribution methods, as Captum 0.8's captum.attr.Neuron* (attribute_to_neuron_input =
/// False): each explains one neuron of a layer (attribution/core/neuron.h: layer path + index, or a
/// selector function) in terms of the inputs and returns an input-shaped attribution [N, ...].
/// The neuron takes the target's place: backward passes start at the layer output, seeded one-hot
/// at the neuron of every item (all items in one backward), not at the logits. Only
/// neuron_conductance also takes a model target (the neuron's share of the target).
///
/// result.output holds the model output for the inputs; result.delta, where given, is the
/// completeness residual with respect to the neuron: sum(attr[n]) - (neuron(x_n) - neuron(x'_n)).
/// Errors: an unknown layer lists the model's module paths; an index that does not fit names the
/// layer's output shape. CPU; the model is never changed. Neuron IG and conductance run the
/// threads side by side on parts of each path chunk (attribution/core/side_by_side.h) unless the
/// neuron or the target is a function.
#include <vector>

#include "attribution/core/baseline.h"
#include "attribution/path/integration.h"
#include "attribution/core/neuron.h"
#include "attribution/core/pass.h"
#include "attribution/core/result.h"

namespace backlight {

struct NeuronGradientOptions {
  const Workspace* workspace = nullptr;
};
/// NeuronGradient: d neuron / d input (one forward, one backward for the batch).
AttributionResult neuron_gradient(const Module& model, const Tensor& inputs, const Neuron& neuron,
                                  const NeuronGradientOptions& options = {});

using NeuronInputXGradientOptions = NeuronGradientOptions;
/// NeuronInputXGradient: input * d neuron / d input (Captum has no class of this name; it is
/// InputXGradient with NeuronGradient's gradient function).
AttributionResult neuron_input_x_gradient(const Module& model, const Tensor& inputs, const Neuron& neuron,
                                          const NeuronInputXGradientOptions& options = {});

using NeuronGuidedBackpropOptions = NeuronGradientOptions;
/// NeuronGuidedBackprop: guided backpropagation (Springenberg et al. 2015) from the neuron.
AttributionResult neuron_guided_backprop(const Module& model, const Tensor& inputs, const Neuron& neuron,
                                         const NeuronGuidedBackpropOptions& options = {});

using NeuronDeconvolutionOptions = NeuronGradientOptions;
/// NeuronDeconvolution: deconvnet backward (Zeiler & Fergus 2014) from the neuron.
AttributionResult neuron_deconvolution(const Module& model, const Tensor& inputs, const Neuron& neuron,
                                       const NeuronDeconvolutionOptions& options = {});

struct NeuronIntegratedGradientsOptions {
  int steps = 50;
  Integration method = Integration::GaussLegendre;
  std::vector<Baseline> baselines = {Baseline::zero()};  ///< averaged over when several
  int internal_batch_size = 0;                           ///< rows (steps x items) per forward; 0 = all steps at once
  bool multiply_by_inputs = true;
  const Workspace* workspace = nullptr;
};
/// NeuronIntegratedGradients: IG of the neuron's value,
///   attr = (x - x') * sum_k w_k * d neuron / d x |_(x' + alpha_k (x - x')).
AttributionResult neuron_integrated_gradients(const Module& model, const Tensor& inputs, const Neuron& neuron,
                                              const NeuronIntegratedGradientsOptions& options = {});

struct NeuronConductanceOptions {
  int steps = 50;
  Integration method = Integration::RiemannTrapezoid;  ///< Captum's default for this method
  std::vector<Baseline> baselines = {Baseline::zero()};
  int internal_batch_size = 0;
  bool multiply_by_inputs = true;
  const Workspace* workspace = nullptr;
};
/// NeuronConductance (Dhamdhere et al. 2018): the flow of the target through the neuron,
///   attr = (x - x') * sum_k w_k * (d target / d neuron)(x_k) * (d neuron / d x)(x_k).
/// Selector neurons: the selector is applied to the layer gradient as well (as Captum), so it
/// must be a selection (linear), not an arbitrary function. No delta.
AttributionResult neuron_conductance(const Module& model, const Tensor& inputs, const Neuron& neuron,
                                     const Target& target, const NeuronConductanceOptions& options = {});

struct NeuronGradientShapOptions {
  Tensor baselines;    ///< distribution [B, ...] with the inputs' per-item shape
  int samples = 5;     ///< Captum n_samples
  float stdev = 0.0f;  ///< Gaussian input noise (Captum stdevs)
  uint64_t seed = 0;
  bool multiply_by_inputs = true;
  // Explicit draws (as gradient_shap.h), to reproduce Captum's numpy/torch draws exactly:
  std::vector<int64_t> baseline_indices;  ///< [samples * N], index s * N + n
  std::vector<float> alphas;              ///< [samples * N], index s * N + n
  Tensor noise;                           ///< [samples, N, ...] added to the inputs (stdev unused)
  const Workspace* workspace = nullptr;
};
/// NeuronGradientShap: GradientSHAP (Lundberg & Lee 2017) of the neuron: mean over samples of
/// (x~ - b) * d neuron / d x at alpha x~ + (1 - alpha) b (attribution/core/rows.h shap_samples; Philox
/// draws, so equal to Captum in expectation, not sample by sample - or the explicit draws above,
/// which match it exactly).
AttributionResult neuron_gradient_shap(const Module& model, const Tensor& inputs, const Neuron& neuron,
                                       const NeuronGradientShapOptions& options);

struct NeuronDeepLiftOptions {
  std::vector<Baseline> baselines = {Baseline::zero()};  ///< averaged over when several
  bool multiply_by_inputs = true;
  const Workspace* workspace = nullptr;
};
/// NeuronDeepLift (Shrikumar et al. 2017, Rescale): one paired forward over [x; x'], backward
/// through the `deeplift` rule set from the neuron (seeded on both halves, as Captum),
/// attr = (x - x') * multipliers. Summation-to-delta holds for the neuron.
AttributionResult neuron_deeplift(const Module& model, const Tensor& inputs, const Neuron& neuron,
                                  const NeuronDeepLiftOptions& options = {});

struct NeuronDeepLiftShapOptions {
  Tensor baselines;  ///< distribution [B, ...] with the inputs' per-item shape
  bool multiply_by_inputs = true;
  const Workspace* workspace = nullptr;
};
/// NeuronDeepLiftShap: the mean of NeuronDeepLift over the B baselines.
AttributionResult neuron_deeplift_shap(const Module& model, const Tensor& inputs, const Neuron& neuron,
                                       const NeuronDeepLiftShapOptions& options);

}  // namespace backlight
