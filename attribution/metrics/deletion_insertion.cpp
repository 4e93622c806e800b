#include "attribution/metrics/deletion_insertion.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "engine/error.h"

namespace backlight {

std::vector<std::vector<float>> channel_sum(const Tensor& a) {
  BL_CHECK_SHAPE(a.dim() == 4, "channel_sum: expected attributions [N, C, H, W], got ", a.shape());
  const int64_t n = a.size(0), c = a.size(1), hw = a.size(2) * a.size(3);
  std::vector<std::vector<float>> out(static_cast<size_t>(n), std::vector<float>(static_cast<size_t>(hw), 0.0f));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch) {
      const float* p = a.data() + (i * c + ch) * hw;
      for (int64_t j = 0; j < hw; ++j) out[i][j] += p[j];
    }
  return out;
}

std::vector<int64_t> rank_pixels(const std::vector<float>& s) {
  std::vector<int64_t> idx(s.size());
  std::iota(idx.begin(), idx.end(), 0);
  std::stable_sort(idx.begin(), idx.end(), [&](int64_t a, int64_t b) { return s[a] > s[b]; });
  return idx;
}

Tensor gaussian_blur(const Tensor& images, float sigma) {
  BL_CHECK_SHAPE(images.dim() == 4, "gaussian_blur: expected images [N, C, H, W], got ", images.shape());
  BL_CHECK(sigma > 0.0f, "gaussian_blur: expected sigma > 0, got ", sigma);
  const int64_t planes = images.size(0) * images.size(1), h = images.size(2), w = images.size(3);
  const int64_t r = static_cast<int64_t>(std::ceil(3.0f * sigma));
  std::vector<float> k(static_cast<size_t>(2 * r + 1));
  double z = 0;
  for (int64_t i = -r; i <= r; ++i) z += k[i + r] = std::exp(-0.5f * static_cast<float>(i * i) / (sigma * sigma));
  for (float& v : k) v = static_cast<float>(v / z);
  Tensor tmp = Tensor::empty(images.shape()), out = Tensor::empty(images.shape());
  for (int64_t p = 0; p < planes; ++p) {
    const float* src = images.data() + p * h * w;
    float* t = tmp.data() + p * h * w;
    float* o = out.data() + p * h * w;
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        float acc = 0;
        for (int64_t i = -r; i <= r; ++i) acc += k[i + r] * src[y * w + std::clamp<int64_t>(x + i, 0, w - 1)];
        t[y * w + x] = acc;
      }
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        float acc = 0;
        for (int64_t i = -r; i <= r; ++i) acc += k[i + r] * t[std::clamp<int64_t>(y + i, 0, h - 1) * w + x];
        o[y * w + x] = acc;
      }
  }
  return out;
}

