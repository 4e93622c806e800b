// backlight._core.attribute: every attribution method by its registry name. The one place where
// keyword options from Python become the C++ options structs (method_options / run below); the
// Python layers (backlight.captum, backlight.lrp) translate Captum's and Zennit's names into the
// keys listed in kKeys and never see a C++ options struct.
#include <nanobind/stl/map.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <functional>

#include "attribution/perturbation/feature_ablation.h"
#include "attribution/perturbation/layer_ablation.h"
#include "attribution/cam/cam.h"
#include "attribution/gradient/gradient_methods.h"
#include "attribution/layer/layer_methods.h"
#include "attribution/perturbation/lime.h"
#include "attribution/core/neuron.h"
#include "attribution/method_call.h"
#include "attribution/registry.h"
#include "attribution/perturbation/shapley.h"
#include "engine/error.h"
#include "engine/ops/ops.h"
#include "python/src/bind.h"

namespace backlight::python {

namespace {

// Every option key attribute() accepts (backlight's vocabulary, as the CLI's flags).
constexpr std::array<const char*, 24> kKeys = {
    "baselines", "steps", "integration", "batch", "samples", "stdev", "seed", "noise_tunnel", "layer", "neuron",
    "window", "stride", "feature_mask", "rules", "rule_params", "rule_set", "multiply_by_output",
    "merge_batchnorm", "abs", "relu", "layer_mask", "multiply_by_inputs", "neuron_weights", "base_method"};

// A neuron given as weights W [1, ...] over one item's layer output: the selector
// sum(W * layer_output) per row, recorded as one linear op (the linear selectors of Captum's
// callable neuron_selector, e.g. a slice summed, reduce to this; backlight.captum derives W).
std::function<Var(const Var&)> weighted_selector(const Tensor& weights) {
  BL_CHECK_SHAPE(weights.dim() >= 2 && weights.size(0) == 1, "neuron_weights: expected [1, ...] (one item's layer ",
                 "output shape), got ", weights.shape());
  const Tensor w = weights.reshape(Shape{1, weights.numel()}).clone();
  return [w](const Var& out) {
    BL_CHECK_SHAPE(out.shape().numel() / out.shape()[0] == w.numel(), "neuron_weights: ", w.numel(),
                   " weights for a layer output of shape ", out.shape());
    Tape& tape = out.tape();
    return linear(flatten(out), tape.param(w, "neuron_weights"));
  };
}

// What the dict held, typed. Arrays stay wrapped (no copies).
struct Call {
  MethodOptions o;
  Tensor feature_mask;
  Tensor layer_mask;  // layer_feature_ablation (Captum's LayerFeatureAblation)
  const PyRuleSet* rule_set = nullptr;
  bool multiply_by_output = false;
  bool merge_batchnorm = true;
  bool abs = true;    // saliency
  bool relu = true;   // grad_cam
};

Baseline to_baseline(nb::handle h) {
  if (nb::isinstance<nb::float_>(h) || nb::isinstance<nb::int_>(h)) {
    const float v = nb::cast<float>(h);
    return v == 0.0f ? Baseline::zero() : Baseline::constant(v);
  }
  return Baseline::given(to_tensor(nb::cast<InArray>(h), "baselines", true));
}

Call method_options(const nb::dict& kw) {
  Call c;
  MethodOptions& o = c.o;
  for (auto [k, v] : kw) {
    const std::string key = nb::cast<std::string>(k);
    if (std::find_if(kKeys.begin(), kKeys.end(), [&](const char* s) { return key == s; }) == kKeys.end())
      BL_THROW("attribute: unknown option '", key, "'");
    if (v.is_none()) continue;
    if (key == "baselines") {
      o.baselines.clear();
      if (nb::isinstance<nb::list>(v) || nb::isinstance<nb::tuple>(v))
        for (nb::handle b : v) o.baselines.push_back(to_baseline(b));
      else
        o.baselines.push_back(to_baseline(v));
    } else if (key == "steps") {
      o.steps = nb::cast<int>(v);
    } else if (key == "integration") {
      o.integration = integration_from_string(nb::cast<std::string>(v));
    } else if (key == "batch") {
      o.batch = nb::cast<int>(v);
    } else if (key == "samples") {
      o.samples = nb::cast<int>(v);
    } else if (key == "stdev") {
      o.stdev = nb::cast<float>(v);
    } else if (key == "seed") {
      o.seed = nb::cast<uint64_t>(v);
    } else if (key == "noise_tunnel") {
      o.noise_tunnel = nb::cast<std::string>(v);
    } else if (key == "layer") {
      o.layer = nb::cast<std::string>(v);
    } else if (key == "neuron") {
      o.neuron = nb::cast<std::vector<int64_t>>(v);
    } else if (key == "window") {
      o.window = nb::cast<std::vector<int64_t>>(v);
    } else if (key == "stride") {
      o.stride = nb::cast<std::vector<int64_t>>(v);
    } else if (key == "feature_mask") {
      c.feature_mask = to_tensor(nb::cast<InArray>(v), "feature_mask", true);
    } else if (key == "layer_mask") {
      c.layer_mask = to_tensor(nb::cast<InArray>(v), "layer_mask", true);
    } else if (key == "rules") {
      o.rules = nb::cast<std::string>(v);
    } else if (key == "rule_params") {
      for (auto [pk, pv] : nb::cast<nb::dict>(v)) o.rule_params[nb::cast<std::string>(pk)] = nb::cast<float>(pv);
    } else if (key == "rule_set") {
      c.rule_set = nb::cast<const PyRuleSet*>(v);
    } else if (key == "multiply_by_output") {
      c.multiply_by_output = nb::cast<bool>(v);
    } else if (key == "relu") {
      c.relu = nb::cast<bool>(v);
    } else if (key == "abs") {
      c.abs = nb::cast<bool>(v);
    } else if (key == "merge_batchnorm") {
      c.merge_batchnorm = nb::cast<bool>(v);
    } else if (key == "multiply_by_inputs") {
      o.multiply_by_inputs = nb::cast<bool>(v);
    } else if (key == "base_method") {
      o.base_method = nb::cast<std::string>(v);  // xrai: the attribution inside (a registry name)
    } else if (key == "neuron_weights") {
      o.neuron_selector = weighted_selector(to_tensor(nb::cast<InArray>(v), "neuron_weights").clone());
    }
  }
  return c;
}

Baseline first_baseline(const MethodOptions& o) { return o.baselines.empty() ? Baseline::zero() : o.baselines[0]; }

// Methods whose options the registry's table does not carry (a feature mask, a custom rule set,
// Captum's LRP start value) are called directly; all others go through the registry.
AttributionResult run(std::string_view name, const Module& m, const Tensor& x, const Target& t, const Call& c) {
  const MethodOptions& o = c.o;
  const bool mask = c.feature_mask.defined();
  if (name == "saliency" && !c.abs && o.noise_tunnel.empty()) return saliency(m, x, t, {.abs = false});
  if (name == "grad_cam" && !c.relu && o.noise_tunnel.empty())
    return grad_cam(m, x, t, {.layer = o.layer, .relu = false});
  if (name == "lrp") {
    LrpOptions lo;
    if (!o.rules.empty()) lo.rules = o.rules;
    lo.params = o.rule_params;
    lo.rule_set = c.rule_set ? &c.rule_set->set : nullptr;
    lo.merge_batchnorm = c.merge_batchnorm;
    lo.multiply_by_output = c.multiply_by_output;
    lo.workspace = o.workspace;
    return lrp(m, x, t, lo);
  }
  if (name == "layer_lrp") {
    LayerLrpOptions lo;
    lo.layer = o.layer;
    if (!o.rules.empty()) lo.rules = o.rules;
    lo.params = o.rule_params;
    lo.rule_set = c.rule_set ? &c.rule_set->set : nullptr;
    lo.multiply_by_output = c.multiply_by_output;
    lo.workspace = o.workspace;
    return layer_lrp(m, x, t, lo);
  }
  if (name == "layer_feature_ablation" && o.noise_tunnel.empty()) {
    // Captum's default: every unit of the layer alone (the registry's CLI entry ablates channels).
    return layer_feature_ablation(m, x, t, {.layer = o.layer, .layer_mask = c.layer_mask, .channels = false,
                                            .layer_baseline = first_baseline(o),
                                            .perturbations_per_eval = o.batch});
  }
  if (mask && o.noise_tunnel.empty()) {
    if (name == "feature_ablation")
      return feature_ablation(m, x, t, {.feature_mask = c.feature_mask, .baseline = first_baseline(o),
                                        .perturbations_per_eval = o.batch});
    if (name == "feature_permutation")
      return feature_permutation(m, x, t, {.feature_mask = c.feature_mask, .perturbations_per_eval = o.batch,
                                           .seed = o.seed});
    if (name == "shapley_value_sampling")
      return shapley_value_sampling(m, x, t, {.feature_mask = c.feature_mask, .baseline = first_baseline(o),
                                              .samples = o.samples > 0 ? o.samples : 25,
                                              .perturbations_per_eval = o.batch, .seed = o.seed});
    if (name == "kernel_shap") {
      KernelShapOptions k{.baseline = first_baseline(o), .samples = o.samples > 0 ? o.samples : 25,
                          .perturbations_per_eval = o.batch, .seed = o.seed};
      k.features.feature_mask = c.feature_mask;
      return kernel_shap(m, x, t, k);
    }
    if (name == "lime") {
      LimeOptions l{.baseline = first_baseline(o), .samples = o.samples > 0 ? o.samples : 25,
                    .perturbations_per_eval = o.batch, .seed = o.seed};
      l.features.feature_mask = c.feature_mask;
      return lime(m, x, t, l);
    }
    if (name == "neuron_feature_ablation")
      return neuron_feature_ablation(m, x, method_call::neuron_of(o),
                                     {.feature_mask = c.feature_mask, .baseline = first_baseline(o),
                                      .perturbations_per_eval = o.batch});
    BL_THROW("attribute: method '", name, "' takes no feature_mask");
  }
  BL_CHECK(!c.rule_set, "attribute: method '", name, "' takes no rule_set (lrp and layer_lrp do)");
  return attribute(name, m, x, t, o);
}

}  // namespace

Target to_target(nb::handle h, int64_t items) {
  if (h.is_none()) return Target::top1();
  if (nb::isinstance<nb::int_>(h)) return Target::index(nb::cast<int64_t>(h));
  std::vector<int64_t> cs = nb::cast<std::vector<int64_t>>(h);
  BL_CHECK(static_cast<int64_t>(cs.size()) == items, "attribute: target: expected one class per item (", items,
           "), got ", cs.size());
  return Target::indices(std::move(cs));
}

MethodOptions registry_options(const nb::dict& kw) {
  const Call c = method_options(kw);
  BL_CHECK(!c.feature_mask.defined() && !c.rule_set, "registry_options: feature_mask and rule_set are not accepted here");
  return c.o;
}

void bind_attribute(nb::module_& m) {
  m.def("attribute", [](const Model& model, const std::string& method, const InArray& inputs, nb::handle target,
                        const nb::dict& options) {
          const Tensor x = to_tensor(inputs, "inputs");
          const Target t = to_target(target, x.size(0));
          Call call = method_options(options);  // reads Python objects: under the GIL
          call.o.workspace = &model.workspace;
          AttributionResult r;
          {
            nb::gil_scoped_release nogil;
            apply_num_threads();
            r = run(method, *model.module, x, t, call);
          }
          nb::dict out;
          out["attribution"] = to_numpy(r.attribution);
          if (r.output.defined()) out["output"] = to_numpy(r.output);
          if (r.delta.defined()) out["delta"] = to_numpy(r.delta);
          if (r.layer_map.defined()) out["layer_map"] = to_numpy(r.layer_map);
          out["target"] = nb::cast(r.target);
          return out;
        }, nb::arg("model"), nb::arg("method"), nb::arg("inputs"), nb::arg("target").none() = nb::none(),
        nb::arg("options") = nb::dict(),
        "Runs attribution method `method` (a registry name, see methods()) on inputs [N, ...].\n"
        "target: None (top-1), an int, or one int per item. options: backlight's keys (baselines, steps,\n"
        "integration, batch, samples, stdev, seed, noise_tunnel, layer, neuron, window, stride,\n"
        "feature_mask, rules, rule_params, rule_set, multiply_by_output, merge_batchnorm, abs, relu,\n"
        "layer_mask, multiply_by_inputs, neuron_weights [1, ...]: a neuron as weights over the layer output).\n"
        "Returns a dict: attribution, output, delta, layer_map (when defined), target.");
  // For bench/python_overhead.py: the same call as attribute() repeated in C++ (no Python in the
  // loop), seconds per call - the in-process C++ figure the Python call is compared with.
  m.def("_bench_attribute", [](const Model& model, const std::string& method, const InArray& inputs,
                               nb::handle target, const nb::dict& options, int repeats) {
          const Tensor x = to_tensor(inputs, "inputs");
          const Target t = to_target(target, x.size(0));
          Call call = method_options(options);
          call.o.workspace = &model.workspace;
          nb::gil_scoped_release nogil;
          apply_num_threads();
          const auto start = std::chrono::steady_clock::now();
          for (int i = 0; i < repeats; ++i) (void)run(method, *model.module, x, t, call);
          return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / repeats;
        }, nb::arg("model"), nb::arg("method"), nb::arg("inputs"), nb::arg("target").none(), nb::arg("options"),
        nb::arg("repeats"));
  m.def("methods", []() {
    std::vector<std::vector<std::string>> out;
    for (const MethodInfo& i : methods()) out.push_back({i.name, i.family, i.description, i.options});
    return out;
  }, "(name, family, description, options) of every method.");
  m.def("rule_sets", []() {
    std::vector<std::string> out;
    for (const NamedRuleSet& r : builtin_rule_sets()) out.push_back(r.name);
    return out;
  }, "Names of the built-in rule sets.");
}

}  // namespace backlight::python
