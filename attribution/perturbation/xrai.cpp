#include "attribution/perturbation/xrai.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "attribution/path/integrated_gradients.h"
#include "attribution/perturbation/felzenszwalb.h"
#include "attribution/registry.h"
#include "engine/error.h"

namespace backlight {

namespace {

struct Scaled {
  XraiSegmentOptions segments;
  int64_t min_pixel_diff;
};

// PAIR's constants hold at 224 x 224; area-like ones scale with H W, the radius with the side.
Scaled scaled(const XraiSegmentOptions& s, int64_t min_pixel_diff, int64_t h, int64_t w) {
  Scaled out{s, min_pixel_diff};
  if (s.reference_side <= 0) return out;
  const double f = double(h) * double(w) / (double(s.reference_side) * double(s.reference_side));
  for (double& k : out.segments.scales) k *= f;
  if (s.min_size > 0) out.segments.min_size = std::max<int64_t>(1, std::llround(double(s.min_size) * f));
  if (s.dilation_radius > 0)
    out.segments.dilation_radius = std::max(1, static_cast<int>(std::lround(s.dilation_radius * std::sqrt(f))));
  out.min_pixel_diff = std::max<int64_t>(1, std::llround(double(min_pixel_diff) * f));
  return out;
}

}  // namespace

Tensor xrai_segments(const Tensor& image, const XraiSegmentOptions& options) {
  BL_CHECK(image.shape().rank() == 3 && !image.is_cuda(), "xrai_segments: expected a host image [C, H, W], got ",
           image.shape(), image.is_cuda() ? " on CUDA" : "");
  BL_CHECK(!options.scales.empty() && options.dilation_radius >= 0,
           "xrai_segments: expected at least one scale and dilation_radius >= 0, got ", options.scales.size(),
           " scales, radius ", options.dilation_radius);
  const int64_t h = image.shape()[1], w = image.shape()[2], hw = h * w;
  const auto [mn, mx] = std::minmax_element(image.data(), image.data() + image.numel());
  const float lo = *mn, range = *mx - *mn;
  BL_CHECK(range > 0, "xrai_segments: expected an image with distinct values (max > min), got a constant ", lo);
  // PAIR's _normalize_image in float32: (im - min) / (max - min) * 2 + (-1); x 2 is exact, so no FMA issue.
  Tensor im = Tensor::empty(image.shape());
  for (int64_t i = 0; i < image.numel(); ++i) im.data()[i] = (image.data()[i] - lo) / range * 2.0f + -1.0f;
  // Disk footprint (skimage morphology.disk: x^2 + y^2 <= r^2).
  const int r = options.dilation_radius;
  std::vector<std::pair<int, int>> disk;
  for (int dy = -r; dy <= r; ++dy)
    for (int dx = -r; dx <= r; ++dx)
      if (dx * dx + dy * dy <= r * r) disk.emplace_back(dy, dx);
  std::vector<std::vector<uint8_t>> masks;
  for (double scale : options.scales) {
    const Tensor labels = felzenszwalb_segments(
        im, {.scale = scale, .sigma = options.sigma, .min_size = options.min_size});
    const int64_t k = static_cast<int64_t>(*std::max_element(labels.data(), labels.data() + hw)) + 1;
    const size_t first = masks.size();
    masks.resize(first + k, std::vector<uint8_t>(hw, 0));
    for (int64_t p = 0; p < hw; ++p) {
      std::vector<uint8_t>& m = masks[first + static_cast<int64_t>(labels.data()[p])];
      const int64_t y = p / w, x = p % w;
      for (const auto& [dy, dx] : disk) {  // dilation: out-of-image offsets add nothing (reflect = inside pixels)
        const int64_t yy = y + dy, xx = x + dx;
        if (yy >= 0 && yy < h && xx >= 0 && xx < w) m[yy * w + xx] = 1;
      }
    }
  }
  Tensor out = Tensor::empty(Shape{static_cast<int64_t>(masks.size()), h, w});
  for (size_t s = 0; s < masks.size(); ++s)
    for (int64_t p = 0; p < hw; ++p) out.data()[s * hw + p] = masks[s][p];
  return out;
}

XraiRegions xrai_regions(const Tensor& attribution, const Tensor& segments, int64_t min_pixel_diff,
                         double area_threshold) {
  const Shape& as = attribution.shape();
  BL_CHECK(!attribution.is_cuda() && !segments.is_cuda() && (as.rank() == 2 || as.rank() == 3),
           "xrai_regions: expected host tensors, attribution [C, H, W] or [H, W], got ", as);
  const int64_t h = as[-2], w = as[-1], hw = h * w, c = as.rank() == 3 ? as[0] : 1;
  BL_CHECK(segments.shape().rank() == 3 && segments.shape()[1] == h && segments.shape()[2] == w,
           "xrai_regions: expected segments [S, ", h, ", ", w, "] matching the attribution, got ", segments.shape());
  BL_CHECK(min_pixel_diff >= 1, "xrai_regions: expected min_pixel_diff >= 1, got ", min_pixel_diff);
  std::vector<double> attr(hw);
  for (int64_t p = 0; p < hw; ++p) {
    float v = attribution.data()[p];
    for (int64_t ch = 1; ch < c; ++ch) v = std::max(v, attribution.data()[ch * hw + p]);
    attr[p] = v;
  }
  const int64_t n = segments.shape()[0];
  const float* seg = segments.data();
  std::vector<int64_t> remaining(n);
  for (int64_t s = 0; s < n; ++s) remaining[s] = s;
  std::vector<uint8_t> covered(hw, 0);
  std::vector<int64_t> added_by(hw, -1);  // index into result.gains
  std::vector<double> values;
  XraiRegions result;
  double area = 0.0;
  // Gain of segment s: np.mean(attr[s & ~covered]) (pairwise sum of the pixels in row-major order).
  auto gain = [&](int64_t s, int64_t* count) {
    values.clear();
    for (int64_t p = 0; p < hw; ++p)
      if (seg[s * hw + p] != 0 && !covered[p]) values.push_back(attr[p]);
    *count = static_cast<int64_t>(values.size());
    return values.empty() ? -std::numeric_limits<double>::infinity()
                          : detail::pairwise_sum(values.data(), *count) / double(*count);
  };
  while (area <= area_threshold) {
    double best = -std::numeric_limits<double>::infinity();
    int64_t best_key = -1;
    std::vector<int64_t> kept;
    for (int64_t s : remaining) {
      int64_t count = 0;
      const double g = gain(s, &count);
      if (count < min_pixel_diff) continue;  // dropped for good, as PAIR's remove_key_queue
      kept.push_back(s);
      if (g > best) {
        best = g;
        best_key = s;
      }
    }
    remaining = kept;
    if (remaining.empty() || best_key < 0) break;
    int64_t added = 0;
    for (int64_t p = 0; p < hw; ++p)
      if (seg[best_key * hw + p] != 0 && !covered[p]) {
        covered[p] = 1;
        added_by[p] = static_cast<int64_t>(result.gains.size());
        ++added;
      }
    result.gains.push_back(best);
    result.order.push_back(best_key);
    int64_t total = 0;
    for (uint8_t v : covered) total += v;
    area = double(total) / double(hw);
    remaining.erase(std::find(remaining.begin(), remaining.end(), best_key));
  }
  // Uncovered pixels get their mean; ranks sort regions by gain (stable), the uncovered rest last.
  values.clear();
  for (int64_t p = 0; p < hw; ++p)
    if (added_by[p] < 0) values.push_back(attr[p]);
  const double rest = values.empty() ? 0.0 : detail::pairwise_sum(values.data(), int64_t(values.size())) / double(values.size());
  const int64_t regions = static_cast<int64_t>(result.gains.size());
  std::vector<int64_t> by_gain(regions);
  for (int64_t i = 0; i < regions; ++i) by_gain[i] = i;
  std::stable_sort(by_gain.begin(), by_gain.end(),
                   [&](int64_t a, int64_t b) { return -result.gains[a] < -result.gains[b]; });
  std::vector<int64_t> rank(regions);
  for (int64_t i = 0; i < regions; ++i) rank[by_gain[i]] = i + 1;
  result.map = Tensor::empty(Shape{h, w});
  result.ranks = Tensor::empty(Shape{h, w});
  for (int64_t p = 0; p < hw; ++p) {
    const int64_t r = added_by[p];
    result.map.data()[p] = static_cast<float>(r < 0 ? rest : result.gains[r]);
    result.ranks.data()[p] = static_cast<float>(r < 0 ? regions + 1 : rank[r]);
  }
  return result;
}

AttributionResult xrai(const Module& model, const Tensor& inputs, const Target& target, const XraiOptions& options) {
  BL_CHECK(inputs.shape().rank() == 4 && !inputs.is_cuda(),
           "xrai: expected host images [N, C, H, W], got ", inputs.shape(), inputs.is_cuda() ? " on CUDA" : "");
  const int64_t n = inputs.shape()[0], h = inputs.shape()[2], w = inputs.shape()[3];
  const int64_t item = inputs.numel() / n;
  AttributionResult base;
  if (options.base_method.empty()) {
    // PAIR's default baselines: the constant images min(x) and max(x) per item; IG averaged over both.
    Tensor lo = Tensor::empty(inputs.shape()), hi = Tensor::empty(inputs.shape());
    for (int64_t i = 0; i < n; ++i) {
      const float* x = inputs.data() + i * item;
      const auto [mn, mx] = std::minmax_element(x, x + item);
      std::fill_n(lo.data() + i * item, item, *mn);
      std::fill_n(hi.data() + i * item, item, *mx);
    }
    IntegratedGradientsOptions ig{.steps = options.steps, .internal_batch_size = options.internal_batch_size,
                                  .workspace = options.workspace};
    ig.baselines = {Baseline::given(lo)};
    base = integrated_gradients(model, inputs, target, ig);
    ig.baselines = {Baseline::given(hi)};
    const AttributionResult white = integrated_gradients(model, inputs, target, ig);
    Tensor a = base.attribution.is_cuda() ? base.attribution.to(Device::CPU) : base.attribution;
    const Tensor b = white.attribution.is_cuda() ? white.attribution.to(Device::CPU) : white.attribution;
    for (int64_t i = 0; i < a.numel(); ++i) a.data()[i] = 0.5f * (a.data()[i] + b.data()[i]);
    base.attribution = a;
    base.delta = Tensor();
  } else {
    BL_CHECK(options.base_method != "xrai", "xrai: base_method cannot be xrai itself");
    MethodOptions mo;
    mo.steps = options.steps;
    mo.batch = options.internal_batch_size;
    mo.workspace = options.workspace;
    base = attribute(options.base_method, model, inputs, target, mo);
    if (base.attribution.is_cuda()) base.attribution = base.attribution.to(Device::CPU);
  }
  const Shape& bs = base.attribution.shape();
  BL_CHECK(bs.rank() == 4 && bs[0] == n && bs[2] == h && bs[3] == w, "xrai: expected the base method '",
           options.base_method.empty() ? "integrated_gradients" : options.base_method, "' to return [", n,
           ", C, ", h, ", ", w, "], got ", bs);
  const Scaled sc = scaled(options.segments, options.min_pixel_diff, h, w);
  Tensor map = Tensor::empty(Shape{n, 1, h, w});
  const int64_t base_item = base.attribution.numel() / n;
  for (int64_t i = 0; i < n; ++i) {
    const Tensor image = Tensor::from(Shape{inputs.shape()[1], h, w}, {inputs.data() + i * item, size_t(item)});
    const Tensor attr = Tensor::from(Shape{bs[1], h, w}, {base.attribution.data() + i * base_item, size_t(base_item)});
    const XraiRegions r = xrai_regions(attr, xrai_segments(image, sc.segments), sc.min_pixel_diff, options.area_threshold);
    std::copy_n(r.map.data(), h * w, map.data() + i * h * w);
  }
  AttributionResult out;
  out.attribution = map;
  out.output = base.output;
  out.target = base.target;
  return out;
}

Tensor xrai_top_mask(const Tensor& map, double fraction) {
  BL_CHECK(fraction >= 0 && fraction <= 1 && map.numel() > 0 && !map.is_cuda(),
           "xrai_top_mask: expected a host map and a fraction in [0, 1], got ", fraction, " and ", map.shape());
  std::vector<double> v(map.data(), map.data() + map.numel());
  std::sort(v.begin(), v.end());
  const double pos = (1.0 - fraction) * double(v.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  const double threshold = v[lo] + (v[hi] - v[lo]) * (pos - double(lo));
  Tensor out = Tensor::empty(map.shape());
  for (int64_t i = 0; i < map.numel(); ++i) out.data()[i] = map.data()[i] >= threshold ? 1.0f : 0.0f;
  return out;
}

}  // namespace backlight
