#include "attribution/perturbation/perturbation.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "attribution/core/pass.h"
#include "attribution/core/rows.h"
#include "engine/error.h"
#include "engine/parallel.h"
#include "kernels/dispatch.h"
#include "engine/philox.h"

namespace backlight {

FeatureGroups feature_groups(const Tensor& mask, const Tensor& inputs, const char* who) {
  BL_CHECK_SHAPE(mask.defined() && mask.dim() >= 1 && mask.dim() <= inputs.dim(), who,
                 ": expected a feature mask broadcastable to the inputs ", inputs.shape(), ", got ",
                 mask.defined() ? mask.shape().str() : std::string("no tensor"));
  const int r = inputs.dim(), off = r - mask.dim();
  // Mask dimension for input dimension d (1 when the mask has no such dimension).
  auto mdim = [&](int d) { return d < off ? int64_t{1} : mask.size(d - off); };
  for (int d = 0; d < r; ++d)
    BL_CHECK_SHAPE(mdim(d) == 1 || mdim(d) == inputs.size(d), who, ": feature mask ", mask.shape(),
                   " does not broadcast to the inputs ", inputs.shape(), " (dimension ", d, " of the inputs: mask ",
                   mdim(d), ", inputs ", inputs.size(d), "; each mask dimension must be 1 or equal)");
  FeatureGroups g;
  g.mask_items = mdim(0);
  g.numel = inputs.numel() / inputs.size(0);
  // Row-major strides of the mask, 0 along broadcast dimensions.
  std::vector<int64_t> stride(r, 0);
  int64_t s = 1;
  for (int d = r - 1; d >= off; --d) {
    stride[d] = mdim(d) == 1 ? 0 : s;
    s *= mdim(d);
  }
  g.ids.resize(static_cast<size_t>(g.mask_items * g.numel));
  const float* m = mask.data();
  for (int64_t n = 0; n < g.mask_items; ++n)
    for (int64_t e = 0; e < g.numel; ++e) {
      int64_t rest = e, src = n * stride[0];
      for (int d = r - 1; d >= 1; --d) {
        src += (rest % inputs.size(d)) * stride[d];
        rest /= inputs.size(d);
      }
      const float v = m[src];
      BL_CHECK(std::isfinite(v) && v == std::floor(v) && std::fabs(v) < 16777216.0f, who,
               ": feature mask values must be integer ids, got ", v, " at mask element ", src);
      g.ids[n * g.numel + e] = static_cast<int32_t>(v);
    }
  const std::set<int32_t> distinct(g.ids.begin(), g.ids.end());
  g.present.assign(distinct.begin(), distinct.end());
  g.min_id = g.present.front();
  g.max_id = g.present.back();
  return g;
}

FeatureGroups element_groups(int64_t numel) {
  BL_CHECK(numel <= (int64_t{1} << 31) - 1, "feature groups: ", numel, " elements per item exceed the int32 ids");
  FeatureGroups g;
  g.numel = numel;
  g.ids.resize(static_cast<size_t>(numel));
  for (int64_t e = 0; e < numel; ++e) g.ids[e] = static_cast<int32_t>(e);
  g.present = g.ids;
  g.min_id = 0;
  g.max_id = static_cast<int32_t>(numel - 1);
  return g;
}

FeatureGroups groups_or_elements(const Tensor& mask, const Tensor& inputs, const char* who) {
  return mask.defined() ? feature_groups(mask, inputs, who) : element_groups(inputs.numel() / inputs.size(0));
}

RowEvaluator::RowEvaluator(const Module& model, const Tensor& inputs, const Target& target, const Workspace& ws)
    : model_(model), target_(target), ws_(ws), items_(inputs.size(0)) {
  // The output and the target values live on the host (a copy of the logits on CUDA).
  const Tensor out = forward(inputs);
  output_ = out.is_cuda() ? out.to_cpu() : out.clone();
  if (target.is_function()) {
    initial_ = target_rows(output_, target, {});
  } else {
    classes_ = target.resolve(output_);
    initial_ = target_rows(output_, target, classes_);
  }
  BL_CHECK_SHAPE(initial_.numel() == items_, "perturbation methods: expected one target value per item (", items_,
                 "), got ", initial_.numel());
}

Tensor split_rows(int64_t rows, const std::function<Tensor(int64_t, int64_t)>& fn, const Workspace& ws) {
  const int64_t parts = std::min<int64_t>(num_threads(), rows);
  if (parts <= 1 || in_parallel_region() || ws.cuda_context()) return fn(0, rows);  // a device: one batch
  std::vector<Tensor> outs(static_cast<size_t>(parts));
  parallel_for(parts, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) outs[p] = fn(rows * p / parts, rows * (p + 1) / parts);
  });
  std::vector<int64_t> d = outs[0].shape().to_vector();
  d[0] = rows;
  Tensor out = Tensor::empty(Shape(d), &ws);
  int64_t offset = 0;
  for (const Tensor& o : outs) {
    std::copy(o.data(), o.data() + o.numel(), out.data() + offset);
    offset += o.numel();
  }
  return out;
}

