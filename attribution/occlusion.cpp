// Occlusion: batches of occluded copies (kernels occlude_batch), one inference forward per batch,
// then one gather of the differences over the windows and the overlap average. With
// options.incremental the differences come from incremental occlusion instead
// (attribution/incremental/): same layout, same accumulation.
#include <algorithm>
#include <memory>

#include "attribution/ablation.h"
#include "attribution/incremental/incremental_occlusion.h"
#include "attribution/pass.h"
#include "attribution/perturbation.h"
#include "engine/error.h"

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
    occlude_batch_cpu(inputs.data(), items, base, g, first, count, rows.data());
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
  const std::vector<int64_t> item(inputs.shape().dims().begin() + 1, inputs.shape().dims().end());
  const OcclusionGeometry g = occlusion_geometry(item, opt.window, opt.stride);
  Tensor base_storage;
  const BaselineRef base = baseline_ref(opt.baseline, inputs, base_storage);
  const RowEvaluator eval(model, inputs, target, ws);
  const int64_t items = inputs.size(0);

  Tensor diffs;
  if (opt.incremental != IncrementalMode::Off) {
    incremental::Recording rec = incremental::record_and_plan(model, inputs.slice_batch(0, 1), g, ws);
    if (incremental::use_plan(rec.plan, opt.incremental)) {
      // One item at a time: perturbations_per_eval positions of one item per batch (automatic:
      // about 64).
      const int64_t per = perturbations_per_batch(opt.perturbations_per_eval, 1, g.positions);
      Progress bar("occlusion", g.positions * items, opt.progress);
      diffs = incremental::occlusion_diffs(model, std::move(rec), inputs, g, base, eval, target, per, bar, ws);
    }
  }
  if (!diffs.defined()) {
    const int64_t per = perturbations_per_batch(opt.perturbations_per_eval, items, g.positions);
    Progress bar("occlusion", g.positions, opt.progress);
    diffs = plain_diffs(inputs, g, base, eval, per, bar, ws);
  }

  AttributionResult r;
  r.attribution = Tensor::zeros(inputs.shape());
  Tensor counts = Tensor::zeros(Shape{g.numel});
  occlusion_scatter_cpu(diffs.data(), items, g, r.attribution.data(), counts.data());
  occlusion_divide_cpu(r.attribution.data(), items, g.numel, counts.data());
  r.output = eval.output();
  r.target = eval.classes();
  return r;
}

}  // namespace backlight
