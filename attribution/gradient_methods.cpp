#include "attribution/gradient_methods.h"

#include <cmath>

#include "attribution/rows.h"
#include "engine/canonize.h"
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
  bool has_batchnorm = false;
  for (const auto& [path, m] : model.named_modules())
    has_batchnorm |= m->type_name().rfind("BatchNorm", 0) == 0;
  // Merging clones the model: callers attributing many inputs should merge once themselves
  // (merge_batchnorm in engine/canonize.h) and pass merge_batchnorm = false.
  ModulePtr canonical;
  if (options.merge_batchnorm && has_batchnorm) {
    std::vector<int64_t> shape = inputs.shape().to_vector();
    shape[0] = 1;
    canonical = merge_batchnorm(model, Shape(shape));
  }
  AttributionResult r = rule_set_attribution(canonical ? *canonical : model, inputs, target, rules, options.workspace);
  // The relevance the backward pass starts from: 1 per item, or f_t(x) (Captum).
  const int64_t items = inputs.size(0), per = r.attribution.numel() / items;
  Tensor start = Tensor::full(Shape{items}, 1.0f);
  if (options.multiply_by_output) {
    start = target_rows(r.output, target, r.target);
    for (int64_t n = 0; n < items; ++n)
      for (int64_t i = n * per; i < (n + 1) * per; ++i) r.attribution.data()[i] *= start.data()[n];
  }
  const std::vector<double> sums = item_sums(r.attribution);
  r.delta = Tensor::empty(Shape{items});
  for (int64_t n = 0; n < items; ++n) r.delta.data()[n] = static_cast<float>(start.data()[n] - sums[n]);
  return r;
}

}  // namespace backlight
