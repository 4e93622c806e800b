#include "models/alexnet.h"

#include "engine/modules/all.h"
#include "models/feature_classifier.h"

namespace backlight {

ModulePtr make_alexnet(int64_t num_classes, std::mt19937_64& rng) {
  auto conv = [&](int64_t in, int64_t out, int k, int stride, int padding) -> ModulePtr {
    return std::make_shared<Conv2d>(in, out, k, rng, Conv2dOptions{.stride = stride, .padding = padding});
  };
  auto relu = [] { return std::make_shared<ReLU>(); };
  auto pool = [] { return std::make_shared<MaxPool2d>(3, MaxPool2dOptions{.stride = 2}); };
  auto features = std::make_shared<Sequential>(Sequential{
      conv(3, 64, 11, 4, 2), relu(), pool(), conv(64, 192, 5, 1, 2), relu(), pool(), conv(192, 384, 3, 1, 1), relu(),
      conv(384, 256, 3, 1, 1), relu(), conv(256, 256, 3, 1, 1), relu(), pool()});
  auto classifier = std::make_shared<Sequential>(
      Sequential{std::make_shared<Dropout>(0.5f), std::make_shared<Linear>(256 * 6 * 6, 4096, rng), relu(),
                 std::make_shared<Dropout>(0.5f), std::make_shared<Linear>(4096, 4096, rng), relu(),
                 std::make_shared<Linear>(4096, num_classes, rng)});
  return std::make_shared<FeatureClassifier>("AlexNet", features, std::make_shared<AdaptiveAvgPool2d>(6),
                                             classifier);
}

}  // namespace backlight
