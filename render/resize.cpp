#include "render/resize.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.h"

namespace backlight::cli {

namespace {

// Normalised triangle-filter weights of every output index along one axis (PIL's
// precompute_coeffs with the bilinear filter, support 1).
struct Taps {
  std::vector<int64_t> first;        // first source index per output
  std::vector<std::vector<float>> w;  // weights from `first` on
};

Taps taps(int64_t in, int64_t out) {
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  const double filter_scale = std::max(scale, 1.0);
  const double support = filter_scale;  // triangle radius 1, stretched when shrinking
  Taps t;
  t.first.resize(static_cast<size_t>(out));
  t.w.resize(static_cast<size_t>(out));
  for (int64_t i = 0; i < out; ++i) {
    const double centre = (static_cast<double>(i) + 0.5) * scale;
    const int64_t lo = std::max<int64_t>(static_cast<int64_t>(centre - support + 0.5), 0);
    const int64_t hi = std::min<int64_t>(static_cast<int64_t>(centre + support + 0.5), in);
    std::vector<float>& w = t.w[static_cast<size_t>(i)];
    double total = 0;
    for (int64_t j = lo; j < hi; ++j) {
      const double x = (static_cast<double>(j) - centre + 0.5) / filter_scale;
      const double v = std::max(0.0, 1.0 - std::fabs(x));
      w.push_back(static_cast<float>(v));
      total += v;
    }
    if (total > 0)
      for (float& v : w) v = static_cast<float>(v / total);
    t.first[static_cast<size_t>(i)] = lo;
  }
  return t;
}

}  // namespace

Tensor resize_image(const Tensor& chw, int64_t height, int64_t width) {
  BL_CHECK_SHAPE(chw.dim() == 3, "resize_image: expected an image [C,H,W], got ", chw.shape());
  BL_CHECK(height >= 1 && width >= 1, "resize_image: expected a size of at least 1x1, got ", height, "x", width);
  const int64_t c = chw.size(0), h = chw.size(1), w = chw.size(2);
  if (h == height && w == width) return chw.clone();
  const Taps tx = taps(w, width), ty = taps(h, height);
  // Horizontal pass [C,h,w] -> [C,h,width], then vertical -> [C,height,width].
  Tensor mid = Tensor::empty({c, h, width});
  for (int64_t k = 0; k < c; ++k)
    for (int64_t y = 0; y < h; ++y) {
      const float* row = chw.data() + (k * h + y) * w;
      for (int64_t x = 0; x < width; ++x) {
        const std::vector<float>& wt = tx.w[static_cast<size_t>(x)];
        const float* src = row + tx.first[static_cast<size_t>(x)];
        float acc = 0;
        for (size_t j = 0; j < wt.size(); ++j) acc += wt[j] * src[j];
        mid.data()[(k * h + y) * width + x] = acc;
      }
    }
  Tensor out = Tensor::zeros({c, height, width});
  for (int64_t k = 0; k < c; ++k)
    for (int64_t y = 0; y < height; ++y) {
      const std::vector<float>& wt = ty.w[static_cast<size_t>(y)];
      const int64_t y0 = ty.first[static_cast<size_t>(y)];
      float* dst = out.data() + (k * height + y) * width;
      for (size_t j = 0; j < wt.size(); ++j) {
        const float* src = mid.data() + (k * h + y0 + static_cast<int64_t>(j)) * width;
        for (int64_t x = 0; x < width; ++x) dst[x] += wt[j] * src[x];
      }
    }
  return out;
}

std::pair<int64_t, int64_t> shorter_side_size(int64_t height, int64_t width, int64_t shorter) {
  BL_CHECK(height >= 1 && width >= 1 && shorter >= 1, "shorter_side_size: expected positive sizes, got ", height, "x",
           width, " -> ", shorter);
  if (height <= width) return {shorter, static_cast<int64_t>(static_cast<double>(shorter) * width / height)};
  return {static_cast<int64_t>(static_cast<double>(shorter) * height / width), shorter};
}

Tensor enlarge_nearest(const Tensor& chw, int factor) {
  BL_CHECK_SHAPE(chw.dim() == 3, "enlarge_nearest: expected an image [C,H,W], got ", chw.shape());
  BL_CHECK(factor >= 1, "enlarge_nearest: expected a factor >= 1, got ", factor);
  if (factor == 1) return chw.clone();
  const int64_t c = chw.size(0), h = chw.size(1), w = chw.size(2), f = factor;
  Tensor out = Tensor::empty({c, h * f, w * f});
  for (int64_t k = 0; k < c; ++k)
    for (int64_t y = 0; y < h * f; ++y) {
      const float* src = chw.data() + (k * h + y / f) * w;
      float* dst = out.data() + (k * h * f + y) * w * f;
      for (int64_t x = 0; x < w * f; ++x) dst[x] = src[x / f];
    }
  return out;
}

}  // namespace backlight::cli
