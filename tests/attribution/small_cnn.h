#pragma once
// The small named CNN the layer and neuron method tests share.
#include <random>

#include "engine/modules/all.h"
#include "tests/helpers.h"

namespace backlight::test {

/// [N,3,8,8] -> [N,5]. Paths: conv1 bn1 relu1 pool conv2 relu2 avgpool flatten fc (BatchNorm with
/// random statistics, so it is not the identity).
inline ModulePtr small_cnn(uint64_t seed = kSeed) {
  std::mt19937_64 rng(seed);
  auto bn = std::make_shared<BatchNorm2d>(6);
  bn->parameter("weight") = uniform({6}, rng, 0.5f, 1.5f);
  bn->parameter("bias") = uniform({6}, rng, -0.2f, 0.2f);
  bn->buffer("running_mean") = uniform({6}, rng, -0.3f, 0.3f);
  bn->buffer("running_var") = uniform({6}, rng, 0.5f, 2.0f);
  auto m = std::make_shared<Sequential>();
  m->add("conv1", std::make_shared<Conv2d>(3, 6, 3, rng, Conv2dOptions{.padding = 1}))
      .add("bn1", bn)
      .add("relu1", std::make_shared<ReLU>())
      .add("pool", std::make_shared<MaxPool2d>(2))
      .add("conv2", std::make_shared<Conv2d>(6, 8, 3, rng, Conv2dOptions{.padding = 1}))
      .add("relu2", std::make_shared<ReLU>())
      .add("avgpool", std::make_shared<AdaptiveAvgPool2d>(2))
      .add("flatten", std::make_shared<Flatten>())
      .add("fc", std::make_shared<Linear>(32, 5, rng));
  return m;
}

}  // namespace backlight::test
