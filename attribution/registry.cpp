#include "attribution/registry.h"

#include "attribution/deeplift.h"
#include "attribution/gradient_methods.h"
#include "attribution/integrated_gradients.h"

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
      {{"guided_backprop", "rules", "guided backpropagation (Springenberg et al. 2015)", "", false, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return guided_backprop_attribution(m, x, t, {.workspace = o.workspace});
       }},
      {{"deconvolution", "rules", "deconvnet backward (Zeiler & Fergus 2014)", "", false, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         return deconvolution(m, x, t, {.workspace = o.workspace});
       }},
      {{"lrp", "rules", "layer-wise relevance propagation with a rule set (default lrp_epsilon_plus_flat)",
        "rules, rule_params", false, false},
       [](const Module& m, const Tensor& x, const Target& t, const MethodOptions& o) {
         LrpOptions lo;
         if (!o.rules.empty()) lo.rules = o.rules;
         lo.params = o.rule_params;
         lo.workspace = o.workspace;
         return lrp(m, x, t, lo);
       }},
  };
  return table;
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
    return e.run(model, inputs, target, options);
  }
  std::string known;
  for (const Entry& e : entries()) known += (known.empty() ? "" : ", ") + e.info.name;
  BL_THROW("unknown method '", name, "' (known: ", known, ")");
}

}  // namespace backlight
