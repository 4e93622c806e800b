#include "attribution/gradient/gradient_methods.h"

#include <cmath>

#include "attribution/gradient/lrp_relevance.h"
#include "attribution/core/rows.h"
#include "engine/functional/elementwise.h"
#include "engine/functional/map.h"

namespace backlight {

AttributionResult rule_set_attribution(const Module& model, const Tensor& inputs, const Target& target,
                                       const RuleSet& rules, const Workspace* workspace) {
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(workspace, local);
  ForwardPass pass = forward_pass(model, inputs, ws);
  AttributionResult r;
  const std::vector<Var> wrt{pass.input};
  // Results stay on the workspace's device (attribute() brings device results back once, so a
  // noise tunnel or a caller's loop does not copy per call).
  r.attribution = target_backward(pass, target, rules, wrt, &r.target)[0];
  r.output = pass.output.value();
  return r;
}

AttributionResult saliency(const Module& model, const Tensor& inputs, const Target& target,
                           const SaliencyOptions& options) {
  AttributionResult r = rule_set_attribution(model, inputs, target, RuleSet("gradient"), options.workspace);
  if (options.abs) r.attribution = fn::map_named(r.attribution, nullptr, maps::Unary::Abs);
  return r;
}

AttributionResult input_x_gradient(const Module& model, const Tensor& inputs, const Target& target,
                                   const InputXGradientOptions& options) {
  AttributionResult r = rule_set_attribution(model, inputs, target, RuleSet("gradient"), options.workspace);
  r.attribution = fn::binary(fn::BinaryOp::Mul, r.attribution, inputs, nullptr);  // on the inputs' device
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
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(options.workspace, local);
  // Folding clones the model: callers attributing many inputs should merge once themselves
  // (merge_batchnorm in engine/canonize.h) and pass merge_batchnorm = false.
  const ModulePtr canonical = lrp_canonical_model(model, inputs.shape(), options.merge_batchnorm);
  ForwardPass pass = forward_pass(canonical ? *canonical : model, inputs, ws);
  // "auto" is resolved from the recorded forward, so the one pass serves both.
  const std::string name = options.rule_set ? std::string("custom")
                           : options.rules == "auto" ? auto_lrp_rules(*pass.tape, pass.output)
                                                     : options.rules;
  const RuleSet rules = options.rule_set ? *options.rule_set : make_rule_set(name, options.params);
  AttributionResult r;
  const std::vector<Var> wrt{pass.input};
  r.attribution = target_backward(pass, target, rules, wrt, &r.target)[0].to_cpu();  // bookkeeping on the host
  r.output = pass.output.value().to_cpu();
  finish_lrp_relevance(r, target, options.multiply_by_output);
  r.rule_set = name;
  return r;
}

}  // namespace backlight
