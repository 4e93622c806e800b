// Layer methods that evaluate the model at many points per item: LayerIntegratedGradients,
// LayerConductance, InternalInfluence (input paths) and LayerGradientShap (random samples).
#include <algorithm>
#include <utility>

#include "attribution/core/limits.h"
#include "attribution/path/integrated_gradients.h"
#include "attribution/core/layer.h"
#include "attribution/core/layer_eval.h"
#include "attribution/layer/layer_path_methods.h"
#include "attribution/core/rows.h"
#include "attribution/core/side_by_side.h"
#include "engine/error.h"

namespace backlight {

namespace {

void check_path_options(const char* method, const std::string& layer, const std::vector<Baseline>& baselines,
                        const Tensor& inputs) {
  BL_CHECK(!layer.empty(), method, ": no layer given (expected a module path such as features.3 or layer4)");
  BL_CHECK(!baselines.empty(), method, ": at least one baseline is needed");
  require_finite(inputs, method);
}

// Steps per forward: Captum's internal_batch_size / N (at least 1); 0 runs all steps at once up to
// kDefaultChunkRows rows (attribution/limits.h), so memory never grows with steps.
size_t steps_per_chunk(int internal_batch_size, int64_t items, size_t steps, int64_t bytes_per_row = 0) {
  return static_cast<size_t>(units_per_chunk(internal_batch_size, items, static_cast<int64_t>(steps), bytes_per_row));
}

// The chunk loop's plan: parts of every chunk side by side on the CPU threads for class targets
// (attribution/core/side_by_side.h), the sequential loop otherwise.
SideBySidePlan path_plan(size_t steps, size_t per_chunk, const Target& target, const Workspace& ws,
                         int internal_batch_size) {
  return side_by_side_plan(steps, per_chunk, side_by_side_threads(!ws.cuda_context() && !target.is_function()),
                           internal_batch_size <= 0);
}

// Gradient of the target wrt the layer output for path rows (step-major, k1 - k0 steps).
Tensor layer_gradient(ForwardPass& pass, const std::string& layer, const Target& target,
                      const std::vector<int64_t>& classes, int64_t steps, Var* layer_out = nullptr) {
  const std::vector<Var> wrt{layer_output(*pass.tape, layer)};
  if (layer_out) *layer_out = wrt[0];
  return target_backward(pass, rows_target(target, row_classes(classes, steps, false)), RuleSet("gradient"), wrt)[0];
}

}  // namespace

AttributionResult layer_integrated_gradients(const Module& model, const Tensor& inputs, const Target& target,
                                             const LayerIntegratedGradientsOptions& opt) {
  check_path_options("layer_integrated_gradients", opt.layer, opt.baselines, inputs);
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  const IntegrationRule rule = integration_rule(opt.method, opt.steps);
  const int op = layer_op_index(model, inputs, opt.layer, ws);
  const LayerEval ex = eval_layer(model, inputs, op, ws);
  AttributionResult r;
  r.output = ex.output;
  if (!target.is_function()) r.target = target.resolve(ex.output);
  const Tensor fx = target_rows(ex.output, target, r.target);
  const int64_t items = inputs.size(0);
  const size_t steps = rule.alphas.size(), per_chunk =
      steps_per_chunk(opt.internal_batch_size, items, steps, ex.bytes_per_row);
  const SideBySidePlan plan = path_plan(steps, per_chunk, target, ws, opt.internal_batch_size);
  const float share = 1.0f / static_cast<float>(opt.baselines.size());
  r.attribution = Tensor::zeros(ex.layer.shape());
  r.delta = Tensor::zeros(Shape{items});
  for (const Baseline& b : opt.baselines) {
    const LayerEval eb = eval_layer(model, make_baseline(b, inputs), op, ws);
    const Tensor fb = target_rows(eb.output, target, r.target);
    Tensor grad_sum = Tensor::zeros(ex.layer.shape());
    const auto run = [&](size_t k0, size_t k1) {
      const int64_t n_steps = static_cast<int64_t>(k1 - k0);
      // The layers before the substituted one still run on the inputs (Captum passes them as
      // additional forward arguments), so branches that bypass the layer see x.
      ForwardPass pass = forward_with_layer(model, repeat_rows(inputs, n_steps, ws), op,
                                            path_rows(ex.layer, eb.layer, rule.alphas, k0, k1, ws), ws);
      const std::vector<Var> wrt{layer_var(pass, op)};
      const Target t = rows_target(target, row_classes(r.target, n_steps, false));
      return target_backward(pass, t, RuleSet("gradient"), wrt)[0];
    };
    run_side_by_side(plan, run, [&](size_t k0, size_t k1, const Tensor& g) {
      for (size_t k = k0; k < k1; ++k)
        add_scaled(grad_sum, g, static_cast<int64_t>(k - k0), static_cast<float>(rule.weights[k]));
    });
    if (opt.multiply_by_inputs)
      for (int64_t i = 0; i < grad_sum.numel(); ++i) grad_sum.data()[i] *= ex.layer.data()[i] - eb.layer.data()[i];
    const std::vector<double> sums = item_sums(grad_sum);
    for (int64_t n = 0; n < items; ++n)
      r.delta.data()[n] += share * static_cast<float>(sums[n] - (fx.data()[n] - fb.data()[n]));
    add_scaled(r.attribution, grad_sum, 0, share);
  }
  r.layer_map = r.attribution;
  return r;
}

AttributionResult layer_conductance(const Module& model, const Tensor& inputs, const Target& target,
                                    const LayerConductanceOptions& opt) {
  check_path_options("layer_conductance", opt.layer, opt.baselines, inputs);
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  BL_CHECK(opt.steps >= 1, "layer_conductance: expected steps >= 1, got ", opt.steps);
  // Captum evaluates steps + 1 points of the method and uses only their alphas.
  const std::vector<double> alphas = integration_rule(opt.method, opt.steps + 1).alphas;
  AttributionResult r;
  int64_t bytes_per_row = 0;
  const Tensor fx = target_values(model, inputs, target, ws, &r.target, &r.output, &bytes_per_row);
  const Target fixed = target.is_function() ? target : Target::indices(r.target);
  const int64_t items = inputs.size(0);
  const size_t points = alphas.size(), per_chunk =
      steps_per_chunk(opt.internal_batch_size, items, points, bytes_per_row);
  const SideBySidePlan plan = path_plan(points, per_chunk, target, ws, opt.internal_batch_size);
  const float share = 1.0f / static_cast<float>(opt.baselines.size());
  r.delta = Tensor::zeros(Shape{items});
  for (const Baseline& b : opt.baselines) {
    const Tensor base = make_baseline(b, inputs);
    const Tensor fb = target_values(model, base, fixed, ws);
    Tensor attr, prev_a, prev_g;  // layer value and gradient at the previous point
    const auto run = [&](size_t p0, size_t p1) {
      ForwardPass pass = forward_pass(model, path_rows(inputs, base, alphas, p0, p1, ws), ws);
      Var a_var;
      Tensor g = layer_gradient(pass, opt.layer, target, r.target, static_cast<int64_t>(p1 - p0), &a_var);
      return std::pair<Tensor, Tensor>(a_var.value(), std::move(g));
    };
    // Each point's term needs the previous point's values, so the points are added in order.
    run_side_by_side(plan, run, [&](size_t p0, size_t p1, const std::pair<Tensor, Tensor>& ag) {
      const auto& [a, g] = ag;
      const int64_t n_points = static_cast<int64_t>(p1 - p0), per = a.numel() / n_points;
      if (!attr.defined()) {
        attr = Tensor::zeros(a.slice_batch(0, items).shape());
        prev_a = Tensor::empty(attr.shape());
        prev_g = Tensor::empty(attr.shape());
      }
      for (int64_t j = 0; j < n_points; ++j) {
        const float* aj = a.data() + j * per;
        const float* gj = g.data() + j * per;
        if (p0 + j > 0)
          for (int64_t i = 0; i < per; ++i) attr.data()[i] += (aj[i] - prev_a.data()[i]) * prev_g.data()[i];
        std::copy(aj, aj + per, prev_a.data());
        std::copy(gj, gj + per, prev_g.data());
      }
    });
    const std::vector<double> sums = item_sums(attr);
    for (int64_t n = 0; n < items; ++n)
      r.delta.data()[n] += share * static_cast<float>(sums[n] - (fx.data()[n] - fb.data()[n]));
    if (!r.attribution.defined()) r.attribution = Tensor::zeros(attr.shape());
    add_scaled(r.attribution, attr, 0, share);
  }
  r.layer_map = r.attribution;
  return r;
}

AttributionResult internal_influence(const Module& model, const Tensor& inputs, const Target& target,
                                     const InternalInfluenceOptions& opt) {
  check_path_options("internal_influence", opt.layer, opt.baselines, inputs);
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  const IntegrationRule rule = integration_rule(opt.method, opt.steps);
  AttributionResult r;
  int64_t bytes_per_row = 0;
  target_values(model, inputs, target, ws, &r.target, &r.output, &bytes_per_row);
  const int64_t items = inputs.size(0);
  const size_t steps = rule.alphas.size(), per_chunk =
      steps_per_chunk(opt.internal_batch_size, items, steps, bytes_per_row);
  const SideBySidePlan plan = path_plan(steps, per_chunk, target, ws, opt.internal_batch_size);
  const float share = 1.0f / static_cast<float>(opt.baselines.size());
  for (const Baseline& b : opt.baselines) {
    const Tensor base = make_baseline(b, inputs);
    const auto run = [&](size_t k0, size_t k1) {
      ForwardPass pass = forward_pass(model, path_rows(inputs, base, rule.alphas, k0, k1, ws), ws);
      return layer_gradient(pass, opt.layer, target, r.target, static_cast<int64_t>(k1 - k0));
    };
    run_side_by_side(plan, run, [&](size_t k0, size_t k1, const Tensor& g) {
      if (!r.attribution.defined()) r.attribution = Tensor::zeros(g.slice_batch(0, items).shape());
      for (size_t k = k0; k < k1; ++k)
        add_scaled(r.attribution, g, static_cast<int64_t>(k - k0), share * static_cast<float>(rule.weights[k]));
    });
  }
  r.layer_map = r.attribution;
  return r;
}

AttributionResult layer_gradient_shap(const Module& model, const Tensor& inputs, const Target& target,
                                      const LayerGradientShapOptions& opt) {
  BL_CHECK(!opt.layer.empty(), "layer_gradient_shap: no layer given (expected a module path such as features.3)");
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  require_finite(inputs, "layer_gradient_shap input");
  AttributionResult r;
  target_values(model, inputs, target, ws, &r.target, &r.output);
  const int s = opt.samples;
  const ShapSamples smp = shap_samples(inputs, opt.baselines, s, opt.stdev, opt.seed, ws,
                                       {opt.baseline_indices, opt.alphas, opt.noise}, "layer_gradient_shap");
  const std::vector<int64_t> classes = row_classes(r.target, s, true);
  ForwardPass pass = forward_pass(model, smp.scaled, ws);
  const std::vector<Var> wrt{layer_output(*pass.tape, opt.layer)};
  Tensor g = target_backward(pass, rows_target(target, classes), RuleSet("gradient"), wrt)[0].clone();
  // Layer values at the noisy inputs and at the drawn baselines: one forward without a tape.
  const int op = layer_output_node(*pass.tape, opt.layer);
  const LayerEval e = eval_layer(model, stack_rows(smp.noisy, smp.baselines, ws), op, ws);
  const int64_t rows = g.size(0), half = g.numel();
  if (opt.multiply_by_inputs)
    for (int64_t i = 0; i < half; ++i) g.data()[i] *= e.layer.data()[i] - e.layer.data()[i + half];
  const Tensor f = target_rows(e.output, target, row_classes(classes, 2, false));
  const std::vector<double> sums = item_sums(g);
  const int64_t items = inputs.size(0);
  r.delta = Tensor::zeros(Shape{items});
  for (int64_t row = 0; row < rows; ++row)
    r.delta.data()[row / s] += static_cast<float>(sums[row] - (f.data()[row] - f.data()[rows + row])) / s;
  r.attribution = mean_over_samples(g, s);
  r.layer_map = r.attribution;
  return r;
}

}  // namespace backlight