Tensor RowEvaluator::forward(const Tensor& rows) const {
  return split_rows(
      rows.size(0),
      [&](int64_t r0, int64_t r1) {
        Tape tape(TapeOptions{.record = false}, ws_);
        return model_.forward(tape.input(rows.slice_batch(r0, r1))).value();
      },
      ws_);
}

Tensor RowEvaluator::values(const Tensor& rows) const {
  BL_CHECK(rows.size(0) % items_ == 0, "perturbation methods: ", rows.size(0), " rows are not a multiple of ", items_,
           " items");
  const Tensor out = forward(rows).to_cpu();  // on CUDA the logits come back (small next to the rows)
  if (target_.is_function()) return target_rows(out, target_, {});
  return target_rows(out, target_, row_classes(classes_, rows.size(0) / items_, false));
}

int64_t perturbations_per_batch(int requested, int64_t items, int64_t total) {
  BL_CHECK(requested >= 0, "perturbations_per_eval must be >= 1 (or 0 for automatic), got ", requested);
  const int64_t p = requested > 0 ? requested : std::max<int64_t>(1, (64 + items - 1) / items);
  return std::max<int64_t>(1, std::min(p, total));
}

BaselineRef baseline_ref(const Baseline& b, const Tensor& inputs, Tensor& storage, const Workspace* ws) {
  if (b.kind == Baseline::Kind::Zero) return BaselineRef{.value = 0.0f};
  if (b.kind == Baseline::Kind::Constant) return BaselineRef{.value = b.value};
  storage = ws ? make_baseline(b, inputs, *ws) : make_baseline(b, inputs);
  require_finite(storage, "perturbation baseline");
  return BaselineRef{.data = storage.device_data(), .item_stride = inputs.numel() / inputs.size(0)};
}

Shape with_batch(const Shape& s, int64_t rows) {
  Shape out = s;
  out[0] = rows;
  return out;
}

void check_perturbation_inputs(const Tensor& inputs, const char* who) {
  BL_CHECK_SHAPE(inputs.defined() && inputs.dim() >= 2 && inputs.size(0) >= 1 && inputs.numel() > 0, who,
                 ": expected a batch of inputs [N, ...] with N >= 1, got ",
                 inputs.defined() ? inputs.shape().str() : std::string("no tensor"));
  require_finite(inputs, who);
}

