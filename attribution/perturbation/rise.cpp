// RISE: masks are generated per batch from Philox draws (cells and shift of mask i), applied to
// every item, scored in one inference forward per batch, and accumulated in double.
#include "attribution/perturbation/rise.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "attribution/core/limits.h"
#include "attribution/core/pass.h"
#include "attribution/perturbation/perturbation.h"
#include "engine/error.h"
#include "engine/parallel.h"
#include "engine/philox.h"

namespace backlight {

namespace {

// Mask `index` into out[H*W]: cells -> bilinear upsample to (cells+1)*cell size -> shifted crop.
void fill_mask(float* out, int64_t h, int64_t w, int cells, float p, uint64_t seed, int64_t index) {
  const int64_t ch = (h + cells - 1) / cells, cw = (w + cells - 1) / cells;
  const int64_t up_h = (cells + 1) * ch, up_w = (cells + 1) * cw;
  const uint64_t i = static_cast<uint64_t>(index);
  std::vector<float> grid(static_cast<size_t>(cells) * cells);
  for (size_t c = 0; c < grid.size(); ++c)
    grid[c] = philox::uniform(seed, perturbation_stream::kRiseGrid, i * grid.size() + c) < p ? 1.0f : 0.0f;
  const int64_t dy = std::min<int64_t>(
      ch - 1, static_cast<int64_t>(philox::uniform(seed, perturbation_stream::kRiseShift, 2 * i) * ch));
  const int64_t dx = std::min<int64_t>(
      cw - 1, static_cast<int64_t>(philox::uniform(seed, perturbation_stream::kRiseShift, 2 * i + 1) * cw));
  // align_corners = false: source coordinate (t + 0.5) * cells / up - 0.5, clamped to the grid.
  auto coord = [cells](int64_t t, int64_t up, int64_t& a, int64_t& b, float& frac) {
    const double f = std::max(0.0, (t + 0.5) * cells / static_cast<double>(up) - 0.5);
    a = std::min<int64_t>(static_cast<int64_t>(f), cells - 1);
    b = std::min<int64_t>(a + 1, cells - 1);
    frac = static_cast<float>(f - a);
  };
  std::vector<int64_t> x0(w), x1(w);
  std::vector<float> lx(w);
  for (int64_t x = 0; x < w; ++x) coord(x + dx, up_w, x0[x], x1[x], lx[x]);
  for (int64_t y = 0; y < h; ++y) {
    int64_t y0, y1;
    float ly;
    coord(y + dy, up_h, y0, y1, ly);
    const float* r0 = grid.data() + y0 * cells;
    const float* r1 = grid.data() + y1 * cells;
    for (int64_t x = 0; x < w; ++x)
      out[y * w + x] =
          (1 - ly) * ((1 - lx[x]) * r0[x0[x]] + lx[x] * r0[x1[x]]) + ly * ((1 - lx[x]) * r1[x0[x]] + lx[x] * r1[x1[x]]);
  }
}

void check_rise(int64_t h, int64_t w, int cells, float p) {
  BL_CHECK(cells >= 1 && cells <= std::min(h, w), "rise: expected 1 <= cells <= min(H, W) = ", std::min(h, w), ", got ",
           cells);
  BL_CHECK(p > 0 && p <= 1, "rise: expected keep_probability in (0, 1], got ", p);
}

}  // namespace

Tensor rise_mask(int64_t height, int64_t width, int cells, float keep_probability, uint64_t seed, int64_t index) {
  check_rise(height, width, cells, keep_probability);
  Tensor m = Tensor::empty(Shape{height, width});
  fill_mask(m.data(), height, width, cells, keep_probability, seed, index);
  return m;
}

AttributionResult rise(const Module& model, const Tensor& inputs, const Target& target, const RiseOptions& opt) {
  check_perturbation_inputs(inputs, "rise");
  BL_CHECK_SHAPE(inputs.dim() >= 3, "rise: expected inputs [N, ..., H, W] with two spatial axes, got ", inputs.shape());
  BL_CHECK(opt.masks >= 1, "rise: expected masks >= 1, got ", opt.masks);
  check_count_limit("rise", "masks", "--samples", opt.masks, kMaxSamples);
  const int64_t items = inputs.size(0), h = inputs.size(-2), w = inputs.size(-1), hw = h * w;
  const int64_t planes = inputs.numel() / items / hw, numel = planes * hw;
  check_rise(h, w, opt.cells, opt.keep_probability);
  std::unique_ptr<Workspace> local;
  const Workspace& ws = pick_workspace(opt.workspace, local);
  Tensor base_storage;
  const BaselineRef base = baseline_ref(opt.baseline, inputs, base_storage);
  const RowEvaluator eval(model, inputs, target, ws);

  const int64_t total = opt.masks;
  const int64_t per = perturbations_per_batch(opt.masks_per_eval, items, total);
  std::vector<double> sal(static_cast<size_t>(items * hw), 0.0);
  std::vector<float> masks(static_cast<size_t>(per * hw));
  Progress bar("rise", total, opt.progress);
  for (int64_t i0 = 0; i0 < total; i0 += per) {
    const int64_t count = std::min(per, total - i0);
    parallel_for(count, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i)
        fill_mask(masks.data() + i * hw, h, w, opt.cells, opt.keep_probability, opt.seed, i0 + i);
    });
    Tensor rows = Tensor::empty(with_batch(inputs.shape(), count * items), &ws);
    parallel_for(count * items, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t r = lo; r < hi; ++r) {
        const int64_t i = r / items, n = r % items;
        const float* m = masks.data() + i * hw;
        const float* x = inputs.data() + n * numel;
        float* row = rows.data() + r * numel;
        for (int64_t e = 0; e < numel; ++e) {
          const float b = base.data ? base.data[n * base.item_stride + e] : base.value;
          row[e] = x[e] * m[e % hw] + b * (1.0f - m[e % hw]);
        }
      }
    });
    const Tensor v = eval.values(rows);
    parallel_for(hw, 1024, [&](int64_t lo, int64_t hi) {
      for (int64_t i = 0; i < count; ++i)
        for (int64_t n = 0; n < items; ++n) {
          const double s = v.data()[i * items + n];
          const float* m = masks.data() + i * hw;
          double* acc = sal.data() + n * hw;
          for (int64_t p = lo; p < hi; ++p) acc[p] += s * m[p];
        }
    });
    bar.advance(count);
  }
  bar.finish();

  std::vector<int64_t> dims(static_cast<size_t>(inputs.dim()), 1);
  dims[0] = items;
  dims[dims.size() - 2] = h;
  dims[dims.size() - 1] = w;
  AttributionResult r;
  r.attribution = Tensor::empty(Shape(dims));
  const double norm = 1.0 / (static_cast<double>(total) * opt.keep_probability);
  for (int64_t i = 0; i < items * hw; ++i) r.attribution.data()[i] = static_cast<float>(sal[i] * norm);
  r.output = eval.output();
  r.target = eval.classes();
  return r;
}

}  // namespace backlight
