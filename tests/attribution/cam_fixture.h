#pragma once
// The Captum fixture of tools/reference/make_cam_fixtures.py: its CNN built from engine modules
// with the stored state_dict, the input, the targets, and the parity criterion
// (max |got - ref| <= 1e-4 * max |ref|).
#include <cmath>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/modules/all.h"
#include "models/safetensors.h"
#include "tests/helpers.h"

namespace backlight::test {

inline const SafeTensorsFile& cam_fixture() {
  static const SafeTensorsFile f = read_safetensors(BACKLIGHT_TEST_DATA "/attribution/cam_captum.safetensors");
  return f;
}

/// Sequential(conv(3,6,3,p=1), relu, maxpool(2), conv(6,8,3,p=1), relu, adaptive_avgpool(1), flatten,
/// linear(8,5)) with the fixture's weights.
inline ModulePtr cam_fixture_model() {
  std::mt19937_64 rng(kSeed);
  ModulePtr m = std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
      std::make_shared<Conv2d>(3, 6, 3, rng, Conv2dOptions{.padding = 1}), std::make_shared<ReLU>(),
      std::make_shared<MaxPool2d>(2), std::make_shared<Conv2d>(6, 8, 3, rng, Conv2dOptions{.padding = 1}),
      std::make_shared<ReLU>(), std::make_shared<AdaptiveAvgPool2d>(1), std::make_shared<Flatten>(),
      std::make_shared<Linear>(8, 5, rng)});
  for (const auto& [name, t] : m->state_dict()) {
    (void)t;
    REQUIRE_MESSAGE(m->set_tensor(name, cam_fixture().at(name)), name);
  }
  return m;
}

inline std::vector<int64_t> cam_fixture_targets() {
  std::vector<int64_t> out;
  for (float v : cam_fixture().at("targets").span()) out.push_back(static_cast<int64_t>(v));
  return out;
}

/// The parity criterion of the Captum fixtures; reports the error it found.
inline void check_parity(const Tensor& got, const Tensor& ref, const std::string& what) {
  REQUIRE_MESSAGE(got.shape() == ref.shape(), what, ": shape ", got.shape(), " vs ", ref.shape());
  double worst = 0;
  for (int64_t i = 0; i < got.numel(); ++i)
    worst = std::max(worst, static_cast<double>(std::fabs(got.data()[i] - ref.data()[i])));
  const double scale = max_abs(ref);
  MESSAGE(what, ": max abs err ", worst, " (", worst / scale, " x max |ref| = ", scale, ")");
  CHECK_MESSAGE(worst <= 1e-4 * scale, what);
}
#define BL_CHECK_PARITY(got, ref) ::backlight::test::check_parity(got, ref, #ref)

}  // namespace backlight::test
