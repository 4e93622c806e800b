// LIME and KernelSHAP share one loop: draw coalitions, build the perturbed rows in batches,
// evaluate, then fit one surrogate per item (in parallel) and spread its coefficients over the
// item's feature groups. They differ only in the coalition draw and the sample weight.
#include "attribution/perturbation/lime.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <memory>
#include <unordered_map>

#include "attribution/core/limits.h"
#include "attribution/core/pass.h"
#include "attribution/perturbation/perturbation.h"
#include "engine/error.h"
#include "engine/parallel.h"
#include "engine/philox.h"

namespace backlight {

namespace {

// One item's interpretable features: compact ids 0 .. count-1 per element.
struct ItemFeatures {
  std::vector<int32_t> local;
  int32_t count = 0;
};

std::vector<ItemFeatures> item_features(const FeatureGroups& g, int64_t items) {
  std::vector<ItemFeatures> out(static_cast<size_t>(items));
  for (int64_t n = 0; n < items; ++n) {
    if (n > 0 && g.mask_items == 1) {
      out[n] = out[0];
      continue;
    }
    const int32_t* ids = g.item(n);
    std::vector<int32_t> distinct(ids, ids + g.numel);
    std::sort(distinct.begin(), distinct.end());
    distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
    std::unordered_map<int32_t, int32_t> index;
    for (size_t i = 0; i < distinct.size(); ++i) index[distinct[i]] = static_cast<int32_t>(i);
    out[n].local.resize(static_cast<size_t>(g.numel));
    for (int64_t e = 0; e < g.numel; ++e) out[n].local[e] = index[ids[e]];
    out[n].count = static_cast<int32_t>(distinct.size());
  }
  return out;
}

FeatureGroups interpretable_groups(const InterpretableFeatures& f, const Tensor& inputs, const char* who) {
  if (f.feature_mask.defined()) return feature_groups(f.feature_mask, inputs, who);
  if (inputs.dim() == 4 && f.segmentation != Segmentation::Elements)
    return feature_groups(segment_images(inputs, f.segmentation, f.slic), inputs, who);
  return element_groups(inputs.numel() / inputs.size(0));
}

uint64_t item_stream(uint64_t base, int64_t n) { return base ^ (static_cast<uint64_t>(n) * 0x9E3779B97F4A7C15ull); }

// Fills z[0..m) for sample k of item n.
using CoalitionFn = std::function<void(int64_t n, int64_t k, int32_t m, float* z)>;
// Sample weight from the coalition, the input item and the perturbed row.
using WeightFn = std::function<float(const float* z, int32_t m, const float* x, const float* row, int64_t numel)>;

struct SurrogateSpec {
  const char* who;
  int samples;
  int perturbations_per_eval;
  Surrogate kind;
  double alpha;
};

AttributionResult fit_coalitions(const Module& model, const Tensor& inputs, const Target& target,
                                 const InterpretableFeatures& features, const Baseline& baseline,
                                 const SurrogateSpec& spec, const CoalitionFn& coalition, const WeightFn& weight,
                                 const ProgressOptions& progress, const Workspace* given_ws) {
  check_perturbation_inputs(inputs, spec.who);
  BL_CHECK(spec.samples >= 1, spec.who, ": expected samples >= 1, got ", spec.samples);
  check_count_limit(spec.who, "samples", "--samples", spec.samples, kMaxSamples);
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(given_ws, local);
  const FeatureGroups groups = interpretable_groups(features, inputs, spec.who);
  const int64_t items = inputs.size(0), numel = groups.numel, samples = spec.samples;
  const std::vector<ItemFeatures> feats = item_features(groups, items);
  const Tensor base = make_baseline(baseline, inputs);
  require_finite(base, spec.who);
  const RowEvaluator eval(model, inputs, target, ws);

  // Per item: coalitions z [S, M_n], values y [S], weights w [S].
  std::vector<std::vector<float>> z(items), y(items), w(items);
  for (int64_t n = 0; n < items; ++n) {
    z[n].resize(static_cast<size_t>(samples * feats[n].count));
    y[n].resize(static_cast<size_t>(samples));
    w[n].resize(static_cast<size_t>(samples));
  }
  const int64_t per = perturbations_per_batch(spec.perturbations_per_eval, items, samples);
  Progress bar(spec.who, samples, progress);
  for (int64_t k0 = 0; k0 < samples; k0 += per) {
    const int64_t count = std::min(per, samples - k0);
    Tensor rows = Tensor::empty(with_batch(inputs.shape(), count * items), &ws);
    parallel_for(count * items, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const int64_t k = k0 + r / items, n = r % items;
        const int32_t m = feats[n].count;
        float* zk = z[n].data() + k * m;
        coalition(n, k, m, zk);
        const float* x = inputs.data() + n * numel;
        const float* b = base.data() + n * numel;
        const int32_t* loc = feats[n].local.data();
        float* row = rows.data() + r * numel;
        for (int64_t e = 0; e < numel; ++e) row[e] = zk[loc[e]] != 0.0f ? x[e] : b[e];
        w[n][k] = weight(zk, m, x, row, numel);
      }
    });
    const Tensor v = eval.values(rows);
    for (int64_t r = 0; r < count * items; ++r) y[r % items][k0 + r / items] = v.data()[r];
    bar.advance(count);
  }
  bar.finish();

