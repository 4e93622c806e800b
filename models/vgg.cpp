#include "models/vgg.h"

#include <vector>

#include "engine/error.h"
#include "engine/modules/all.h"
#include "models/feature_classifier.h"

namespace backlight {

namespace {

constexpr int kPool = 0;  // 'M' in torchvision's cfgs

std::vector<int> vgg_config(int depth) {
  switch (depth) {
    case 11: return {64, kPool, 128, kPool, 256, 256, kPool, 512, 512, kPool, 512, 512, kPool};
    case 13: return {64, 64, kPool, 128, 128, kPool, 256, 256, kPool, 512, 512, kPool, 512, 512, kPool};
    case 16:
      return {64, 64, kPool, 128, 128, kPool, 256, 256, 256, kPool, 512, 512, 512, kPool, 512, 512, 512, kPool};
    case 19:
      return {64,  64,  kPool, 128, 128, kPool, 256, 256, 256, 256, kPool,
              512, 512, 512,   512, kPool, 512, 512, 512, 512, kPool};
    default: BL_THROW("make_vgg: expected depth 11, 13, 16 or 19, got ", depth);
  }
}

}  // namespace

ModulePtr make_vgg(int depth, bool batch_norm, int64_t num_classes, std::mt19937_64& rng) {
  auto features = std::make_shared<Sequential>();
  int64_t in = 3;
  for (int v : vgg_config(depth)) {
    if (v == kPool) {
      features->push_back(std::make_shared<MaxPool2d>(2, MaxPool2dOptions{.stride = 2}));
      continue;
    }
    features->push_back(std::make_shared<Conv2d>(in, v, 3, rng, Conv2dOptions{.padding = 1}));
    if (batch_norm) features->push_back(std::make_shared<BatchNorm2d>(v));
    features->push_back(std::make_shared<ReLU>());
    in = v;
  }
  auto classifier = std::make_shared<Sequential>(
      Sequential{std::make_shared<Linear>(512 * 7 * 7, 4096, rng), std::make_shared<ReLU>(),
                 std::make_shared<Dropout>(0.5f), std::make_shared<Linear>(4096, 4096, rng),
                 std::make_shared<ReLU>(), std::make_shared<Dropout>(0.5f),
                 std::make_shared<Linear>(4096, num_classes, rng)});
  return std::make_shared<FeatureClassifier>("VGG", features, std::make_shared<AdaptiveAvgPool2d>(7), classifier);
}

}  // namespace backlight
