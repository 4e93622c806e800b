#include "tools/cli/heatmap.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.h"

namespace backlight::cli {

float symmetric_clip(const Tensor& map, float percentile) {
  BL_CHECK(percentile > 0.0f && percentile <= 100.0f, "symmetric_clip: expected a percentile in (0,100], got ",
           percentile);
  std::vector<float> mag;
  mag.reserve(static_cast<size_t>(map.numel()));
  for (float v : map.span())
    if (std::isfinite(v)) mag.push_back(std::fabs(v));
  if (mag.empty()) return 1.0f;
  // numpy.percentile's default ("linear"): position p/100 * (n-1) between sorted values.
  const double pos = percentile / 100.0 * static_cast<double>(mag.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, mag.size() - 1);
  std::nth_element(mag.begin(), mag.begin() + static_cast<std::ptrdiff_t>(lo), mag.end());
  const float v_lo = mag[lo];
  // After nth_element everything past lo is >= mag[lo]; the next rank is the minimum of that tail.
  const float v_hi = hi == lo ? v_lo : *std::min_element(mag.begin() + static_cast<std::ptrdiff_t>(hi), mag.end());
  const float c = static_cast<float>(v_lo + (pos - static_cast<double>(lo)) * (v_hi - v_lo));
  if (c > 0.0f) return c;
  const float m = *std::max_element(mag.begin(), mag.end());
  return m > 0.0f ? m : 1.0f;
}

std::array<float, 3> diverging_color(float t) {
  // Anchors of a blue-white-red ramp (the ends of matplotlib's RdBu_r), interpolated in RGB.
  constexpr std::array<float, 3> kBlue = {0.020f, 0.188f, 0.380f};
  constexpr std::array<float, 3> kWhite = {1.0f, 1.0f, 1.0f};
  constexpr std::array<float, 3> kRed = {0.404f, 0.0f, 0.122f};
  if (std::isnan(t)) return kWhite;
  t = std::clamp(t, -1.0f, 1.0f);
  const std::array<float, 3>& end = t < 0 ? kBlue : kRed;
  const float a = std::fabs(t);
  return {kWhite[0] + a * (end[0] - kWhite[0]), kWhite[1] + a * (end[1] - kWhite[1]),
          kWhite[2] + a * (end[2] - kWhite[2])};
}

Tensor heatmap_rgb(const Tensor& map, const HeatmapOptions& options) {
  const Shape& s = map.shape();
  BL_CHECK_SHAPE(s.rank() == 2 || (s.rank() == 3 && s[0] == 1), "heatmap_rgb: expected a map [H,W] or [1,H,W], got ",
                 s);
  const int64_t h = s[-2], w = s[-1], plane = h * w;
  const float c = symmetric_clip(map, options.clip_percentile);
  Tensor out = Tensor::empty({3, h, w});
  const float* in = map.data();
  float* o = out.data();
  for (int64_t i = 0; i < plane; ++i) {
    const std::array<float, 3> rgb = diverging_color(in[i] / c);
    for (int k = 0; k < 3; ++k) o[k * plane + i] = rgb[k];
  }
  return out;
}

}  // namespace backlight::cli