  AttributionResult r;
  r.attribution = Tensor::empty(inputs.shape());
  r.delta = Tensor::empty(Shape{items});
  parallel_for(items, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t n = lo; n < hi; ++n) {
      const SurrogateFit fit = fit_surrogate(spec.kind, z[n], samples, feats[n].count, y[n], w[n], spec.alpha);
      double total = fit.intercept;
      for (double c : fit.coef) total += c;
      r.delta.data()[n] = static_cast<float>(total - eval.initial().data()[n]);
      for (int64_t e = 0; e < numel; ++e)
        r.attribution.data()[n * numel + e] = static_cast<float>(fit.coef[feats[n].local[e]]);
    }
  });
  r.output = eval.output();
  r.target = eval.classes();
  return r;
}

}  // namespace

AttributionResult lime(const Module& model, const Tensor& inputs, const Target& target, const LimeOptions& opt) {
  BL_CHECK(opt.kernel_width > 0, "lime: expected kernel_width > 0, got ", opt.kernel_width);
  auto coalition = [&](int64_t n, int64_t k, int32_t m, float* z) {
    const uint64_t stream = item_stream(perturbation_stream::kLime, n);
    for (int32_t j = 0; j < m; ++j)
      z[j] = philox::uniform(opt.seed, stream, static_cast<uint64_t>(k) * m + j) < 0.5f ? 1.0f : 0.0f;
  };
  const double width2 = 2.0 * double(opt.kernel_width) * opt.kernel_width;
  auto weight = [&](const float*, int32_t, const float* x, const float* row, int64_t numel) {
    double d;
    if (opt.distance == LimeDistance::Cosine) {
      // torch CosineSimilarity(dim=0, eps=1e-8): x.y / sqrt(max(|x|^2 |y|^2, eps^2))
      double dot = 0, xx = 0, yy = 0;
      for (int64_t e = 0; e < numel; ++e)
        dot += double(x[e]) * row[e], xx += double(x[e]) * x[e], yy += double(row[e]) * row[e];
      d = 1.0 - dot / std::sqrt(std::max(xx * yy, 1e-16));
    } else {
      double s = 0;
      for (int64_t e = 0; e < numel; ++e) s += (double(x[e]) - row[e]) * (double(x[e]) - row[e]);
      d = std::sqrt(s);
    }
    return static_cast<float>(std::exp(-d * d / width2));
  };
  return fit_coalitions(model, inputs, target, opt.features, opt.baseline,
                        {"lime", opt.samples, opt.perturbations_per_eval, opt.surrogate, opt.alpha}, coalition, weight,
                        opt.progress, opt.workspace);
}

AttributionResult kernel_shap(const Module& model, const Tensor& inputs, const Target& target,
                              const KernelShapOptions& opt) {
  auto coalition = [&](int64_t n, int64_t k, int32_t m, float* z) {
    // Anchors first (Captum: ones, then zeros); with one feature there is nothing else to draw.
    if (k < 2 || m == 1) {
      std::fill(z, z + m, (k % 2 == 0) ? 1.0f : 0.0f);
      return;
    }
    const uint64_t stream = item_stream(perturbation_stream::kKernelShap, n);
    const uint64_t base = static_cast<uint64_t>(k) * (static_cast<uint64_t>(m) + 1);
    // Coalition size s in 1..m-1 with P(s) proportional to (m - 1) / (s (m - s)).
    double total = 0;
    for (int32_t s = 1; s < m; ++s) total += 1.0 / (double(s) * (m - s));
    double u = philox::uniform(opt.seed, stream, base) * total;
    int32_t size = m - 1;
    for (int32_t s = 1; s < m; ++s) {
      u -= 1.0 / (double(s) * (m - s));
      if (u < 0) {
        size = s;
        break;
      }
    }
    // `size` features uniformly: a partial Fisher-Yates shuffle.
    std::vector<int32_t> idx(static_cast<size_t>(m));
    for (int32_t j = 0; j < m; ++j) idx[j] = j;
    std::fill(z, z + m, 0.0f);
    for (int32_t j = 0; j < size; ++j) {
      const float v = philox::uniform(opt.seed, stream, base + 1 + j);
      const int32_t pick = std::min<int32_t>(m - 1, j + static_cast<int32_t>(v * static_cast<float>(m - j)));
      std::swap(idx[j], idx[pick]);
      z[idx[j]] = 1.0f;
    }
  };
  auto weight = [](const float* z, int32_t m, const float*, const float*, int64_t) {
    int32_t on = 0;
    for (int32_t j = 0; j < m; ++j) on += z[j] != 0.0f;
    return on == 0 || on == m ? 1e6f : 1.0f;  // Captum's inf_weight for the anchors
  };
  return fit_coalitions(model, inputs, target, opt.features, opt.baseline,
                        {"kernel_shap", opt.samples, opt.perturbations_per_eval, Surrogate::LeastSquares, 0.0},
                        coalition, weight, opt.progress, opt.workspace);
}

}  // namespace backlight
