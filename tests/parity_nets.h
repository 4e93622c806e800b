#pragma once
// The networks of tools/reference/make_rules_fixtures.py (synthetic weights, nothing stored):
// small_vgg_bn, small_vgg_bn_avgpool and small_resnet. Shared by the parity tests.
#include "engine/modules/all.h"
#include "models/resnet.h"
#include "models/safetensors.h"
#include "models/synthetic_weights.h"
#include "tests/helpers.h"

namespace backlight::test {

constexpr uint64_t kFixtureSeed = 20261124;

// The fixture's SmallVGG: features / avgpool / classifier with torchvision's naming.
class SmallVgg : public ModuleImpl<SmallVgg> {
 public:
  SmallVgg(std::mt19937_64& rng, bool avgpool) {
    auto pool = [&]() -> ModulePtr {
      if (avgpool) return std::make_shared<AvgPool2d>(2);
      return std::make_shared<MaxPool2d>(2);
    };
    auto conv = [&](int64_t i, int64_t o) { return std::make_shared<Conv2d>(i, o, 3, rng, Conv2dOptions{.padding = 1}); };
    register_module("features", std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
                                    conv(3, 8), std::make_shared<BatchNorm2d>(8), std::make_shared<ReLU>(), conv(8, 8),
                                    std::make_shared<BatchNorm2d>(8), std::make_shared<ReLU>(),
                                    pool(), conv(8, 16), std::make_shared<BatchNorm2d>(16),
                                    std::make_shared<ReLU>(), pool()}));
    register_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(2));
    register_module("classifier", std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
                                      std::make_shared<Linear>(64, 32, rng), std::make_shared<ReLU>(),
                                      std::make_shared<Dropout>(), std::make_shared<Linear>(32, 10, rng)}));
  }
  Var forward(const Var& x) const override {
    return child("classifier").forward(flatten(child("avgpool").forward(child("features").forward(x)), 1, -1, "flatten"));
  }
  std::string type_name() const override { return "SmallVGG"; }
};

inline ModulePtr make_net(const std::string& name) {
  std::mt19937_64 rng(1);
  ModulePtr m = name == "small_resnet"
                    ? ModulePtr(std::make_shared<ResNet>(false, std::array<int, 4>{1, 1, 1, 1}, 10, rng))
                    : ModulePtr(std::make_shared<SmallVgg>(rng, name == "small_vgg_bn_avgpool"));
  fill_synthetic(*m, kFixtureSeed);
  return m;
}

/// A fixture tensor by name (fails the test when absent).
inline Tensor fixture_tensor(const SafeTensorsFile& f, const std::string& name) {
  const Tensor* t = f.find(name);
  REQUIRE_MESSAGE(t, "fixture ", f.path, " has no tensor ", name);
  return *t;
}

/// max abs error <= 1e-4 x max |reference| (the parity criterion of the issues).
inline void check_parity(const Tensor& got, const Tensor& ref) { BL_CHECK_CLOSE(got, ref, 1e-4 * max_abs(ref), 0.0); }

}  // namespace backlight::test
