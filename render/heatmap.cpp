#include "render/heatmap.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.h"

namespace backlight::cli {

namespace {

constexpr std::pair<const char*, VisualSign> kSigns[] = {{"all", VisualSign::All},
                                                         {"positive", VisualSign::Positive},
                                                         {"negative", VisualSign::Negative},
                                                         {"absolute_value", VisualSign::AbsoluteValue}};
constexpr std::pair<const char*, VisualMethod> kMethods[] = {{"heat_map", VisualMethod::HeatMap},
                                                             {"blended_heat_map", VisualMethod::BlendedHeatMap},
                                                             {"masked_image", VisualMethod::MaskedImage},
                                                             {"alpha_scaling", VisualMethod::AlphaScaling},
                                                             {"top_regions", VisualMethod::TopRegions}};

template <typename E, size_t N>
std::string names_of(const std::pair<const char*, E> (&table)[N]) {
  std::string s;
  for (const auto& [name, value] : table) s += (s.empty() ? "" : ", ") + std::string(name);
  return s;
}

// [H,W] or [1,H,W] -> (H, W); throws naming the function otherwise.
std::pair<int64_t, int64_t> map_size(const Tensor& map, const char* fn) {
  const Shape& s = map.shape();
  BL_CHECK_SHAPE(s.rank() == 2 || (s.rank() == 3 && s[0] == 1), fn, ": expected a map [H,W] or [1,H,W], got ", s);
  return {s[-2], s[-1]};
}

// The image's grey version (channel mean), min-max scaled to [0,1] (matplotlib's imshow with
// cmap="gray" and no vmin/vmax; a constant image maps to 0 as matplotlib's Normalize does).
std::vector<float> grey(const Tensor& image) {
  const int64_t c = image.size(0), plane = image.size(1) * image.size(2);
  std::vector<float> g(static_cast<size_t>(plane), 0.0f);
  for (int64_t k = 0; k < c; ++k)
    for (int64_t i = 0; i < plane; ++i)
      g[static_cast<size_t>(i)] += image.data()[k * plane + i] / static_cast<float>(c);
  const auto [lo, hi] = std::minmax_element(g.begin(), g.end());
  const float l = *lo, range = *hi - *lo;
  for (float& v : g) v = range > 0 ? (v - l) / range : 0.0f;
  return g;
}

}  // namespace

VisualSign visual_sign_from_string(std::string_view name) {
  for (const auto& [n, v] : kSigns)
    if (name == n) return v;
  BL_THROW("unknown sign '", name, "' (accepted: ", visual_sign_names(), ")");
}
std::string to_string(VisualSign sign) {
  for (const auto& [n, v] : kSigns)
    if (v == sign) return n;
  return "?";
}
std::string visual_sign_names() { return names_of(kSigns); }

VisualMethod visual_method_from_string(std::string_view name) {
  for (const auto& [n, v] : kMethods)
    if (name == n) return v;
  BL_THROW("unknown visual method '", name, "' (accepted: ", visual_method_names(), ")");
}
std::string to_string(VisualMethod method) {
  for (const auto& [n, v] : kMethods)
    if (v == method) return n;
  return "?";
}
std::string visual_method_names() { return names_of(kMethods); }

bool uses_colormap(VisualMethod method) {
  return method == VisualMethod::HeatMap || method == VisualMethod::BlendedHeatMap;
}

float cumulative_sum_threshold(std::span<const float> values, float percentile) {
  BL_CHECK(percentile >= 0.0f && percentile <= 100.0f,
           "cumulative_sum_threshold: expected a percentile in [0,100], got ", percentile);
  std::vector<float> sorted;
  sorted.reserve(values.size());
  for (float v : values)
    if (std::isfinite(v)) sorted.push_back(v);
  if (sorted.empty()) return 0.0f;
  std::sort(sorted.begin(), sorted.end());
  double total = 0;
  for (float v : sorted) total += v;
  // Captum: first index where cumsum >= cumsum[-1] * 0.01 * percentile.
  const double goal = total * 0.01 * percentile;
  double running = 0;
  for (float v : sorted) {
    running += v;
    if (running >= goal) return v;
  }
  return sorted.back();  // only reachable through rounding
}

Tensor normalize_attribution(const Tensor& map, VisualSign sign, float outlier_percent) {
  map_size(map, "normalize_attribution");
  BL_CHECK(outlier_percent >= 0.0f && outlier_percent < 100.0f,
           "normalize_attribution: expected an outlier percentage in [0,100), got ", outlier_percent);
  Tensor out = map.clone();
  std::vector<float> magnitude(static_cast<size_t>(out.numel()));
  for (int64_t i = 0; i < out.numel(); ++i) {
    float v = out.data()[i];
    if (!std::isfinite(v)) v = 0.0f;
    // The values Captum keeps for the sign (negative keeps its sign: divided by -t below).
    if (sign == VisualSign::Positive) v = v > 0 ? v : 0.0f;
    if (sign == VisualSign::Negative) v = v < 0 ? v : 0.0f;
    if (sign == VisualSign::AbsoluteValue) v = std::fabs(v);
    out.data()[i] = v;
    magnitude[static_cast<size_t>(i)] = std::fabs(v);
  }
  float t = cumulative_sum_threshold(magnitude, 100.0f - outlier_percent);
  if (t == 0.0f) return Tensor::zeros(map.shape());  // nothing of this sign (Captum asserts)
  if (sign == VisualSign::Negative) t = -t;
  for (float& v : out.span()) v = std::clamp(v / t, -1.0f, 1.0f);
  return out;
}

Colormap resolve_colormap(const VisualOptions& options) {
  if (options.colormap) return *options.colormap;
  return options.sign == VisualSign::All ? Colormap::Bwr : Colormap::Inferno;
}

Rgb value_color(Colormap map, VisualSign sign, float v) {
  const bool centred = is_diverging(map) || sign == VisualSign::All;
  return colormap_color(map, centred ? (v + 1.0f) * 0.5f : v);
}

Tensor visualize_attribution(const Tensor& map, const Tensor& image, const VisualOptions& options) {
  const auto [h, w] = map_size(map, "visualize_attribution");
  const VisualMethod method = options.method;
  const bool needs_image = method != VisualMethod::HeatMap;
  if (needs_image)
    BL_CHECK_SHAPE(image.defined() && image.dim() == 3 && (image.size(0) == 3 || image.size(0) == 1) &&
                       image.size(1) == h && image.size(2) == w,
                   "visualize_attribution: ", to_string(method), " needs the image [3,", h, ",", w, "] or [1,", h, ",",
                   w, "], got ", image.defined() ? image.shape() : Shape{});
  BL_CHECK(options.sign != VisualSign::All || uses_colormap(method) || method == VisualMethod::TopRegions,
           "visualize_attribution: ", to_string(method),
           " needs sign positive, negative or absolute_value (all mixes both signs into one mask), got all");
  const Tensor n = normalize_attribution(map, options.sign, options.outlier_percent);
  const int64_t plane = h * w;
  Tensor out = Tensor::empty({3, h, w});
  float* o = out.data();
  const float* v = n.data();
  // Channel k of the image (grey images repeat their one channel).
  auto pixel = [&](int64_t k, int64_t i) { return image.data()[(image.size(0) == 3 ? k : 0) * plane + i]; };
  switch (method) {
    case VisualMethod::HeatMap:
    case VisualMethod::BlendedHeatMap: {
      const Colormap cmap = resolve_colormap(options);
      const std::vector<float> g = method == VisualMethod::BlendedHeatMap ? grey(image) : std::vector<float>{};
      const float a = method == VisualMethod::BlendedHeatMap ? options.alpha_overlay : 1.0f;
      for (int64_t i = 0; i < plane; ++i) {
        const Rgb c = value_color(cmap, options.sign, v[i]);
        const float base = g.empty() ? 0.0f : g[static_cast<size_t>(i)];
        for (int64_t k = 0; k < 3; ++k) o[k * plane + i] = (1.0f - a) * base + a * c[static_cast<size_t>(k)];
      }
      break;
    }
    case VisualMethod::MaskedImage:
      for (int64_t k = 0; k < 3; ++k)
        for (int64_t i = 0; i < plane; ++i) o[k * plane + i] = pixel(k, i) * v[i];
      break;
    case VisualMethod::AlphaScaling: {
      // Checker squares of about an eighth of the shorter side (at least 4 pixels).
      const int64_t square = std::max<int64_t>(4, std::min(h, w) / 8);
      for (int64_t y = 0; y < h; ++y)
        for (int64_t x = 0; x < w; ++x) {
          const int64_t i = y * w + x;
          const float checker = (y / square + x / square) % 2 ? 0.84f : 0.96f;
          for (int64_t k = 0; k < 3; ++k) o[k * plane + i] = v[i] * pixel(k, i) + (1.0f - v[i]) * checker;
        }
      break;
    }
    case VisualMethod::TopRegions: {
      BL_CHECK(options.top_percent > 0 && options.top_percent <= 100,
               "visualize_attribution: top_regions expects top_percent in (0, 100], got ", options.top_percent);
      // numpy.percentile(map, 100 - top_percent) (linear); the raw map, so whole XRAI regions pass or fail.
      std::vector<float> sorted(map.data(), map.data() + plane);
      std::sort(sorted.begin(), sorted.end());
      const double pos = (1.0 - options.top_percent / 100.0) * double(plane - 1);
      const size_t lo = static_cast<size_t>(pos), hi = std::min(lo + 1, sorted.size() - 1);
      const double threshold = sorted[lo] + (double(sorted[hi]) - sorted[lo]) * (pos - double(lo));
      for (int64_t i = 0; i < plane; ++i) {
        const bool shown = map.data()[i] >= threshold;
        for (int64_t k = 0; k < 3; ++k) o[k * plane + i] = shown ? pixel(k, i) : 0.0f;
      }
      break;
    }
  }
  return out;
}

}  // namespace backlight::cli
