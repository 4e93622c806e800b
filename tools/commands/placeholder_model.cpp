#include "tools/commands/placeholder_model.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "engine/ops.h"

namespace backlight::cli {
namespace {

Tensor he_normal(const Shape& s, int64_t fan_in, std::mt19937_64& rng) {
  std::normal_distribution<float> d(0.0f, std::sqrt(2.0f / static_cast<float>(fan_in)));
  Tensor t = Tensor::empty(s);
  for (float& v : t.span()) v = d(rng);
  return t;
}

Tensor small_uniform(const Shape& s, std::mt19937_64& rng) {
  std::uniform_real_distribution<float> d(-0.1f, 0.1f);
  Tensor t = Tensor::empty(s);
  for (float& v : t.span()) v = d(rng);
  return t;
}

}  // namespace

PlaceholderCnn::PlaceholderCnn(uint64_t seed) {
  std::mt19937_64 rng(seed);
  conv1_w_ = he_normal({8, 3, 3, 3}, 3 * 9, rng);
  conv1_b_ = small_uniform({8}, rng);
  conv2_w_ = he_normal({8, 8, 3, 3}, 8 * 9, rng);
  conv2_b_ = small_uniform({8}, rng);
  fc_w_ = he_normal({kClasses, 8}, 8, rng);
  fc_b_ = small_uniform({kClasses}, rng);
}

Var PlaceholderCnn::forward(const Var& x) const {
  Tape& t = x.tape();
  const Conv2dAttrs same{.pad_h = 1, .pad_w = 1};
  Var h = conv2d(x, t.param(conv1_w_, "conv1.weight"), t.param(conv1_b_, "conv1.bias"), same, "conv1");
  h = relu(h, "relu1");
  h = conv2d(h, t.param(conv2_w_, "conv2.weight"), t.param(conv2_b_, "conv2.bias"), same, "conv2");
  h = relu(h, "relu2");
  const int spatial[] = {2, 3};
  h = mean(h, spatial, false, "pool");
  return linear(h, t.param(fc_w_, "fc.weight"), t.param(fc_b_, "fc.bias"), "fc");
}

Tensor test_pattern(int64_t h, int64_t w) {
  Tensor img = Tensor::empty({3, h, w});
  float* p = img.data();
  const int64_t plane = h * w;
  const float cy = 0.5f * static_cast<float>(h), cx = 0.5f * static_cast<float>(w);
  const float r = 0.3f * static_cast<float>(std::min(h, w));
  for (int64_t y = 0; y < h; ++y)
    for (int64_t x = 0; x < w; ++x) {
      const int64_t i = y * w + x;
      const float fy = static_cast<float>(y) + 0.5f, fx = static_cast<float>(x) + 0.5f;
      const bool disc = (fy - cy) * (fy - cy) + (fx - cx) * (fx - cx) < r * r;
      const bool square = std::fabs(fy - cy) < 0.35f * r && std::fabs(fx - cx) < 0.35f * r;
      p[i] = fx / static_cast<float>(w);
      p[plane + i] = fy / static_cast<float>(h);
      p[2 * plane + i] = square ? 0.3f : disc ? 0.95f : 0.1f;
    }
  return img;
}

}  // namespace backlight::cli
