#include "attribution/registry.h"

#include "attribution/perturbation/feature_ablation.h"
#include "attribution/perturbation/layer_ablation.h"
#include "attribution/perturbation/occlusion.h"
#include "attribution/attention/attention_rollout.h"
#include "attribution/cam/cam.h"
#include "attribution/path/deeplift.h"
#include "attribution/on_device.h"
#include "attribution/gradient/gradient_methods.h"
#include "attribution/path/gradient_shap.h"
#include "attribution/cam/guided_grad_cam.h"
#include "attribution/path/integrated_gradients.h"
#include "attribution/layer/layer_methods.h"
#include "attribution/layer/layer_path_methods.h"
#include "attribution/perturbation/lime.h"
#include "attribution/neuron/neuron_methods.h"
#include "attribution/gradient/noise_tunnel.h"
#include "attribution/perturbation/perturbation.h"
#include "attribution/perturbation/rise.h"
#include "attribution/core/rows.h"
#include "attribution/perturbation/shapley.h"

namespace backlight {

namespace {

using Run = AttributionResult (*)(const Module&, const Tensor&, const Target&, const MethodOptions&);

struct Entry {
  MethodInfo info;
  Run run;
};

// One function per method adapts MethodOptions to the method's own options struct.
const std::vector<Entry>& entries() {
  static const std::vector<Entry> table = {
      {{"saliency", "gradient", "|d target / d input| (Simonyan et al. 2014)", "", false, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return saliency(m, x, t, {.abs = true, .workspace = o.workspace});
       }},
      {{"input_x_gradient", "gradient", "input * gradient (Shrikumar et al. 2016)", "", false, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return input_x_gradient(m, x, t, {.workspace = o.workspace});
       }},
      {{"integrated_gradients", "path", "path integral of gradients from a baseline (Sundararajan et al. 2017)",
        "baselines, steps, integration, batch", false, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return integrated_gradients(m, x, t,
                                     {.steps = o.steps,
                                      .method = o.integration,
                                      .baselines = o.baselines,
                                      .internal_batch_size = o.batch,
                                      .workspace = o.workspace});
       }},
      {{"deeplift", "rules", "DeepLIFT Rescale against a baseline (Shrikumar et al. 2017)", "baselines", false, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return deeplift(m, x, t, {.baselines = o.baselines, .workspace = o.workspace});
       }},
      {{"deeplift_shap", "rules", "DeepLIFT averaged over a baseline distribution (Lundberg & Lee 2017)", "baselines",
        false, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return deeplift_shap(m, x, t, {.baselines = baseline_distribution(o.baselines, x), .workspace = o.workspace});
       }},
      {{"guided_backprop", "rules", "guided backpropagation (Springenberg et al. 2015)", "", false, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return guided_backprop_attribution(m, x, t, {.workspace = o.workspace});
       }},
      {{"deconvolution", "rules", "deconvnet backward (Zeiler & Fergus 2014)", "", false, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return deconvolution(m, x, t, {.workspace = o.workspace});
       }},
      {{"lrp", "rules", "layer-wise relevance propagation with a rule set (default auto: cp_lrp with attention, else lrp_epsilon_plus_flat)",
        "rules, rule_params", false, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         LrpOptions lo;
         if (!o.rules.empty()) lo.rules = o.rules;
         lo.params = o.rule_params;
         lo.workspace = o.workspace;
         return lrp(m, x, t, lo);
       }},
      // --- sampling, CAM and attention methods (CAM attribution: [N,1,H,W], layer_map at the layer) ---
      {{"gradient_shap", "path", "GradientSHAP: gradients at random points to random baselines (Lundberg & Lee 2017)",
        "baselines, samples, stdev, seed", false, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return gradient_shap(m, x, t,
                              {.baselines = baseline_distribution(o.baselines, x),
                               .samples = o.samples > 0 ? o.samples : 5,
                               .stdev = o.stdev >= 0 ? o.stdev : 0.0f,
                               .seed = o.seed,
                               .workspace = o.workspace});
       }},
      {{"cam", "cam", "class activation map: classifier weights x last feature maps (Zhou et al. 2016)", "layer",
        false, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return cam(m, x, t, {.layer = o.layer, .workspace = o.workspace});
       }},
      {{"grad_cam", "cam", "Grad-CAM: feature maps weighted by mean gradients (Selvaraju et al. 2017)", "layer", false,
        false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return grad_cam(m, x, t, {.layer = o.layer, .workspace = o.workspace});
       }},
      {{"grad_cam_plus_plus", "cam", "Grad-CAM++: higher-order gradient weights (Chattopadhyay et al. 2018)", "layer",
        false, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return grad_cam_plus_plus(m, x, t, {.layer = o.layer, .workspace = o.workspace});
       }},
      {{"score_cam", "cam", "Score-CAM: feature maps weighted by masked-input scores (Wang et al. 2020)",
        "layer, batch", false, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return score_cam(m, x, t, {.layer = o.layer, .batch = o.batch > 0 ? o.batch : 32, .workspace = o.workspace});
       }},
      {{"guided_grad_cam", "cam", "guided backpropagation x upsampled Grad-CAM (Selvaraju et al. 2017)", "layer", false,
        false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return guided_grad_cam(m, x, t, {.layer = o.layer, .workspace = o.workspace});
       }},
      {{"attention_rollout", "attention", "attention rollout to the class token (Abnar & Zuidema 2020)", "layer", false,
        false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return attention_rollout(m, x, t, {.layer = o.layer, .workspace = o.workspace});
       }},
      // --- layer methods (attribution: layer-shaped) ---
      {{"layer_activation", "layer", "the layer's output", "layer", true, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return layer_activation(m, x, t, {.layer = o.layer, .workspace = o.workspace});
       }},
      {{"layer_gradient_x_activation", "layer", "layer output * d target / d layer output", "layer", true, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return layer_gradient_x_activation(m, x, t, {.layer = o.layer, .workspace = o.workspace});
       }},
      {{"layer_integrated_gradients", "layer", "integrated gradients in the layer's output space",
        "layer, baselines, steps, integration, batch", true, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return layer_integrated_gradients(m, x, t,
                                           {.layer = o.layer,
                                            .steps = o.steps,
                                            .method = o.integration,
                                            .baselines = o.baselines,
                                            .internal_batch_size = o.batch,
                                            .workspace = o.workspace});
       }},
      {{"layer_conductance", "layer", "conductance of the layer's units (Dhamdhere et al. 2018)",
        "layer, baselines, steps, integration, batch", true, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return layer_conductance(m, x, t,
                                  {.layer = o.layer,
                                   .steps = o.steps,
                                   .method = o.integration,
                                   .baselines = o.baselines,
                                   .internal_batch_size = o.batch,
                                   .workspace = o.workspace});
       }},
      {{"internal_influence", "layer", "layer gradient integrated along the input path (Leino et al. 2018)",
        "layer, baselines, steps, integration, batch", true, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return internal_influence(m, x, t,
                                   {.layer = o.layer,
                                    .steps = o.steps,
                                    .method = o.integration,
                                    .baselines = o.baselines,
                                    .internal_batch_size = o.batch,
                                    .workspace = o.workspace});
       }},
      {{"layer_gradient_shap", "layer", "GradientSHAP at the layer (baselines form the distribution)",
        "layer, baselines, samples, stdev, seed", true, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return layer_gradient_shap(m, x, t,
                                    {.layer = o.layer,
                                     .baselines = baseline_distribution(o.baselines, x),
                                     .samples = o.samples > 0 ? o.samples : 5,
                                     .stdev = o.stdev >= 0 ? o.stdev : 0.0f,
                                     .seed = o.seed,
                                     .workspace = o.workspace});
       }},
      {{"layer_deeplift", "layer", "DeepLIFT Rescale multipliers at the layer times its change", "layer, baselines",
        true, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return layer_deeplift(m, x, t, {.layer = o.layer, .baselines = o.baselines, .workspace = o.workspace});
       }},
      {{"layer_deeplift_shap", "layer", "LayerDeepLift averaged over a baseline distribution", "layer, baselines",
        true, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return layer_deeplift_shap(
             m, x, t, {.layer = o.layer, .baselines = baseline_distribution(o.baselines, x), .workspace = o.workspace});
       }},
      {{"layer_lrp", "layer", "LRP relevance at the layer's output (default auto: cp_lrp with attention, else lrp_epsilon_plus_flat)",
        "layer, rules, rule_params", true, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         LayerLrpOptions lo;
         lo.layer = o.layer;
         if (!o.rules.empty()) lo.rules = o.rules;
         lo.params = o.rule_params;
         lo.workspace = o.workspace;
         return layer_lrp(m, x, t, lo);
       }},
      // --- neuron methods (attribution: input-shaped; the neuron replaces the target) ---
      {{"neuron_gradient", "neuron", "d neuron / d input", "layer, neuron", true, true},
       [](const Module& m, const Tensor& x, const Target&, const MethodOptions& o) {
         return neuron_gradient(m, x, Neuron::at(o.layer, o.neuron), {.workspace = o.workspace});
       }},
      {{"neuron_input_x_gradient", "neuron", "input * d neuron / d input", "layer, neuron", true, true},
       [](const Module& m, const Tensor& x, const Target&, const MethodOptions& o) {
         return neuron_input_x_gradient(m, x, Neuron::at(o.layer, o.neuron), {.workspace = o.workspace});
       }},
      {{"neuron_integrated_gradients", "neuron", "integrated gradients of a neuron",
        "layer, neuron, baselines, steps, integration, batch", true, true},
       [](const Module& m, const Tensor& x, const Target&, const MethodOptions& o) {
         return neuron_integrated_gradients(m, x, Neuron::at(o.layer, o.neuron),
                                            {.steps = o.steps,
                                             .method = o.integration,
                                             .baselines = o.baselines,
                                             .internal_batch_size = o.batch,
                                             .workspace = o.workspace});
       }},
      {{"neuron_conductance", "neuron", "the target's flow through a neuron (Dhamdhere et al. 2018)",
        "layer, neuron, baselines, steps, integration, batch", true, true},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return neuron_conductance(m, x, Neuron::at(o.layer, o.neuron), t,
                                   {.steps = o.steps,
                                    .method = o.integration,
                                    .baselines = o.baselines,
                                    .internal_batch_size = o.batch,
                                    .workspace = o.workspace});
       }},
      {{"neuron_gradient_shap", "neuron", "GradientSHAP of a neuron (baselines form the distribution)",
        "layer, neuron, baselines, samples, stdev, seed", true, true},
       [](const Module& m, const Tensor& x, const Target&, const MethodOptions& o) {
         return neuron_gradient_shap(m, x, Neuron::at(o.layer, o.neuron),
                                     {.baselines = baseline_distribution(o.baselines, x),
                                      .samples = o.samples > 0 ? o.samples : 5,
                                      .stdev = o.stdev >= 0 ? o.stdev : 0.0f,
                                      .seed = o.seed,
                                      .workspace = o.workspace});
       }},
      {{"neuron_guided_backprop", "neuron", "guided backpropagation from a neuron", "layer, neuron", true, true},
       [](const Module& m, const Tensor& x, const Target&, const MethodOptions& o) {
         return neuron_guided_backprop(m, x, Neuron::at(o.layer, o.neuron), {.workspace = o.workspace});
       }},
      {{"neuron_deconvolution", "neuron", "deconvnet backward from a neuron", "layer, neuron", true, true},
       [](const Module& m, const Tensor& x, const Target&, const MethodOptions& o) {
         return neuron_deconvolution(m, x, Neuron::at(o.layer, o.neuron), {.workspace = o.workspace});
       }},
      {{"neuron_deeplift", "neuron", "DeepLIFT Rescale of a neuron against a baseline", "layer, neuron, baselines",
        true, true},
       [](const Module& m, const Tensor& x, const Target&, const MethodOptions& o) {
         return neuron_deeplift(m, x, Neuron::at(o.layer, o.neuron),
                                {.baselines = o.baselines, .workspace = o.workspace});
       }},
      {{"neuron_deeplift_shap", "neuron", "NeuronDeepLift averaged over a baseline distribution",
        "layer, neuron, baselines", true, true},
       [](const Module& m, const Tensor& x, const Target&, const MethodOptions& o) {
         return neuron_deeplift_shap(m, x, Neuron::at(o.layer, o.neuron),
                                     {.baselines = baseline_distribution(o.baselines, x), .workspace = o.workspace});
       }},
      // --- perturbation methods (attribution/perturbation/occlusion.h, shapley.h, lime.h, rise.h). Without
      // --window, image inputs [N,C,H,W] use cells of all channels x ceil(H/8) x ceil(W/8)
      // (occlusion: stride half a window), other inputs every element (default_window).
      {{"occlusion", "perturbation", "mean change of the target when sliding windows are occluded (Zeiler & Fergus 2014)",
        "window, stride, baselines, batch", false, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         const std::vector<int64_t> w = o.window.empty() ? default_window(x.shape()) : o.window;
         std::vector<int64_t> s = o.stride;
         if (s.empty() && o.window.empty())
           for (int64_t v : w) s.push_back((v + 1) / 2);
         return occlusion(m, x, t,
                          {.window = w,
                           .stride = s,
                           .baseline = o.baselines.empty() ? Baseline::zero() : o.baselines[0],
                           .perturbations_per_eval = o.batch,
                           .workspace = o.workspace});
       }},
      {{"feature_ablation", "perturbation", "change of the target when each window-grid cell is set to the baseline",
        "window, baselines, batch", false, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return feature_ablation(
             m, x, t,
             {.feature_mask = window_grid_mask(x.shape(), o.window.empty() ? default_window(x.shape()) : o.window),
              .baseline = o.baselines.empty() ? Baseline::zero() : o.baselines[0],
              .perturbations_per_eval = o.batch,
              .workspace = o.workspace});
       }},
      {{"feature_permutation", "perturbation", "change of the target when each window-grid cell is shuffled across the batch",
        "window, batch, seed", false, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return feature_permutation(
             m, x, t,
             {.feature_mask = window_grid_mask(x.shape(), o.window.empty() ? default_window(x.shape()) : o.window),
              .perturbations_per_eval = o.batch,
              .seed = o.seed,
              .workspace = o.workspace});
       }},
      {{"shapley_value_sampling", "perturbation", "Shapley values of window-grid cells from random permutations (Castro et al. 2009)",
        "window, baselines, samples, batch, seed", false, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return shapley_value_sampling(
             m, x, t,
             {.feature_mask = window_grid_mask(x.shape(), o.window.empty() ? default_window(x.shape()) : o.window),
              .baseline = o.baselines.empty() ? Baseline::zero() : o.baselines[0],
              .samples = o.samples > 0 ? o.samples : 25,
              .perturbations_per_eval = o.batch,
              .seed = o.seed,
              .workspace = o.workspace});
       }},
      {{"kernel_shap", "perturbation", "KernelSHAP: weighted linear fit on Shapley-kernel coalitions (Lundberg & Lee 2017)",
        "window (else SLIC superpixels for images), baselines, samples, batch, seed", false, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         KernelShapOptions k{.baseline = o.baselines.empty() ? Baseline::zero() : o.baselines[0],
                             .samples = o.samples > 0 ? o.samples : 25,
                             .perturbations_per_eval = o.batch,
                             .seed = o.seed,
                             .workspace = o.workspace};
         if (!o.window.empty()) k.features.feature_mask = window_grid_mask(x.shape(), o.window);
         return kernel_shap(m, x, t, k);
       }},
      {{"lime", "perturbation", "LIME: ridge fit on random coalitions weighted by similarity (Ribeiro et al. 2016)",
        "window (else SLIC superpixels for images), baselines, samples, batch, seed", false, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         LimeOptions l{.baseline = o.baselines.empty() ? Baseline::zero() : o.baselines[0],
                       .samples = o.samples > 0 ? o.samples : 25,
                       .perturbations_per_eval = o.batch,
                       .seed = o.seed,
                       .workspace = o.workspace};
         if (!o.window.empty()) l.features.feature_mask = window_grid_mask(x.shape(), o.window);
         return lime(m, x, t, l);
       }},
      {{"rise", "perturbation", "RISE: random low-resolution masks weighted by the target (Petsiuk et al. 2018)",
        "samples (masks, default 2000), baselines, batch, seed", false, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return rise(m, x, t,
                     {.masks = o.samples > 0 ? o.samples : 2000,
                      .baseline = o.baselines.empty() ? Baseline::zero() : o.baselines[0],
                      .masks_per_eval = o.batch,
                      .seed = o.seed,
                      .workspace = o.workspace});
       }},
      {{"layer_feature_ablation", "layer", "change of the target when each channel of the layer is zeroed",
        "layer, batch", true, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return layer_feature_ablation(
             m, x, t, {.layer = o.layer, .channels = true, .perturbations_per_eval = o.batch, .workspace = o.workspace});
       }},
      {{"neuron_feature_ablation", "neuron", "change of a neuron when each window-grid cell is set to the baseline",
        "layer, neuron, window, baselines, batch", true, true},
       [](const Module& m, const Tensor& x, const Target&, const MethodOptions& o) {
         return neuron_feature_ablation(
             m, x, Neuron::at(o.layer, o.neuron),
             {.feature_mask = window_grid_mask(x.shape(), o.window.empty() ? default_window(x.shape()) : o.window),
              .baseline = o.baselines.empty() ? Baseline::zero() : o.baselines[0],
              .perturbations_per_eval = o.batch,
              .workspace = o.workspace});
       }},
  };
  return table;
}

// NoiseTunnel around any method. Top-1 targets are resolved on the clean inputs, so every noisy
// copy explains the clean prediction; samples and stdev (a fraction of each item's value range)
// belong to the tunnel and the wrapped method runs with its own defaults.
AttributionResult with_noise_tunnel(const Entry& e, const Module& model, const Tensor& inputs, const Target& target,
                                    const MethodOptions& o) {
  const NoiseTunnelOptions nt{.type = noise_tunnel_type_from_string(o.noise_tunnel),
                              .samples = o.samples > 0 ? o.samples : 10,
                              .stdev = o.stdev >= 0 ? o.stdev : 0.15f,
                              .stdev_relative = true,
                              .seed = o.seed};
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(o.workspace, local);
  Tensor output;
  std::vector<int64_t> classes;
  Target fixed = target;
  if (!e.info.needs_neuron) {  // neuron methods ignore the target
    target_values(model, inputs, target, ws, &classes, &output);
    if (!target.is_function()) fixed = Target::indices(classes);
  }
  MethodOptions inner = o;
  inner.noise_tunnel.clear();
  inner.samples = 0;
  inner.stdev = -1.0f;
  inner.workspace = &ws;
  AttributionResult r = noise_tunnel(
      [&](const Tensor& x, const Target& t) { return e.run(model, x, t, inner); }, inputs, fixed, nt);
  r.output = output;
  r.target = classes;
  return r;
}

}  // namespace

