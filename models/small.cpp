#include "models/small.h"

#include "engine/error.h"
#include "engine/modules/all.h"
#include "models/feature_classifier.h"

namespace backlight {

namespace {

ModulePtr conv(int64_t in, int64_t out, int k, int padding, std::mt19937_64& rng) {
  return std::make_shared<Conv2d>(in, out, k, rng, Conv2dOptions{.padding = padding});
}

}  // namespace

ModulePtr make_mlp(const std::vector<int64_t>& sizes, int64_t num_classes, std::mt19937_64& rng) {
  BL_CHECK(!sizes.empty(), "make_mlp: expected sizes = {in_features, hidden...}, got an empty list");
  for (int64_t s : sizes) BL_CHECK(s > 0, "make_mlp: expected positive sizes, got ", s);
  BL_CHECK(num_classes > 0, "make_mlp: expected num_classes > 0, got ", num_classes);
  auto net = std::make_shared<Sequential>();
  net->push_back(std::make_shared<Flatten>());
  for (size_t i = 1; i < sizes.size(); ++i) {
    net->push_back(std::make_shared<Linear>(sizes[i - 1], sizes[i], rng));
    net->push_back(std::make_shared<ReLU>());
  }
  net->push_back(std::make_shared<Linear>(sizes.back(), num_classes, rng));
  return net;
}

ModulePtr make_mnist_cnn(int64_t num_classes, std::mt19937_64& rng) {
  auto features = std::make_shared<Sequential>();
  int64_t in = 1;
  for (int64_t out : {32, 64, 128}) {
    features->push_back(conv(in, out, 3, 1, rng));
    features->push_back(std::make_shared<ReLU>());
    features->push_back(std::make_shared<MaxPool2d>(2));
    in = out;
  }
  auto classifier = std::make_shared<Sequential>(Sequential{std::make_shared<Linear>(128 * 3 * 3, 256, rng),
                                                            std::make_shared<ReLU>(),
                                                            std::make_shared<Linear>(256, num_classes, rng)});
  return std::make_shared<FeatureClassifier>("MnistCNN", features, nullptr, classifier);
}

ModulePtr make_lenet5(int64_t num_classes, std::mt19937_64& rng) {
  auto features = std::make_shared<Sequential>(Sequential{conv(1, 6, 5, 2, rng), std::make_shared<ReLU>(),
                                                          std::make_shared<MaxPool2d>(2), conv(6, 16, 5, 0, rng),
                                                          std::make_shared<ReLU>(), std::make_shared<MaxPool2d>(2)});
  auto classifier = std::make_shared<Sequential>(
      Sequential{std::make_shared<Linear>(16 * 5 * 5, 120, rng), std::make_shared<ReLU>(),
                 std::make_shared<Linear>(120, 84, rng), std::make_shared<ReLU>(),
                 std::make_shared<Linear>(84, num_classes, rng)});
  return std::make_shared<FeatureClassifier>("LeNet5", features, nullptr, classifier);
}

}  // namespace backlight
