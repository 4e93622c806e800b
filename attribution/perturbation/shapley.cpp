// Shapley value sampling: all permutation steps of all samples form one long list of rows
// (step-major, N items per step), evaluated in batches; the credits are differences of
// consecutive steps, accumulated in double once every value is known.
#include "attribution/perturbation/shapley.h"

#include <algorithm>
#include <memory>

#include "attribution/core/limits.h"
#include "attribution/core/pass.h"
#include "attribution/perturbation/perturbation.h"
#include "engine/error.h"
#include "engine/parallel.h"

namespace backlight {

AttributionResult shapley_value_sampling(const Module& model, const Tensor& inputs, const Target& target,
                                         const ShapleyValueSamplingOptions& opt) {
  check_perturbation_inputs(inputs, "shapley_value_sampling");
  BL_CHECK(opt.samples >= 1, "shapley_value_sampling: expected samples >= 1 permutations, got ", opt.samples);
  check_count_limit("shapley_value_sampling", "samples", "--samples", opt.samples, kMaxSamples);
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  const FeatureGroups groups = groups_or_elements(opt.feature_mask, inputs, "shapley_value_sampling");
  const Tensor base = make_baseline(opt.baseline, inputs);
  require_finite(base, "shapley_value_sampling baseline");
  const RowEvaluator eval(model, inputs, target, ws);
  const int64_t items = inputs.size(0), numel = groups.numel;
  const int32_t features = static_cast<int32_t>(groups.present.size());
  const int64_t samples = opt.samples;

  // rank[s][id - min_id]: position of feature id in permutation s.
  const int64_t span = static_cast<int64_t>(groups.max_id) - groups.min_id + 1;
  std::vector<std::vector<int32_t>> order(static_cast<size_t>(samples));
  std::vector<int32_t> rank(static_cast<size_t>(samples * span), -1);
  for (int64_t s = 0; s < samples; ++s) {
    const std::vector<int32_t> p =
        philox_permutation(features, opt.seed, perturbation_stream::kShapley, static_cast<uint64_t>(s));
    for (int32_t k = 0; k < features; ++k) {
      order[s].push_back(groups.present[p[k]]);
      rank[s * span + groups.present[p[k]] - groups.min_id] = k;
    }
  }

  // Step (s, k) for k < features - 1: the baseline with the first k + 1 features of permutation s
  // taken from the input. vals[(s*features + k)*N + n]; k = features - 1 is the input itself.
  const int64_t steps_per_sample = features - 1, steps = samples * steps_per_sample;
  const Tensor fb = eval.values(base);
  std::vector<float> vals(static_cast<size_t>(samples * features * items));
  for (int64_t s = 0; s < samples; ++s)
    std::copy(eval.initial().data(), eval.initial().data() + items, vals.begin() + ((s + 1) * features - 1) * items);
  const int64_t per = perturbations_per_batch(opt.perturbations_per_eval, items, std::max<int64_t>(steps, 1));
  Progress bar("shapley_value_sampling", steps, opt.progress);
  for (int64_t t0 = 0; t0 < steps; t0 += per) {
    const int64_t count = std::min(per, steps - t0);
    Tensor rows = Tensor::empty(with_batch(inputs.shape(), count * items), &ws);
    parallel_for(count * items, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const int64_t t = t0 + r / items, n = r % items;
        const int64_t s = t / steps_per_sample, k = t % steps_per_sample;
        const int32_t* ids = groups.item(n);
        const int32_t* rk = rank.data() + s * span;
        const float* x = inputs.data() + n * numel;
        const float* b = base.data() + n * numel;
        float* row = rows.data() + r * numel;
        for (int64_t e = 0; e < numel; ++e) row[e] = rk[ids[e] - groups.min_id] <= k ? x[e] : b[e];
      }
    });
    const Tensor v = eval.values(rows);
    for (int64_t r = 0; r < count * items; ++r) {
      const int64_t t = t0 + r / items, n = r % items;
      vals[((t / steps_per_sample) * features + t % steps_per_sample) * items + n] = v.data()[r];
    }
    bar.advance(count);
  }
  bar.finish();

  // phi[(id - min_id)*N + n] = mean over permutations of the step differences (double).
  std::vector<double> phi(static_cast<size_t>(span * items), 0.0);
  for (int64_t s = 0; s < samples; ++s)
    for (int32_t k = 0; k < features; ++k)
      for (int64_t n = 0; n < items; ++n) {
        const double prev = k == 0 ? fb.data()[n] : vals[(s * features + k - 1) * items + n];
        phi[(order[s][k] - groups.min_id) * items + n] += vals[(s * features + k) * items + n] - prev;
      }
  Tensor values = Tensor::empty(Shape{span, items});
  AttributionResult r;
  r.delta = Tensor::empty(Shape{items});
  std::vector<double> total(static_cast<size_t>(items), 0.0);
  for (int64_t i = 0; i < span * items; ++i) {
    values.data()[i] = static_cast<float>(phi[i] / static_cast<double>(samples));
    total[i % items] += phi[i] / static_cast<double>(samples);
  }
  for (int64_t n = 0; n < items; ++n)
    r.delta.data()[n] = static_cast<float>(total[n] - (static_cast<double>(eval.initial().data()[n]) - fb.data()[n]));
  r.attribution = scatter_features(values, groups, inputs.shape());
  r.output = eval.output();
  r.target = eval.classes();
  return r;
}

}  // namespace backlight
