#include "attribution/path/integrated_gradients.h"

#include <algorithm>
#include <exception>

#include "attribution/core/limits.h"
#include "attribution/core/rows.h"
#include "engine/backward.h"
#include "engine/parallel.h"
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
  size_t per_chunk = static_cast<size_t>(units_per_chunk(opt.internal_batch_size, items, steps, bytes_per_row));

  r.attribution = Tensor::zeros(x.shape(), &ws);
  r.delta = Tensor::zeros(Shape{items});
  const std::vector<float> alphas(rule.alphas.begin(), rule.alphas.end());
  const std::vector<float> weights(rule.weights.begin(), rule.weights.end());
  const float divisor = static_cast<float>(opt.baselines.size());
  // On the CPU the threads run whole sub-chunks side by side, one thread each (parallel_for over
  // workers; every op inside runs inline), instead of splitting every op of one chunk: a forward
  // and backward of an imported EfficientNet-B0 is ~1500 small parallel regions, and with the
  // CLI's passive OpenMP wait policy each one wakes a sleeping thread (issue 16: IG-50 on 2
  // threads ran at the speed of one). The chunk's rows are divided among the workers, so the
  // activation memory alive at once stays that of one chunk, and the gradients are added to the
  // sums in step order afterwards, as the sequential loop adds them.
  const bool side_by_side = !ctx && !target.is_function() && !in_parallel_region();
  const size_t threads = side_by_side ? static_cast<size_t>(std::max(1, num_threads())) : 1;
  // A chunk chosen by the activation budget is a multiple of the threads (at least one step per
  // thread, so a model whose single row exceeds the budget still keeps every thread busy, and no
  // thread waits for another's extra step).
  if (opt.internal_batch_size <= 0) {
    const size_t t = std::min(threads, steps);
    per_chunk = std::max(t, per_chunk / t * t);
  }
  const size_t workers = std::max<size_t>(1, std::min(threads, per_chunk));
  const size_t per_worker = (per_chunk + workers - 1) / workers;
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
    for (size_t r0 = 0; r0 < steps; r0 += per_worker * workers) {
      std::vector<Tensor> grads(workers);
      std::vector<std::exception_ptr> errors(workers);
      auto work = [&](size_t w) {
        const size_t k0 = std::min(steps, r0 + w * per_worker), k1 = std::min(steps, k0 + per_worker);
        if (k0 >= k1) return;
        try {
          grads[w] = run_chunk(base, k0, k1);
        } catch (...) {  // an exception must not leave an OpenMP region
          errors[w] = std::current_exception();
        }
      };
      if (workers == 1) work(0);
      else parallel_for(static_cast<int64_t>(workers), 1, [&](int64_t lo, int64_t hi) {
        for (int64_t w = lo; w < hi; ++w) work(static_cast<size_t>(w));
      });
      for (const std::exception_ptr& e : errors)
        if (e) std::rethrow_exception(e);
      for (size_t w = 0; w < workers; ++w) {
        if (!grads[w].defined()) continue;
        const size_t k0 = r0 + w * per_worker;
        const IgChunk chunk{x.device_data(),     base.device_data(),   items, per_item, alphas.data() + k0,
                            weights.data() + k0, grads[w].size(0) / items};
        ig_accumulate(chunk, grads[w].device_data(), grad_sum.device_data(), ctx);
      }
    }
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
