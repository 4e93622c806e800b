#include "attribution/metrics/roar.h"

#include <algorithm>
#include <cmath>

#include "attribution/metrics/deletion_insertion.h"
#include "engine/error.h"
#include "engine/philox.h"

namespace backlight {

std::vector<float> channel_means(const Tensor& images) {
  BL_CHECK(images.dim() == 4 && images.numel() > 0, "channel_means: expected images [N, C, H, W], got ", images.shape());
  const int64_t n = images.size(0), c = images.size(1), hw = images.size(2) * images.size(3);
  std::vector<float> out(static_cast<size_t>(c));
  for (int64_t ch = 0; ch < c; ++ch) {
    double s = 0;  // double: 10^4 images x 4096 pixels would lose float precision
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < hw; ++j) s += images.data()[(i * c + ch) * hw + j];
    out[static_cast<size_t>(ch)] = static_cast<float>(s / static_cast<double>(n * hw));
  }
  return out;
}

Tensor roar_modify(const Tensor& images, const Tensor& attributions, double fraction, RoarMode mode,
                   const std::vector<float>& mean) {
  BL_CHECK(images.dim() == 4, "roar_modify: expected images [N, C, H, W], got ", images.shape());
  BL_CHECK_SHAPE(attributions.dim() == 4 && attributions.size(0) == images.size(0) &&
                     attributions.size(2) == images.size(2) && attributions.size(3) == images.size(3),
                 "roar_modify: expected attributions [N, C', H, W] matching images ", images.shape(), ", got ",
                 attributions.shape());
  BL_CHECK(fraction >= 0 && fraction <= 1, "roar_modify: expected a fraction in [0, 1], got ", fraction);
  const int64_t n = images.size(0), c = images.size(1), hw = images.size(2) * images.size(3);
  BL_CHECK(static_cast<int64_t>(mean.size()) == c, "roar_modify: expected ", c, " channel means, got ", mean.size());
  const int64_t k = std::llround(fraction * static_cast<double>(hw));
  const std::vector<std::vector<float>> sal = channel_sum(attributions);
  Tensor out = images.clone();
  std::vector<char> replace(static_cast<size_t>(hw));
  for (int64_t i = 0; i < n; ++i) {
    const std::vector<int64_t> order = rank_pixels(sal[static_cast<size_t>(i)]);
    std::fill(replace.begin(), replace.end(), mode == RoarMode::Keep ? 1 : 0);
    for (int64_t r = 0; r < k; ++r) replace[static_cast<size_t>(order[static_cast<size_t>(r)])] = mode == RoarMode::Remove;
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t j = 0; j < hw; ++j)
        if (replace[static_cast<size_t>(j)]) out.data()[(i * c + ch) * hw + j] = mean[static_cast<size_t>(ch)];
  }
  return out;
}

Tensor sobel_ranking(const Tensor& images) {
  BL_CHECK(images.dim() == 4, "sobel_ranking: expected images [N, C, H, W], got ", images.shape());
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  Tensor out = Tensor::empty(Shape{n, 1, h, w});
  std::vector<float> grey(static_cast<size_t>(h * w));
  for (int64_t i = 0; i < n; ++i) {
    std::fill(grey.begin(), grey.end(), 0.0f);
    for (int64_t ch = 0; ch < c; ++ch)
      for (int64_t j = 0; j < h * w; ++j) grey[static_cast<size_t>(j)] += images.data()[(i * c + ch) * h * w + j] / c;
    const auto at = [&](int64_t y, int64_t x) {
      return grey[static_cast<size_t>(std::clamp<int64_t>(y, 0, h - 1) * w + std::clamp<int64_t>(x, 0, w - 1))];
    };
    for (int64_t y = 0; y < h; ++y)
      for (int64_t x = 0; x < w; ++x) {
        const float gx = (at(y - 1, x + 1) + 2 * at(y, x + 1) + at(y + 1, x + 1)) -
                         (at(y - 1, x - 1) + 2 * at(y, x - 1) + at(y + 1, x - 1));
        const float gy = (at(y + 1, x - 1) + 2 * at(y + 1, x) + at(y + 1, x + 1)) -
                         (at(y - 1, x - 1) + 2 * at(y - 1, x) + at(y - 1, x + 1));
        out.data()[(i * h + y) * w + x] = std::sqrt(gx * gx + gy * gy);
      }
  }
  return out;
}

Tensor random_ranking(const Tensor& images, uint64_t seed) {
  BL_CHECK(images.dim() == 4, "random_ranking: expected images [N, C, H, W], got ", images.shape());
  Tensor out = Tensor::empty(Shape{images.size(0), 1, images.size(2), images.size(3)});
  for (int64_t k = 0; k < out.numel(); ++k) out.data()[k] = philox::uniform(seed, 0, static_cast<uint64_t>(k));
  return out;
}

}  // namespace backlight