namespace {

// Per-item [C, H, W] view of a baseline given as [N, C, H, W] or [C, H, W].
const float* baseline_item(const Tensor& b, const Tensor& inputs, int64_t i, const char* what) {
  const int64_t per = inputs.numel() / inputs.size(0);
  if (b.shape() == inputs.shape()) return b.data() + i * per;
  BL_CHECK_SHAPE(b.dim() == 3 && b.numel() == per, "pixel curve: expected the ", what, " [N, C, H, W] or [C, H, W] ",
                 "matching the inputs ", inputs.shape(), ", got ", b.shape());
  return b.data();
}

// One curve per item: from `start` move pixels (in rank order) to `end`.
PixelCurve run_curve(const Module& model, const Tensor& inputs, const Tensor& attributions, const Target& target,
                     const PixelCurveOptions& o, bool deletion) {
  BL_CHECK_SHAPE(inputs.dim() == 4, "pixel curve: expected inputs [N, C, H, W], got ", inputs.shape());
  BL_CHECK_SHAPE(attributions.dim() == 4 && attributions.size(0) == inputs.size(0) &&
                     attributions.size(2) == inputs.size(2) && attributions.size(3) == inputs.size(3),
                 "pixel curve: expected attributions [", inputs.size(0), ", C, ", inputs.size(2), ", ", inputs.size(3),
                 "], got ", attributions.shape());
  BL_CHECK(o.step >= 0, "pixel curve: expected step >= 0, got ", o.step);
  const int64_t n = inputs.size(0), c = inputs.size(1), hw = inputs.size(2) * inputs.size(3), per = c * hw;
  const int64_t step = o.step > 0 ? o.step : std::max<int64_t>(1, (hw + 63) / 64);
  const int64_t k_steps = (hw + step - 1) / step;
  const std::vector<int64_t> classes = metrics::resolve_classes(model, inputs, target);
  const std::vector<std::vector<float>> sal = channel_sum(attributions);

  Tensor other;  // deletion: the baseline; insertion: the start image
  if (deletion) {
    other = o.deletion_baseline.defined() ? o.deletion_baseline : Tensor::full(inputs.shape(), o.deletion_value);
  } else if (o.insertion_baseline.defined()) {
    other = o.insertion_baseline;
  } else {
    other = o.insertion_start == InsertionStart::Blur ? gaussian_blur(inputs, o.blur_sigma) : Tensor::zeros(inputs.shape());
  }

  PixelCurve res;
  res.curve = Tensor::empty(Shape{n, k_steps + 1});
  res.auc = Tensor::empty(Shape{n});
  for (int64_t k = 0; k <= k_steps; ++k)
    res.fraction.push_back(static_cast<float>(std::min(k * step, hw)) / static_cast<float>(hw));
  const int64_t chunk = o.batch > 0 ? std::min(o.batch, k_steps + 1) : k_steps + 1;
  std::vector<int64_t> dims = inputs.shape().to_vector();
  dims[0] = chunk;
  Tensor rows = Tensor::empty(Shape(dims));
  std::vector<float> cur(static_cast<size_t>(per));
  for (int64_t i = 0; i < n; ++i) {
    const float* x = inputs.data() + i * per;
    const float* b = baseline_item(other, inputs, i, deletion ? "deletion baseline" : "insertion baseline");
    const float* from = deletion ? x : b;
    const float* to = deletion ? b : x;
    std::copy(from, from + per, cur.begin());
    const std::vector<int64_t> order = rank_pixels(sal[i]);
    const Target one = target.is_function() ? target : Target::index(classes[i]);
    const std::vector<int64_t> cls = target.is_function() ? std::vector<int64_t>{} : std::vector<int64_t>{classes[i]};
    int64_t filled = 0, begin = 0, moved = 0;
    for (int64_t k = 0; k <= k_steps; ++k) {
      for (; moved < std::min(k * step, hw); ++moved)
        for (int64_t ch = 0; ch < c; ++ch) cur[ch * hw + order[moved]] = to[ch * hw + order[moved]];
      std::copy(cur.begin(), cur.end(), rows.data() + filled * per);
      if (++filled == chunk || k == k_steps) {
        const Tensor v = metrics::row_scores(model, rows.slice_batch(0, filled), one, cls, filled, o.score, 0);
        std::copy(v.data(), v.data() + filled, res.curve.data() + i * (k_steps + 1) + begin);
        begin += filled;
        filled = 0;
      }
    }
    double auc = 0;
    const float* cv = res.curve.data() + i * (k_steps + 1);
    for (int64_t k = 0; k < k_steps; ++k)
      auc += 0.5 * (static_cast<double>(cv[k]) + cv[k + 1]) * (res.fraction[k + 1] - res.fraction[k]);
    res.auc.data()[i] = static_cast<float>(auc);
  }
  return res;
}

}  // namespace

PixelCurve deletion_curve(const Module& model, const Tensor& inputs, const Tensor& attributions, const Target& target,
                          const PixelCurveOptions& options) {
  return run_curve(model, inputs, attributions, target, options, true);
}

PixelCurve insertion_curve(const Module& model, const Tensor& inputs, const Tensor& attributions, const Target& target,
                           const PixelCurveOptions& options) {
  return run_curve(model, inputs, attributions, target, options, false);
}

}  // namespace backlight
