#pragma once
// The small CNN of tools/reference/make_perturbation_fixtures.py, with its Captum 0.8 results.
#include <string>

#include "engine/modules/all.h"
#include "models/safetensors.h"
#include "tests/helpers.h"

namespace backlight::test {

// features: conv(3,6)-relu-maxpool-conv(6,8)-relu-adaptiveavgpool(2); classifier: linear(32,5).
class PerturbationCnn : public ModuleImpl<PerturbationCnn> {
 public:
  explicit PerturbationCnn(std::mt19937_64& rng) {
    register_module("features", std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
                                    std::make_shared<Conv2d>(3, 6, 3, rng, Conv2dOptions{.padding = 1}),
                                    std::make_shared<ReLU>(), std::make_shared<MaxPool2d>(2),
                                    std::make_shared<Conv2d>(6, 8, 3, rng, Conv2dOptions{.padding = 1}),
                                    std::make_shared<ReLU>(), std::make_shared<AdaptiveAvgPool2d>(2)}));
    register_module("classifier", std::make_shared<Linear>(32, 5, rng));
  }
  Var forward(const Var& x) const override {
    return child("classifier").forward(flatten(child("features").forward(x), 1, -1, "flatten"));
  }
  std::string type_name() const override { return "SmallCNN"; }
};

inline const SafeTensorsFile& perturbation_fixture() {
  static const SafeTensorsFile f =
      read_safetensors(std::string(BACKLIGHT_TEST_DATA) + "/attribution/perturbation_parity.safetensors");
  return f;
}

inline Tensor perturbation_tensor(const std::string& name) {
  const Tensor* t = perturbation_fixture().find(name);
  REQUIRE_MESSAGE(t, "fixture has no tensor ", name);
  return *t;
}

/// The fixture's network with its stored weights.
inline ModulePtr perturbation_cnn() {
  std::mt19937_64 rng(1);
  auto m = std::make_shared<PerturbationCnn>(rng);
  for (const auto& [name, value] : m->state_dict()) {
    CAPTURE(name);
    REQUIRE(m->set_tensor(name, perturbation_tensor(name)));
  }
  return m;
}

}  // namespace backlight::test
