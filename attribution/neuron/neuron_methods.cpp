#include "attribution/neuron/neuron_methods.h"

#include "attribution/core/limits.h"

#include <algorithm>
#include <utility>

#include "attribution/path/integrated_gradients.h"
#include "attribution/core/layer.h"
#include "attribution/core/layer_eval.h"
#include "attribution/core/rows.h"
#include "attribution/core/side_by_side.h"
#include "engine/error.h"
#include "engine/rules/builtin_sets.h"

namespace backlight {

namespace {

void check_neuron(const Neuron& neuron, const char* method) {
  BL_CHECK(!neuron.layer.empty(), method, ": the neuron has no layer (expected a module path such as features.3)");
  BL_CHECK(neuron.is_function() || !neuron.index.empty(), method, ": the neuron of layer '", neuron.layer,
           "' has neither an index nor a selector");
}

// One recorded forward and one backward from the neuron through `rules` to the input.
AttributionResult neuron_rule_attribution(const Module& model, const Tensor& inputs, const Neuron& neuron,
                                          const RuleSet& rules, const Workspace* workspace, const char* method) {
  check_neuron(neuron, method);
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(workspace, local);
  ForwardPass pass = forward_pass(model, inputs, ws);
  const std::vector<Var> wrt{pass.input};
  AttributionResult r;
  r.attribution = neuron_backward(neuron, layer_output(*pass.tape, neuron.layer), wrt, rules)[0].clone();
  r.output = pass.output.value();
  return r;
}

// attr[i] = (x[i] - base[i]) * g[i] (or g[i]) for the first x.numel() elements of g.
Tensor times_difference(const Tensor& g, const Tensor& x, const Tensor& base, bool multiply) {
  Tensor out = Tensor::empty(x.shape());
  for (int64_t i = 0; i < x.numel(); ++i)
    out.data()[i] = multiply ? (x.data()[i] - base.data()[i]) * g.data()[i] : g.data()[i];
  return out;
}

size_t steps_per_chunk(int internal_batch_size, int64_t items, size_t steps, int64_t bytes_per_row = 0) {
  return static_cast<size_t>(units_per_chunk(internal_batch_size, items, static_cast<int64_t>(steps), bytes_per_row));
}

// The chunk loop's plan: parts of every chunk side by side on the CPU threads when neither the
// neuron nor the target is a user function (attribution/core/side_by_side.h), else sequential.
SideBySidePlan path_plan(size_t steps, size_t per_chunk, bool functions, const Workspace& ws,
                         int internal_batch_size) {
  return side_by_side_plan(steps, per_chunk, side_by_side_threads(!ws.cuda_context() && !functions),
                           internal_batch_size <= 0);
}

}  // namespace

AttributionResult neuron_gradient(const Module& model, const Tensor& inputs, const Neuron& neuron,
                                  const NeuronGradientOptions& opt) {
  return neuron_rule_attribution(model, inputs, neuron, RuleSet("gradient"), opt.workspace, "neuron_gradient");
}

AttributionResult neuron_input_x_gradient(const Module& model, const Tensor& inputs, const Neuron& neuron,
                                          const NeuronInputXGradientOptions& opt) {
  AttributionResult r =
      neuron_rule_attribution(model, inputs, neuron, RuleSet("gradient"), opt.workspace, "neuron_input_x_gradient");
  for (int64_t i = 0; i < inputs.numel(); ++i) r.attribution.data()[i] *= inputs.data()[i];
  return r;
}

AttributionResult neuron_guided_backprop(const Module& model, const Tensor& inputs, const Neuron& neuron,
                                         const NeuronGuidedBackpropOptions& opt) {
  return neuron_rule_attribution(model, inputs, neuron, make_rule_set("guided_backprop"), opt.workspace,
                                 "neuron_guided_backprop");
}

AttributionResult neuron_deconvolution(const Module& model, const Tensor& inputs, const Neuron& neuron,
                                       const NeuronDeconvolutionOptions& opt) {
  return neuron_rule_attribution(model, inputs, neuron, make_rule_set("deconvnet"), opt.workspace,
                                 "neuron_deconvolution");
}

AttributionResult neuron_integrated_gradients(const Module& model, const Tensor& inputs, const Neuron& neuron,
                                              const NeuronIntegratedGradientsOptions& opt) {
  check_neuron(neuron, "neuron_integrated_gradients");
  BL_CHECK(!opt.baselines.empty(), "neuron_integrated_gradients: at least one baseline is needed");
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  require_finite(inputs, "neuron_integrated_gradients input");
  const IntegrationRule rule = integration_rule(opt.method, opt.steps);
  const int op = layer_op_index(model, inputs, neuron.layer, ws);
  const LayerEval ex = eval_layer(model, inputs, op, ws);
  const Tensor nx = neuron_values(neuron, ex.layer);
  const int64_t items = inputs.size(0);
  const size_t steps = rule.alphas.size(), per_chunk =
      steps_per_chunk(opt.internal_batch_size, items, steps, ex.bytes_per_row);
  const SideBySidePlan plan = path_plan(steps, per_chunk, neuron.is_function(), ws, opt.internal_batch_size);
  const float share = 1.0f / static_cast<float>(opt.baselines.size());
  AttributionResult r;
  r.output = ex.output;
  r.attribution = Tensor::zeros(inputs.shape());
  r.delta = Tensor::zeros(Shape{items});
  for (const Baseline& b : opt.baselines) {
    const Tensor base = make_baseline(b, inputs);
    const Tensor nb = neuron_values(neuron, eval_layer(model, base, op, ws).layer);
    Tensor grad_sum = Tensor::zeros(inputs.shape());
    const auto run = [&](size_t k0, size_t k1) {
      ForwardPass pass = forward_pass(model, path_rows(inputs, base, rule.alphas, k0, k1, ws), ws);
      const std::vector<Var> wrt{pass.input};
      return neuron_backward(neuron, layer_var(pass, op), wrt, RuleSet("gradient"))[0];
    };
    run_side_by_side(plan, run, [&](size_t k0, size_t k1, const Tensor& g) {
      for (size_t k = k0; k < k1; ++k)
        add_scaled(grad_sum, g, static_cast<int64_t>(k - k0), static_cast<float>(rule.weights[k]));
    });
    const Tensor attr = times_difference(grad_sum, inputs, base, opt.multiply_by_inputs);
    const std::vector<double> sums = item_sums(attr);
    for (int64_t n = 0; n < items; ++n)
      r.delta.data()[n] += share * static_cast<float>(sums[n] - (nx.data()[n] - nb.data()[n]));
    add_scaled(r.attribution, attr, 0, share);
  }
  return r;
}

AttributionResult neuron_conductance(const Module& model, const Tensor& inputs, const Neuron& neuron,
                                     const Target& target, const NeuronConductanceOptions& opt) {
  check_neuron(neuron, "neuron_conductance");
  BL_CHECK(!opt.baselines.empty(), "neuron_conductance: at least one baseline is needed");
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  require_finite(inputs, "neuron_conductance input");
  const IntegrationRule rule = integration_rule(opt.method, opt.steps);
  AttributionResult r;
  int64_t bytes_per_row = 0;
  target_values(model, inputs, target, ws, &r.target, &r.output, &bytes_per_row);
  const int64_t items = inputs.size(0), per = inputs.numel() / items;
  const size_t steps = rule.alphas.size(), per_chunk =
      steps_per_chunk(opt.internal_batch_size, items, steps, bytes_per_row);
  const SideBySidePlan plan =
      path_plan(steps, per_chunk, neuron.is_function() || target.is_function(), ws, opt.internal_batch_size);
  const float share = 1.0f / static_cast<float>(opt.baselines.size());
  r.attribution = Tensor::zeros(inputs.shape());
  for (const Baseline& b : opt.baselines) {
    const Tensor base = make_baseline(b, inputs);
    Tensor grad_sum = Tensor::zeros(inputs.shape());
    const auto run = [&](size_t k0, size_t k1) {
      const int64_t n_steps = static_cast<int64_t>(k1 - k0);
      ForwardPass pass = forward_pass(model, path_rows(inputs, base, rule.alphas, k0, k1, ws), ws);
      const std::vector<Var> layer{layer_output(*pass.tape, neuron.layer)};
      // Two backward passes over one tape: target -> layer (the neuron's entry is the target's
      // sensitivity to the neuron), neuron -> input.
      const Tensor g_layer = target_backward(pass, rows_target(target, row_classes(r.target, n_steps, false)),
                                             RuleSet("gradient"), layer)[0];
      const std::vector<Var> input{pass.input};
      return std::pair<Tensor, Tensor>(neuron_values(neuron, g_layer),
                                       neuron_backward(neuron, layer[0], input, RuleSet("gradient"))[0]);
    };
    run_side_by_side(plan, run, [&](size_t k0, size_t k1, const std::pair<Tensor, Tensor>& parts) {
      const auto& [mid, g_in] = parts;
      for (int64_t k = 0; k < static_cast<int64_t>(k1 - k0); ++k) {
        const float w = static_cast<float>(rule.weights[k0 + k]);
        for (int64_t n = 0; n < items; ++n) {
          const float scale = w * mid.data()[k * items + n];
          const float* src = g_in.data() + (k * items + n) * per;
          float* dst = grad_sum.data() + n * per;
          for (int64_t i = 0; i < per; ++i) dst[i] += scale * src[i];
        }
      }
    });
    add_scaled(r.attribution, times_difference(grad_sum, inputs, base, opt.multiply_by_inputs), 0, share);
  }
  return r;
}

AttributionResult neuron_gradient_shap(const Module& model, const Tensor& inputs, const Neuron& neuron,
                                       const NeuronGradientShapOptions& opt) {
  check_neuron(neuron, "neuron_gradient_shap");
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  require_finite(inputs, "neuron_gradient_shap input");
  const int s = opt.samples;
  const ShapSamples smp = shap_samples(inputs, opt.baselines, s, opt.stdev, opt.seed, ws,
                                       {opt.baseline_indices, opt.alphas, opt.noise}, "neuron_gradient_shap");
  ForwardPass pass = forward_pass(model, smp.scaled, ws);
  const int op = layer_output_node(*pass.tape, neuron.layer);
  const std::vector<Var> wrt{pass.input};
  const Tensor g = neuron_backward(neuron, layer_var(pass, op), wrt, RuleSet("gradient"))[0];
  const Tensor rows = times_difference(g, smp.noisy, smp.baselines, opt.multiply_by_inputs);
  // Neuron values at the noisy inputs and the drawn baselines (one forward without a tape) for
  // the delta, and the model output for the clean inputs.
  const LayerEval e = eval_layer(model, stack_rows(smp.noisy, smp.baselines, ws), op, ws);
  const Tensor v = neuron_values(neuron, e.layer);
  const int64_t n_rows = rows.size(0), items = inputs.size(0);
  const std::vector<double> sums = item_sums(rows);
  AttributionResult r;
  r.delta = Tensor::zeros(Shape{items});
  for (int64_t row = 0; row < n_rows; ++row)
    r.delta.data()[row / s] += static_cast<float>(sums[row] - (v.data()[row] - v.data()[n_rows + row])) / s;
  r.attribution = mean_over_samples(rows, s);
  r.output = eval_layer(model, inputs, op, ws).output;
  return r;
}

AttributionResult neuron_deeplift(const Module& model, const Tensor& inputs, const Neuron& neuron,
                                  const NeuronDeepLiftOptions& opt) {
  check_neuron(neuron, "neuron_deeplift");
  BL_CHECK(!opt.baselines.empty(), "neuron_deeplift: at least one baseline is needed");
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  require_finite(inputs, "neuron_deeplift input");
  const RuleSet rules = make_rule_set("deeplift");
  const int64_t items = inputs.size(0);
  const float share = 1.0f / static_cast<float>(opt.baselines.size());
  AttributionResult r;
  r.attribution = Tensor::zeros(inputs.shape());
  r.delta = Tensor::zeros(Shape{items});
  for (const Baseline& b : opt.baselines) {
    const Tensor base = make_baseline(b, inputs);
    ForwardPass pass = forward_pass(model, stack_rows(inputs, base, ws), ws, TapeOptions{.paired_reference = true});
    if (!r.output.defined()) r.output = pass.output.value().slice_batch(0, items).clone();
    const Var layer = layer_output(*pass.tape, neuron.layer);
    const std::vector<Var> wrt{pass.input};
    const Tensor g = neuron_backward(neuron, layer, wrt, rules)[0];
    const Tensor attr = times_difference(g, inputs, base, opt.multiply_by_inputs);
    const Tensor v = neuron_values(neuron, layer.value());
    const std::vector<double> sums = item_sums(attr);
    for (int64_t n = 0; n < items; ++n)
      r.delta.data()[n] += share * static_cast<float>(sums[n] - (v.data()[n] - v.data()[items + n]));
    add_scaled(r.attribution, attr, 0, share);
  }
  return r;
}

AttributionResult neuron_deeplift_shap(const Module& model, const Tensor& inputs, const Neuron& neuron,
                                       const NeuronDeepLiftShapOptions& opt) {
  BL_CHECK_SHAPE(opt.baselines.defined() && opt.baselines.dim() == inputs.dim() &&
                     opt.baselines.numel() / opt.baselines.size(0) == inputs.numel() / inputs.size(0),
                 "neuron_deeplift_shap: expected a baseline distribution [B, ...] with the inputs' per-item shape ",
                 inputs.shape(), ", got ", opt.baselines.defined() ? opt.baselines.shape().str() : std::string("none"));
  NeuronDeepLiftOptions dl{.baselines = {}, .multiply_by_inputs = opt.multiply_by_inputs, .workspace = opt.workspace};
  for (int64_t b = 0; b < opt.baselines.size(0); ++b)
    dl.baselines.push_back(Baseline::given(opt.baselines.slice_batch(b, b + 1)));
  return neuron_deeplift(model, inputs, neuron, dl);
}

}  // namespace backlight
