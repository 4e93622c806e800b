#include "attribution/integrated_gradients.h"

#include <algorithm>

#include "engine/backward.h"
#include "engine/parallel.h"
#include "kernels/ig.h"

namespace backlight {

Tensor target_values(const Module& model, const Tensor& inputs, const Target& target, const Workspace& ws,
                     std::vector<int64_t>* classes, Tensor* output) {
  Tape tape(TapeOptions{.record = false}, ws);
  Var out = model.forward(tape.input(inputs));
  if (output) *output = out.value().clone();
  const int64_t n = inputs.size(0);
  Tensor values = Tensor::empty(Shape{n});
  if (target.is_function()) {
    const Tensor v = target.select(out).value();
    std::copy(v.data(), v.data() + n, values.data());
    if (classes) classes->clear();
    return values;
  }
  const std::vector<int64_t> cls = target.resolve(out.value());
  const int64_t k = out.shape()[1];
  for (int64_t i = 0; i < n; ++i) values.data()[i] = out.value().data()[i * k + cls[i]];
  if (classes) *classes = cls;
  return values;
}

namespace {

// The chunk's interpolated inputs [k*N, ...] (alpha-major, Captum's order) via the IG kernel.
Tensor interpolate(const IgChunk& c, const Shape& input_shape, const Workspace& ws) {
  std::vector<int64_t> d = input_shape.to_vector();
  d[0] = c.items * c.steps;
  Tensor out = Tensor::empty(Shape(d), &ws);
  ig_interpolate_cpu(c, out.data());
  return out;
}

}  // namespace

AttributionResult integrated_gradients(const Module& model, const Tensor& inputs, const Target& target,
                                       const IntegratedGradientsOptions& opt) {
  BL_CHECK(!opt.baselines.empty(), "integrated_gradients: at least one baseline is needed");
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  require_finite(inputs, "integrated_gradients input");
  const IntegrationRule rule = integration_rule(opt.method, opt.steps);
  const RuleSet rules = opt.rules ? *opt.rules : RuleSet("gradient");

  AttributionResult r;
  const Tensor fx = target_values(model, inputs, target, ws, &r.target, &r.output);
  // Class targets are fixed by the input's prediction, not re-resolved along the path.
  const Target fixed = target.is_function() ? target : Target::indices(r.target);
  const int64_t items = inputs.size(0);
  const size_t steps = rule.alphas.size();
  const size_t per_chunk = opt.internal_batch_size > 0
                               ? std::max<size_t>(1, static_cast<size_t>(opt.internal_batch_size / items))
                               : steps;

  r.attribution = Tensor::zeros(inputs.shape());
  r.delta = Tensor::zeros(Shape{items});
  const std::vector<float> alphas(rule.alphas.begin(), rule.alphas.end());
  const std::vector<float> weights(rule.weights.begin(), rule.weights.end());
  for (const Baseline& b : opt.baselines) {
    const Tensor base = make_baseline(b, inputs);
    Tensor grad_sum = Tensor::zeros(inputs.shape());
    for (size_t k0 = 0; k0 < steps; k0 += per_chunk) {
      const size_t k1 = std::min(steps, k0 + per_chunk);
      std::vector<int64_t> chunk_targets;
      for (size_t k = k0; k < k1; ++k) chunk_targets.insert(chunk_targets.end(), r.target.begin(), r.target.end());
      const Target chunk_target = target.is_function() ? fixed : Target::indices(chunk_targets);
      const IgChunk chunk{inputs.data(), base.data(), items, inputs.numel() / items, alphas.data() + k0,
                          weights.data() + k0, static_cast<int64_t>(k1 - k0)};
      ForwardPass pass = forward_pass(model, interpolate(chunk, inputs.shape(), ws), ws);
      const std::vector<Var> wrt{pass.input};
      const Tensor grads = target_backward(pass, chunk_target, rules, wrt)[0];
      ig_accumulate_cpu(chunk, grads.data(), grad_sum.data());
    }
    const Tensor fb = target_values(model, base, fixed, ws);
    const int64_t per = inputs.numel() / items;
    for (int64_t n = 0; n < items; ++n) {
      double total = 0;
      for (int64_t i = n * per; i < (n + 1) * per; ++i) {
        const float a = opt.multiply_by_inputs ? (inputs.data()[i] - base.data()[i]) * grad_sum.data()[i]
                                               : grad_sum.data()[i];
        r.attribution.data()[i] += a / static_cast<float>(opt.baselines.size());
        total += a;
      }
      r.delta.data()[n] += static_cast<float>((total - (fx.data()[n] - fb.data()[n])) / opt.baselines.size());
    }
  }
  return r;
}

}  // namespace backlight