Tensor ablation_diffs(const Tensor& inputs, const FeatureGroups& groups, BaselineRef baseline, int64_t per_batch,
                      const RowValuesFn& values, const Tensor& initial, Progress& bar, const Workspace& ws) {
  const int64_t items = inputs.size(0), numel = groups.numel;
  const int64_t span = static_cast<int64_t>(groups.max_id) - groups.min_id + 1;
  Tensor diffs = Tensor::zeros(Shape{span, items});
  const auto& ids = groups.present;
  cuda::Context* ctx = ws.cuda_context();  // rows built where the workspace allocates
  const auto mask_ids = ids_for(groups.ids.data(), static_cast<int64_t>(groups.ids.size()), ctx);
  const MaskRef mask{mask_ids.get(), groups.mask_items};
  for (size_t k0 = 0; k0 < ids.size(); k0 += static_cast<size_t>(per_batch)) {
    const size_t k1 = std::min(ids.size(), k0 + static_cast<size_t>(per_batch));
    const int64_t count = static_cast<int64_t>(k1 - k0);
    Tensor rows = Tensor::empty(with_batch(inputs.shape(), count * items), &ws);
    // One kernel call per run of consecutive ids (a window grid's ids are one run).
    for (int64_t k = 0; k < count;) {
      int64_t run = 1;
      while (k + run < count && ids[k0 + k + run] == ids[k0 + k] + run) ++run;
      mask_ablate(inputs.device_data(), items, numel, baseline, mask, ids[k0 + k], run,
                  rows.device_data() + k * items * numel, ctx);
      k += run;
    }
    const Tensor v = values(rows);
    for (int64_t k = 0; k < count; ++k)
      for (int64_t n = 0; n < items; ++n)
        diffs.data()[(ids[k0 + k] - groups.min_id) * items + n] = initial.data()[n] - v.data()[k * items + n];
    bar.advance(count);
  }
  return diffs;
}

Tensor scatter_features(const Tensor& values, const FeatureGroups& groups, const Shape& shape, const Workspace* ws) {
  cuda::Context* ctx = ws ? ws->cuda_context() : nullptr;
  Tensor attr = Tensor::zeros(shape, ctx ? ws : nullptr);
  const Tensor v = ctx ? values.to(Device::CUDA, ws) : values;  // [F, N]: small
  const auto mask_ids = ids_for(groups.ids.data(), static_cast<int64_t>(groups.ids.size()), ctx);
  mask_scatter(v.device_data(), v.size(0), shape[0], groups.numel, MaskRef{mask_ids.get(), groups.mask_items},
               groups.min_id, attr.device_data(), ctx);
  return attr;
}

std::vector<int64_t> default_window(const Shape& inputs) {
  std::vector<int64_t> w(static_cast<size_t>(inputs.rank() - 1), 1);
  if (inputs.rank() == 4) w = {inputs[1], (inputs[2] + 7) / 8, (inputs[3] + 7) / 8};
  return w;
}

Tensor window_grid_mask(const Shape& inputs, std::span<const int64_t> window) {
  const int r = inputs.rank() - 1;
  BL_CHECK(static_cast<int>(window.size()) == r, "feature grid: expected a window with ", r,
           " values (one per input dimension without the batch axis, inputs ", inputs, "), got ", window.size());
  std::vector<int64_t> dims{1}, cells(r);
  for (int d = 0; d < r; ++d) {
    BL_CHECK(window[d] >= 1, "feature grid: window sizes must be >= 1, got ", window[d], " in dimension ", d);
    dims.push_back(inputs[d + 1]);
    cells[d] = (inputs[d + 1] + window[d] - 1) / window[d];
  }
  Tensor m = Tensor::empty(Shape(dims));
  for (int64_t e = 0; e < m.numel(); ++e) {
    int64_t rest = e, id = 0, mult = 1;
    for (int d = r - 1; d >= 0; --d) {
      id += (rest % inputs[d + 1]) / window[d] * mult;
      mult *= cells[d];
      rest /= inputs[d + 1];
    }
    m.data()[e] = static_cast<float>(id);
  }
  return m;
}

std::vector<int32_t> philox_permutation(int32_t n, uint64_t seed, uint64_t stream_base, uint64_t key) {
  std::vector<int32_t> p(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) p[i] = i;
  const uint64_t stream = stream_base * 0x9E3779B97F4A7C15ull + key;
  for (int32_t i = n - 1; i > 0; --i) {
    const float u = philox::uniform(seed, stream, static_cast<uint64_t>(i));
    const int32_t j = std::min(i, static_cast<int32_t>(u * static_cast<float>(i + 1)));
    std::swap(p[i], p[j]);
  }
  return p;
}

}  // namespace backlight
