#include "attribution/gradient_methods.h"

#include <cmath>

#include "attribution/lrp_relevance.h"
#include "attribution/rows.h"
#include "engine/parallel.h"

namespace backlight {

AttributionResult rule_set_attribution(const Module& model, const Tensor& inputs, const Target& target,
                                       const RuleSet& rules, const Workspace* workspace) {
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(workspace, local);
  ForwardPass pass = forward_pass(model, inputs, ws);
  AttributionResult r;
  const std::vector<Var> wrt{pass.input};
  // Results come back to the host (a sync on CUDA; no copy on the CPU).
  r.attribution = target_backward(pass, target, rules, wrt, &r.target)[0].to_cpu();
  r.output = pass.output.value().to_cpu();
  return r;
}

AttributionResult saliency(const Module& model, const Tensor& inputs, const Target& target,
                           const SaliencyOptions& options) {
  AttributionResult r = rule_set_attribution(model, inputs, target, RuleSet("gradient"), options.workspace);
  if (options.abs)
    for (float& v : r.attribution.span()) v = std::fabs(v);
  return r;
}

AttributionResult input_x_gradient(const Module& model, const Tensor& inputs, const Target& target,
                                   const InputXGradientOptions& options) {
  AttributionResult r = rule_set_attribution(model, inputs, target, RuleSet("gradient"), options.workspace);
  float* a = r.attribution.data();
  const Tensor host_inputs = inputs.to_cpu();  // the same tensor unless it is on a device
  const float* x = host_inputs.data();
  parallel_for(inputs.numel(), 1 << 14, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) a[i] *= x[i];
  });
  return r;
}

AttributionResult guided_backprop_attribution(const Module& model, const Tensor& inputs, const Target& target,
                                              const ModifiedGradientOptions& options) {
  return rule_set_attribution(model, inputs, target, make_rule_set("guided_backprop"), options.workspace);
}

AttributionResult deconvolution(const Module& model, const Tensor& inputs, const Target& target,
                                const ModifiedGradientOptions& options) {
  return rule_set_attribution(model, inputs, target, make_rule_set("deconvnet"), options.workspace);
}

AttributionResult lrp(const Module& model, const Tensor& inputs, const Target& target, const LrpOptions& options) {
  const RuleSet rules = options.rule_set ? *options.rule_set : make_rule_set(options.rules, options.params);
  // Folding clones the model: callers attributing many inputs should merge once themselves
  // (merge_batchnorm in engine/canonize.h) and pass merge_batchnorm = false.
  const ModulePtr canonical = lrp_canonical_model(model, inputs.shape(), options.merge_batchnorm);
  AttributionResult r = rule_set_attribution(canonical ? *canonical : model, inputs, target, rules, options.workspace);
  finish_lrp_relevance(r, target, options.multiply_by_output);
  return r;
}

}  // namespace backlight
