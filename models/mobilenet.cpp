#include "models/mobilenet.h"

#include <algorithm>
#include <array>
#include <cmath>

#include "engine/error.h"
#include "engine/modules/all.h"
#include "engine/ops/ops.h"
#include "models/op_path.h"

namespace backlight {

namespace {

// torchvision's _make_divisible(v, 8): round to the nearest multiple of 8, never below 90% of v.
int64_t make_divisible(double v, int64_t divisor = 8) {
  int64_t r = std::max<int64_t>(divisor, static_cast<int64_t>(v + divisor / 2.0) / divisor * divisor);
  if (static_cast<double>(r) < 0.9 * v) r += divisor;
  return r;
}

struct Stage {
  int64_t t, c, n;
  int s;
};

}  // namespace

Conv2dNormActivation::Conv2dNormActivation(int64_t in, int64_t out, int kernel_size, int stride, int groups,
                                           std::mt19937_64& rng) {
  push_back(std::make_shared<Conv2d>(
      in, out, kernel_size, rng,
      Conv2dOptions{.stride = stride, .padding = (kernel_size - 1) / 2, .groups = groups, .bias = false}));
  push_back(std::make_shared<BatchNorm2d>(out));
  push_back(std::make_shared<ReLU6>());
}

InvertedResidual::InvertedResidual(int64_t in, int64_t out, int stride, int64_t expand_ratio, std::mt19937_64& rng)
    : use_res_connect_(stride == 1 && in == out) {
  BL_CHECK(stride == 1 || stride == 2, "InvertedResidual: expected stride 1 or 2, got ", stride);
  const int64_t hidden = in * expand_ratio;
  auto conv = std::make_shared<Sequential>();
  if (expand_ratio != 1) conv->push_back(std::make_shared<Conv2dNormActivation>(in, hidden, 1, 1, 1, rng));
  conv->push_back(std::make_shared<Conv2dNormActivation>(hidden, hidden, 3, stride, static_cast<int>(hidden), rng));
  conv->push_back(std::make_shared<Conv2d>(hidden, out, 1, rng, Conv2dOptions{.bias = false}));
  conv->push_back(std::make_shared<BatchNorm2d>(out));
  register_module("conv", conv);
}

Var InvertedResidual::forward(const Var& x) const {
  const Var branch = child("conv").forward(x);
  return use_res_connect_ ? add(x, branch, path()) : branch;
}

MobileNetV2::MobileNetV2(int64_t num_classes, float width_mult, std::mt19937_64& rng) {
  BL_CHECK(width_mult > 0 && std::isfinite(width_mult), "MobileNetV2: expected width_mult > 0, got ", width_mult);
  constexpr std::array<Stage, 7> kSettings{{{1, 16, 1, 1},
                                            {6, 24, 2, 2},
                                            {6, 32, 3, 2},
                                            {6, 64, 4, 2},
                                            {6, 96, 3, 1},
                                            {6, 160, 3, 2},
                                            {6, 320, 1, 1}}};
  int64_t in = make_divisible(32.0 * width_mult);
  const int64_t last = make_divisible(1280.0 * std::max(1.0f, width_mult));
  auto features = std::make_shared<Sequential>();
  features->push_back(std::make_shared<Conv2dNormActivation>(3, in, 3, 2, 1, rng));
  for (const Stage& st : kSettings) {
    const int64_t out = make_divisible(static_cast<double>(st.c) * width_mult);
    for (int64_t i = 0; i < st.n; ++i) {
      features->push_back(std::make_shared<InvertedResidual>(in, out, i == 0 ? st.s : 1, st.t, rng));
      in = out;
    }
  }
  features->push_back(std::make_shared<Conv2dNormActivation>(in, last, 1, 1, 1, rng));
  register_module("features", features);
  auto classifier = std::make_shared<Sequential>();
  classifier->push_back(std::make_shared<Dropout>(0.2f));
  classifier->push_back(std::make_shared<Linear>(last, num_classes, rng));
  register_module("classifier", classifier);
}

Var MobileNetV2::forward(const Var& x) const {
  BL_CHECK_SHAPE(x.shape().rank() == 4 && x.shape()[1] == 3, "MobileNetV2: expected input [N,3,H,W], got ",
                 x.shape());
  Var h = child("features").forward(x);
  h = adaptive_avgpool2d(h, 1, 1, op_path(*this, "avgpool"));
  h = flatten(h, 1, -1, op_path(*this, "flatten"));
  return child("classifier").forward(h);
}

}  // namespace backlight