std::vector<MethodInfo> methods() {
  std::vector<MethodInfo> out;
  for (const Entry& e : entries()) out.push_back(e.info);
  return out;
}

AttributionResult attribute(std::string_view name, const Module& model, const Tensor& inputs, const Target& target,
                            const MethodOptions& options) {
  for (const Entry& e : entries()) {
    if (e.info.name != name) continue;
    BL_CHECK(!e.info.needs_layer || !options.layer.empty(), "method '", name,
             "' needs a layer (--layer NAME, a module path such as layer4 or features.28)");
    BL_CHECK(!e.info.needs_neuron || !options.neuron.empty(), "method '", name,
             "' needs a neuron index (--neuron INDEX into the layer output)");
    // The same entry on either device; on CUDA after moving model and inputs (docs/cuda.md).
    const DeviceRun run = [&](const Module& m, const Tensor& x) {
      return options.noise_tunnel.empty() ? e.run(m, x, target, options)
                                          : with_noise_tunnel(e, m, x, target, options);
    };
    if (options.workspace && options.workspace->cuda_context())
      return attribute_on_cuda(name, model, inputs, target, options, run);
    return run(model, inputs);
  }
  std::string known;
  for (const Entry& e : entries()) known += (known.empty() ? "" : ", ") + e.info.name;
  BL_THROW("unknown method '", name, "' (known: ", known, ")");
}

}  // namespace backlight
