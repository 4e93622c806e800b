#include "attribution/registry.h"

#include "attribution/attention/attention_rollout.h"
#include "attribution/cam/cam.h"
#include "attribution/cam/guided_grad_cam.h"
#include "attribution/core/rows.h"
#include "attribution/gradient/gradient_methods.h"
#include "attribution/gradient/noise_tunnel.h"
#include "attribution/layer/layer_methods.h"
#include "attribution/layer/layer_path_methods.h"
#include "attribution/method_call.h"
#include "attribution/neuron/neuron_methods.h"
#include "attribution/on_device.h"
#include "attribution/path/deeplift.h"
#include "attribution/path/gradient_shap.h"
#include "attribution/path/integrated_gradients.h"
#include "attribution/perturbation/feature_ablation.h"
#include "attribution/perturbation/layer_ablation.h"
#include "attribution/perturbation/lime.h"
#include "attribution/perturbation/occlusion.h"
#include "attribution/perturbation/perturbation.h"
#include "attribution/perturbation/rise.h"
#include "attribution/perturbation/shapley.h"
#include "attribution/perturbation/xrai.h"

namespace backlight {

// Registry defaults that differ from the library's (found by method_call::build through ADL).
// --method layer_feature_ablation without a mask: one group per channel.
static void registry_defaults(LayerFeatureAblationOptions& o) { o.channels = true; }

namespace {

using Run = AttributionResult (*)(const Module&, const Tensor&, const Target&, const MethodOptions&);

struct Entry {
  MethodInfo info;
  Run run;
};

enum Needs { kInputs = 0, kLayer = 1, kNeuron = 3 };  // a neuron is in a layer

// One entry per method: name, family (its folder under attribution/), description, which
// MethodOptions fields it reads, what it needs, and the call (attribution/method_call.h builds the
// method's own options struct from MethodOptions).
Entry entry(const char* name, const char* family, const char* description, const char* options, Needs needs, Run run) {
  return {{name, family, description, options, (needs & kLayer) != 0, needs == kNeuron}, run};
}

using method_call::call;

const std::vector<Entry>& entries() {
  static const std::vector<Entry> table = {
      entry("saliency", "gradient", "|d target / d input| (Simonyan et al. 2014)", "", kInputs, call<&saliency>),
      entry("input_x_gradient", "gradient", "input * gradient (Shrikumar et al. 2016)", "", kInputs,
            call<&input_x_gradient>),
      entry("integrated_gradients", "path", "path integral of gradients from a baseline (Sundararajan et al. 2017)",
            "baselines, steps, integration, batch", kInputs, call<&integrated_gradients>),
      entry("deeplift", "path", "DeepLIFT Rescale against a baseline (Shrikumar et al. 2017)", "baselines", kInputs,
            call<&deeplift>),
      entry("deeplift_shap", "path", "DeepLIFT averaged over a baseline distribution (Lundberg & Lee 2017)",
            "baselines", kInputs, call<&deeplift_shap>),
      entry("guided_backprop", "gradient", "guided backpropagation (Springenberg et al. 2015)", "", kInputs,
            call<&guided_backprop_attribution>),
      entry("deconvolution", "gradient", "deconvnet backward (Zeiler & Fergus 2014)", "", kInputs, call<&deconvolution>),
      entry("lrp", "gradient", "layer-wise relevance propagation with a rule set (default auto: cp_lrp with attention, lrp_epsilon_gamma_box with gates or layernorm, else lrp_epsilon_plus_flat)",
            "rules, rule_params", kInputs, call<&lrp>),
      // --- sampling, CAM and attention methods (CAM attribution: [N,1,H,W], layer_map at the layer) ---
      entry("gradient_shap", "path", "GradientSHAP: gradients at random points to random baselines (Lundberg & Lee 2017)",
            "baselines, samples, stdev, seed", kInputs, call<&gradient_shap>),
      entry("cam", "cam", "class activation map: classifier weights x last feature maps (Zhou et al. 2016)", "layer",
            kInputs, call<&cam>),
      entry("grad_cam", "cam", "Grad-CAM: feature maps weighted by mean gradients (Selvaraju et al. 2017)", "layer",
            kInputs, call<&grad_cam>),
      entry("grad_cam_plus_plus", "cam", "Grad-CAM++: higher-order gradient weights (Chattopadhyay et al. 2018)",
            "layer", kInputs, call<&grad_cam_plus_plus>),
      entry("score_cam", "cam", "Score-CAM: feature maps weighted by masked-input scores (Wang et al. 2020)",
            "layer, batch", kInputs, call<&score_cam>),
      entry("guided_grad_cam", "cam", "guided backpropagation x upsampled Grad-CAM (Selvaraju et al. 2017)", "layer",
            kInputs, call<&guided_grad_cam>),
      entry("attention_rollout", "attention", "attention rollout to the class token (Abnar & Zuidema 2020)", "layer",
            kInputs, call<&attention_rollout>),
      entry("xrai", "perturbation",
            "XRAI: Felzenszwalb regions ranked by attribution gain, [N,1,H,W] (Kapishnikov et al. 2019)",
            "base_method (default IG, min/max baselines), steps, batch", kInputs, call<&xrai>),
      // --- layer methods (attribution: layer-shaped) ---
      entry("layer_activation", "layer", "the layer's output", "layer", kLayer, call<&layer_activation>),
      entry("layer_gradient_x_activation", "layer", "layer output * d target / d layer output", "layer", kLayer,
            call<&layer_gradient_x_activation>),
      entry("layer_integrated_gradients", "layer", "integrated gradients in the layer's output space",
            "layer, baselines, steps, integration, batch", kLayer, call<&layer_integrated_gradients>),
      entry("layer_conductance", "layer", "conductance of the layer's units (Dhamdhere et al. 2018)",
            "layer, baselines, steps, integration, batch", kLayer, call<&layer_conductance>),
      entry("internal_influence", "layer", "layer gradient integrated along the input path (Leino et al. 2018)",
            "layer, baselines, steps, integration, batch", kLayer, call<&internal_influence>),
      entry("layer_gradient_shap", "layer", "GradientSHAP at the layer (baselines form the distribution)",
            "layer, baselines, samples, stdev, seed", kLayer, call<&layer_gradient_shap>),
      entry("layer_deeplift", "layer", "DeepLIFT Rescale multipliers at the layer times its change", "layer, baselines",
            kLayer, call<&layer_deeplift>),
      entry("layer_deeplift_shap", "layer", "LayerDeepLift averaged over a baseline distribution", "layer, baselines",
            kLayer, call<&layer_deeplift_shap>),
      entry("layer_lrp", "layer", "LRP relevance at the layer's output (default auto: cp_lrp with attention, lrp_epsilon_gamma_box with gates or layernorm, else lrp_epsilon_plus_flat)",
            "layer, rules, rule_params", kLayer, call<&layer_lrp>),
      // --- neuron methods (attribution: input-shaped; the neuron replaces the target) ---
      entry("neuron_gradient", "neuron", "d neuron / d input", "layer, neuron", kNeuron, call<&neuron_gradient>),
      entry("neuron_input_x_gradient", "neuron", "input * d neuron / d input", "layer, neuron", kNeuron,
            call<&neuron_input_x_gradient>),
      entry("neuron_integrated_gradients", "neuron", "integrated gradients of a neuron",
            "layer, neuron, baselines, steps, integration, batch", kNeuron, call<&neuron_integrated_gradients>),
      entry("neuron_conductance", "neuron", "the target's flow through a neuron (Dhamdhere et al. 2018)",
            "layer, neuron, baselines, steps, integration, batch", kNeuron, call<&neuron_conductance>),
      entry("neuron_gradient_shap", "neuron", "GradientSHAP of a neuron (baselines form the distribution)",
            "layer, neuron, baselines, samples, stdev, seed", kNeuron, call<&neuron_gradient_shap>),
      entry("neuron_guided_backprop", "neuron", "guided backpropagation from a neuron", "layer, neuron", kNeuron,
            call<&neuron_guided_backprop>),
      entry("neuron_deconvolution", "neuron", "deconvnet backward from a neuron", "layer, neuron", kNeuron,
            call<&neuron_deconvolution>),
      entry("neuron_deeplift", "neuron", "DeepLIFT Rescale of a neuron against a baseline", "layer, neuron, baselines",
            kNeuron, call<&neuron_deeplift>),
      entry("neuron_deeplift_shap", "neuron", "NeuronDeepLift averaged over a baseline distribution",
            "layer, neuron, baselines", kNeuron, call<&neuron_deeplift_shap>),
      // --- perturbation methods (attribution/perturbation/). Without --window, image inputs
      // [N,C,H,W] use cells of all channels x ceil(H/8) x ceil(W/8) (occlusion: stride half a
      // window), other inputs every element (default_window).
      entry("occlusion", "perturbation",
            "mean change of the target when sliding windows are occluded (Zeiler & Fergus 2014)",
            "window, stride, baselines, batch", kInputs, call<&occlusion>),
      entry("feature_ablation", "perturbation", "change of the target when each window-grid cell is set to the baseline",
            "window, baselines, batch", kInputs, call<&feature_ablation>),
      entry("feature_permutation", "perturbation",
            "change of the target when each window-grid cell is shuffled across the batch", "window, batch, seed",
            kInputs, call<&feature_permutation>),
      entry("shapley_value_sampling", "perturbation",
            "Shapley values of window-grid cells from random permutations (Castro et al. 2009)",
            "window, baselines, samples, batch, seed", kInputs, call<&shapley_value_sampling>),
      entry("kernel_shap", "perturbation",
            "KernelSHAP: weighted linear fit on Shapley-kernel coalitions (Lundberg & Lee 2017)",
            "window (else SLIC superpixels for images), baselines, samples, batch, seed", kInputs, call<&kernel_shap>),
      entry("lime", "perturbation", "LIME: ridge fit on random coalitions weighted by similarity (Ribeiro et al. 2016)",
            "window (else SLIC superpixels for images), baselines, samples, batch, seed", kInputs, call<&lime>),
      entry("rise", "perturbation", "RISE: random low-resolution masks weighted by the target (Petsiuk et al. 2018)",
            "samples (masks, default 2000), baselines, batch, seed", kInputs, call<&rise>),
      entry("layer_feature_ablation", "layer", "change of the target when each channel of the layer is zeroed",
            "layer, batch", kLayer, call<&layer_feature_ablation>),
      entry("neuron_feature_ablation", "neuron", "change of a neuron when each window-grid cell is set to the baseline",
            "layer, neuron, window, baselines, batch", kNeuron, call<&neuron_feature_ablation>),
  };
  return table;
}

// NoiseTunnel around any method. Top-1 targets are resolved on the clean inputs, so every noisy
// copy explains the clean prediction; samples and stdev (a fraction of each item's value range)
// belong to the tunnel and the wrapped method runs with its own defaults.
AttributionResult with_noise_tunnel(const Entry& e, const Module& model, const Tensor& inputs, const Target& target,
                                    const MethodOptions& o) {
  NoiseTunnelOptions nt{.type = noise_tunnel_type_from_string(o.noise_tunnel),
                        .samples = o.samples > 0 ? o.samples : 10,
                        .stdev = o.stdev >= 0 ? o.stdev : 0.15f,
                        .stdev_relative = true,
                        .seed = o.seed,
                        // Several calls at once, except for the perturbation and ablation methods
                        // (they batch their own forwards and draw progress bars) and a neuron
                        // selector (user code).
                        .side_by_side = e.info.family != "perturbation" &&
                                        e.info.name.find("ablation") == std::string::npos && !o.neuron_selector};
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(o.workspace, local);
  Tensor output;
  std::vector<int64_t> classes;
  Target fixed = target;
  if (!e.info.needs_neuron) {  // neuron methods ignore the target
    target_values(model, inputs, target, ws, &classes, &output, &nt.bytes_per_row);
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
    BL_CHECK(!e.info.needs_neuron || !options.neuron.empty() || options.neuron_selector, "method '", name,
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
