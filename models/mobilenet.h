#pragma once
/// MobileNetV2 as torchvision.models.mobilenet_v2 (Sandler et al. 2018), class "MobileNetV2":
///   features   0 Conv2dNormActivation(3, 32, stride 2), 1..17 InvertedResidual blocks,
///              18 Conv2dNormActivation(320, 1280, kernel 1)       (channels x width_mult, rounded
///              to multiples of 8 as torchvision's _make_divisible)
///   classifier 0 Dropout(0.2), 1 Linear(1280, num_classes)
/// Between them torchvision calls adaptive_avg_pool2d(x, 1) and flatten functionally; here they
/// are an `adaptive_avgpool2d` node "avgpool" and a `reshape` node "flatten".
/// Input [N, 3, H, W], any H, W >= 32 (224 by default).
#include <cstdint>
#include <random>

#include "engine/modules/container.h"

namespace backlight {

/// Sequential(0 Conv2d (no bias, padding (k-1)/2, groups), 1 BatchNorm2d, 2 ReLU6), as
/// torchvision.ops.Conv2dNormActivation with MobileNetV2's arguments.
class Conv2dNormActivation : public Sequential {
 public:
  Conv2dNormActivation(int64_t in, int64_t out, int kernel_size, int stride, int groups, std::mt19937_64& rng);
  std::string type_name() const override { return "Conv2dNormActivation"; }

 protected:
  ModulePtr shallow_copy() const override { return std::make_shared<Conv2dNormActivation>(*this); }
};

/// Child `conv` = Sequential([0 Conv2dNormActivation 1x1 expand (when expand_ratio != 1)],
/// depthwise Conv2dNormActivation 3x3 (stride), Conv2d 1x1 project (no bias), BatchNorm2d).
/// With stride 1 and in == out the output is x + conv(x), one `add` node named by the block
/// path ("features.2"), inputs x then the branch, as torchvision's `x + self.conv(x)`.
class InvertedResidual : public ModuleImpl<InvertedResidual> {
 public:
  InvertedResidual(int64_t in, int64_t out, int stride, int64_t expand_ratio, std::mt19937_64& rng);
  Var forward(const Var& x) const override;
  std::string type_name() const override { return "InvertedResidual"; }
  bool use_res_connect() const { return use_res_connect_; }

 private:
  bool use_res_connect_;
};

class MobileNetV2 : public ModuleImpl<MobileNetV2> {
 public:
  MobileNetV2(int64_t num_classes, float width_mult, std::mt19937_64& rng);
  Var forward(const Var& x) const override;
  std::string type_name() const override { return "MobileNetV2"; }
};

}  // namespace backlight
