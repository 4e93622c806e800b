// FeatureAblation and FeaturePermutation: one forward per batch of feature groups; the per-group
// differences go back onto the elements with mask_scatter. FeatureAblation runs where the
// workspace allocates (ablation_diffs and scatter_features dispatch the kernels): on CUDA the
// ablated batches, the forwards and the scatter stay on the device; per batch only the target
// values come back, and the mask ids and the [F, N] differences go over once each.
#include <algorithm>
#include <memory>

#include "attribution/perturbation/feature_ablation.h"
#include "attribution/core/pass.h"
#include "attribution/perturbation/perturbation.h"
#include "engine/error.h"
#include "engine/parallel.h"

namespace backlight {

AttributionResult feature_ablation(const Module& model, const Tensor& inputs, const Target& target,
                                   const FeatureAblationOptions& opt) {
  check_perturbation_inputs(inputs, "feature_ablation");
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  const Tensor x = inputs.to(ws.device(), &ws);  // the same tensor unless host inputs meet a CUDA workspace
  const Tensor mask = opt.feature_mask.defined() ? opt.feature_mask.to_cpu() : Tensor();  // ids are read on the host
  const FeatureGroups groups = groups_or_elements(mask, x, "feature_ablation");
  Tensor base_storage;
  const BaselineRef base = baseline_ref(opt.baseline, x, base_storage, &ws);
  const RowEvaluator eval(model, x, target, ws);
  const int64_t features = static_cast<int64_t>(groups.present.size());
  const int64_t per = perturbations_per_batch(opt.perturbations_per_eval, x.size(0), features);

  Progress bar("feature_ablation", features, opt.progress);
  const Tensor diffs = ablation_diffs(
      x, groups, base, per, [&](const Tensor& rows) { return eval.values(rows); }, eval.initial(), bar, ws);
  bar.finish();
  AttributionResult r;
  r.attribution = scatter_features(diffs, groups, x.shape(), &ws);
  r.output = eval.output();
  r.target = eval.classes();
  return r;
}

namespace {

// A random permutation of the N items that is not the identity (Captum redraws until it is not);
// attempt a of feature id uses Philox key (id, a), so the draw depends on nothing else.
std::vector<int32_t> non_identity_permutation(int64_t items, int32_t id, uint64_t seed) {
  for (uint64_t attempt = 0;; ++attempt) {
    std::vector<int32_t> p = philox_permutation(static_cast<int32_t>(items), seed, perturbation_stream::kPermutation,
                                                (attempt << 32) | static_cast<uint32_t>(id));
    for (int64_t n = 0; n < items; ++n)
      if (p[n] != n) return p;
  }
}

}  // namespace

AttributionResult feature_permutation(const Module& model, const Tensor& inputs, const Target& target,
                                      const FeaturePermutationOptions& opt) {
  check_perturbation_inputs(inputs, "feature_permutation");
  const int64_t items = inputs.size(0);
  BL_CHECK(items >= 2, "feature_permutation: permuting features across the batch needs at least 2 inputs, got ",
           inputs.shape());
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  const FeatureGroups groups = groups_or_elements(opt.feature_mask, inputs, "feature_permutation");
  BL_CHECK_SHAPE(groups.mask_items == 1, "feature_permutation: expected one feature mask shared by all items ([1, ...]",
                 " or without the batch axis), got ", opt.feature_mask.shape(),
                 " (the same features are permuted in every item)");
  const RowEvaluator eval(model, inputs, target, ws);
  const auto& ids = groups.present;
  const int64_t features = static_cast<int64_t>(ids.size()), numel = groups.numel;
  const int64_t per = perturbations_per_batch(opt.perturbations_per_eval, items, features);
  const int32_t* mask = groups.item(0);

  Tensor diffs = Tensor::zeros(Shape{static_cast<int64_t>(groups.max_id) - groups.min_id + 1, items});
  Progress bar("feature_permutation", features, opt.progress);
  for (int64_t k0 = 0; k0 < features; k0 += per) {
    const int64_t count = std::min(per, features - k0);
    Tensor rows = Tensor::empty(with_batch(inputs.shape(), count * items), &ws);
    parallel_for(count, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t k = lo; k < hi; ++k) {
        const int32_t id = ids[k0 + k];
        const std::vector<int32_t> perm = non_identity_permutation(items, id, opt.seed);
        for (int64_t n = 0; n < items; ++n) {
          const float* x = inputs.data() + n * numel;
          const float* src = inputs.data() + perm[n] * numel;
          float* row = rows.data() + (k * items + n) * numel;
          for (int64_t e = 0; e < numel; ++e) row[e] = mask[e] == id ? src[e] : x[e];
        }
      }
    });
    const Tensor v = eval.values(rows);
    for (int64_t k = 0; k < count; ++k)
      for (int64_t n = 0; n < items; ++n)
        diffs.data()[(ids[k0 + k] - groups.min_id) * items + n] = eval.initial().data()[n] - v.data()[k * items + n];
    bar.advance(count);
  }
  bar.finish();
  AttributionResult r;
  r.attribution = scatter_features(diffs, groups, inputs.shape());
  r.output = eval.output();
  r.target = eval.classes();
  return r;
}

}  // namespace backlight
