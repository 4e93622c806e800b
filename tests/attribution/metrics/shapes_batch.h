#pragma once
// n images of the embedded default set (repeated when n exceeds it) as one [n, C, H, W] batch,
// their labels appended to `labels`: the inputs of the fragility tests.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "models/default_model.h"

namespace backlight::test {

inline Tensor shapes_batch(std::vector<int64_t>& labels, int n) {
  const auto imgs = default_images();
  const Tensor& a = imgs.at(0).sample.image;
  Tensor x = Tensor::empty({n, a.size(0), a.size(1), a.size(2)});
  for (int i = 0; i < n; ++i) {
    const Tensor& im = imgs.at(size_t(i) % imgs.size()).sample.image;
    std::copy(im.data(), im.data() + im.numel(), x.data() + i * im.numel());
    labels.push_back(imgs.at(size_t(i) % imgs.size()).sample.label);
  }
  return x;
}

}  // namespace backlight::test
