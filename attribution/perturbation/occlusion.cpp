// Occlusion: batches of occluded copies (kernels occlude_batch), one inference forward per batch,
// then one gather of the differences over the windows and the overlap average. With
// options.incremental the differences come from incremental occlusion instead
// (attribution/perturbation/incremental/): same layout, same accumulation. The plain path runs where the
// workspace allocates (kernels/dispatch.h): on CUDA the occluded batches, the forwards, the
// gather and the average stay on the device; per batch only the target values come back, and
// the [positions, N] differences go over once.
#include <algorithm>
#include <memory>

#include "attribution/perturbation/occlusion.h"
#include "attribution/perturbation/incremental/incremental_occlusion.h"
#include "attribution/core/pass.h"
#include "attribution/perturbation/perturbation.h"
#include "engine/error.h"
#include "kernels/dispatch.h"

namespace backlight {

namespace {

// diffs[j*N + n] = f(x_n) - f(x_n occluded at window j), float32 as Captum's eval_diff.
Tensor plain_diffs(const Tensor& inputs, const OcclusionGeometry& g, BaselineRef base, const RowEvaluator& eval,
                   int64_t per, Progress& bar, const Workspace& ws) {
  const int64_t items = inputs.size(0);
  Tensor diffs = Tensor::empty(Shape{g.positions, items});
  for (int64_t first = 0; first < g.positions; first += per) {
    const int64_t count = std::min(per, g.positions - first);
    Tensor rows = Tensor::empty(with_batch(inputs.shape(), count * items), &ws);
    occlude_batch(inputs.device_data(), items, base, g, first, count, rows.device_data(), ws.cuda_context());
    const Tensor v = eval.values(rows);
    for (int64_t i = 0; i < count * items; ++i)
      diffs.data()[first * items + i] = eval.initial().data()[i % items] - v.data()[i];
    bar.advance(count);
  }
  bar.finish();
  return diffs;
}

}  // namespace

AttributionResult occlusion(const Module& model, const Tensor& inputs, const Target& target,
                            const OcclusionOptions& opt) {
  check_perturbation_inputs(inputs, "occlusion");
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  cuda::Context* ctx = ws.cuda_context();
  // Incremental occlusion keeps its caches on the host; on CUDA, Auto means the plain path.
  BL_CHECK(!(ctx && opt.incremental == IncrementalMode::On),
           "occlusion: incremental occlusion (IncrementalMode::On) runs on the CPU only, but the workspace is a "
           "CUDA one; use IncrementalMode::Auto or Off on CUDA (the plain path runs on the device)");
  const Tensor x = inputs.to(ws.device(), &ws);  // the same tensor unless host inputs meet a CUDA workspace
  const std::vector<int64_t> item(x.shape().dims().begin() + 1, x.shape().dims().end());
  const OcclusionGeometry g = occlusion_geometry(item, opt.window, opt.stride);
  Tensor base_storage;
  const BaselineRef base = baseline_ref(opt.baseline, x, base_storage, &ws);
  const RowEvaluator eval(model, x, target, ws);
  const int64_t items = x.size(0);

  Tensor diffs;
  if (opt.incremental != IncrementalMode::Off && !ctx) {
    incremental::Recording rec = incremental::record_and_plan(model, x.slice_batch(0, 1), g, ws);
    if (incremental::use_plan(rec.plan, opt.incremental)) {
      // One item at a time: perturbations_per_eval positions of one item per batch (automatic:
      // about 64).
      const int64_t per = perturbations_per_batch(opt.perturbations_per_eval, 1, g.positions);
      Progress bar("occlusion", g.positions * items, opt.progress);
      diffs = incremental::occlusion_diffs(model, std::move(rec), x, g, base, eval, target, per, bar, ws);
    }
  }
  if (!diffs.defined()) {
    const int64_t per = perturbations_per_batch(opt.perturbations_per_eval, items, g.positions);
    Progress bar("occlusion", g.positions, opt.progress);
    diffs = plain_diffs(x, g, base, eval, per, bar, ws);
  }

  AttributionResult r;
  const Workspace* on = ctx ? &ws : nullptr;  // results where the workspace allocates
  r.attribution = Tensor::zeros(x.shape(), on);
  Tensor counts = Tensor::zeros(Shape{g.numel}, on);
  const Tensor d = diffs.to(ws.device(), &ws);  // host diffs go over once
  occlusion_scatter(d.device_data(), items, g, r.attribution.device_data(), counts.device_data(), ctx);
  occlusion_divide(r.attribution.device_data(), items, g.numel, counts.device_data(), ctx);
  r.output = eval.output();
  r.target = eval.classes();
  return r;
}

}  // namespace backlight
