#include "attribution/path/integrated_gradients.h"

#include <algorithm>

#include "attribution/core/limits.h"
#include "attribution/core/rows.h"
#include "attribution/core/side_by_side.h"
#include "engine/backward.h"
#include "kernels/dispatch.h"

namespace backlight {

Tensor target_values(const Module& model, const Tensor& inputs, const Target& target, const Workspace& ws,
                     std::vector<int64_t>* classes, Tensor* output, int64_t* bytes_per_row) {
  Tape tape(TapeOptions{.record = false}, ws);
  Var out = model.forward(tape.input(inputs));
  if (bytes_per_row) *bytes_per_row = tape.output_bytes() / std::max<int64_t>(inputs.size(0), 1);
  // Values, classes and output are host tensors; on CUDA the logits come back (one small copy).
  const Tensor host_out = out.value().is_cuda() ? out.value().to_cpu() : out.value();
  if (output) *output = out.value().is_cuda() ? host_out : out.value().clone();
  const int64_t n = inputs.size(0);
  Tensor values = Tensor::empty(Shape{n});
  if (target.is_function()) {
    const Tensor v = target.select(out).value().to_cpu();
    std::copy(v.data(), v.data() + n, values.data());
    if (classes) classes->clear();
    return values;
  }
  const std::vector<int64_t> cls = target.resolve(host_out);
  const int64_t k = out.shape()[1];
  for (int64_t i = 0; i < n; ++i) values.data()[i] = host_out.data()[i * k + cls[i]];
  if (classes) *classes = cls;
  return values;
}

// One implementation for both devices: the buffers come from the workspace and the fused
// kernels run where it allocates (kernels/dispatch.h), so on CUDA the interpolation, the
// model, the accumulation and the finishing step all stay on the device; only class targets
// (to the device), target values and item sums (to the host, [N] each) cross per baseline.
AttributionResult integrated_gradients(const Module& model, const Tensor& inputs, const Target& target,
                                       const IntegratedGradientsOptions& opt) {
  BL_CHECK(!opt.baselines.empty(), "integrated_gradients: at least one baseline is needed");
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  cuda::Context* ctx = ws.cuda_context();
  require_finite(inputs, "integrated_gradients input");
  const Tensor x = inputs.to(ws.device(), &ws);  // the same tensor unless a host input meets a CUDA workspace
  const IntegrationRule rule = integration_rule(opt.method, opt.steps);
  const RuleSet rules = opt.rules ? *opt.rules : RuleSet("gradient");

  AttributionResult r;
  int64_t bytes_per_row = 0;
  const Tensor fx = target_values(model, x, target, ws, &r.target, &r.output, &bytes_per_row);
  // Class targets are fixed by the input's prediction, not re-resolved along the path.
  const Target fixed = target.is_function() ? target : Target::indices(r.target);
  const int64_t items = x.size(0), per_item = x.numel() / items;
  const size_t steps = rule.alphas.size();
  const size_t per_chunk = static_cast<size_t>(units_per_chunk(opt.internal_batch_size, items, steps, bytes_per_row));

  r.attribution = Tensor::zeros(x.shape(), &ws);
  r.delta = Tensor::zeros(Shape{items});
  const std::vector<float> alphas(rule.alphas.begin(), rule.alphas.end());
  const std::vector<float> weights(rule.weights.begin(), rule.weights.end());
  const float divisor = static_cast<float>(opt.baselines.size());
  // On the CPU the threads run whole sub-chunks side by side (attribution/core/side_by_side.h),
  // each with the steps' own alphas and weights, added to the sums in step order.
  const SideBySidePlan plan = side_by_side_plan(steps, per_chunk, side_by_side_threads(!ctx && !target.is_function()),
                                                opt.internal_batch_size <= 0);
  auto run_chunk = [&](const Tensor& base, size_t k0, size_t k1) {
    const Target chunk_target = rows_target(fixed, row_classes(r.target, static_cast<int64_t>(k1 - k0), false));
    const IgChunk chunk{x.device_data(),     base.device_data(),   items, per_item, alphas.data() + k0,
                        weights.data() + k0, static_cast<int64_t>(k1 - k0)};
    // The chunk's interpolated inputs [k*N, ...] (alpha-major, Captum's order).
    std::vector<int64_t> dims = x.shape().to_vector();
    dims[0] = chunk.steps * items;
    Tensor rows = Tensor::empty(Shape(dims), &ws);
    ig_interpolate(chunk, rows.device_data(), ctx);
    ForwardPass pass = forward_pass(model, rows, ws);
    const std::vector<Var> wrt{pass.input};
    return target_backward(pass, chunk_target, rules, wrt)[0];
  };
  for (const Baseline& b : opt.baselines) {
    const Tensor base = make_baseline(b, x, ws);
    Tensor grad_sum = Tensor::zeros(x.shape(), &ws);
    run_side_by_side(
        plan, [&](size_t k0, size_t k1) { return run_chunk(base, k0, k1); },
        [&](size_t k0, size_t k1, const Tensor& g) {
          const IgChunk chunk{x.device_data(),     base.device_data(),   items, per_item, alphas.data() + k0,
                              weights.data() + k0, static_cast<int64_t>(k1 - k0)};
          ig_accumulate(chunk, g.device_data(), grad_sum.device_data(), ctx);
        });
    const Tensor fb = target_values(model, base, fixed, ws);
    // attr += a / B with a = (x - x') * grad_sum (or grad_sum), and grad_sum = a for the sums.
    const IgChunk whole{x.device_data(), base.device_data(), items, per_item, nullptr, nullptr, 0};
    ig_finish(whole, grad_sum.device_data(), opt.multiply_by_inputs, divisor, r.attribution.device_data(), ctx);
    const std::vector<double> sums = item_sums(grad_sum);
    for (int64_t n = 0; n < items; ++n)
      r.delta.data()[n] += static_cast<float>((sums[n] - (fx.data()[n] - fb.data()[n])) / opt.baselines.size());
  }
  return r;
}

}  // namespace backlight
