#pragma once
// tests/data/attribution/xrai_parity.safetensors (tools/reference/make_xrai_fixtures.py): skimage
// felzenszwalb label maps, numpy argsort, and PAIR saliency's XRAI segments and region maps.
#include <string>

#include "models/safetensors.h"
#include "tests/helpers.h"

namespace backlight::test {

inline const SafeTensorsFile& xrai_fixture() {
  static const SafeTensorsFile f =
      read_safetensors(std::string(BACKLIGHT_TEST_DATA) + "/attribution/xrai_parity.safetensors");
  return f;
}

inline Tensor xrai_tensor(const std::string& name) {
  const Tensor* t = xrai_fixture().find(name);
  REQUIRE_MESSAGE(t, "fixture has no tensor ", name);
  return *t;
}

// Number of positions where a and b differ (same numel required).
inline int64_t count_different(const Tensor& a, const Tensor& b) {
  REQUIRE(a.numel() == b.numel());
  int64_t d = 0;
  for (int64_t i = 0; i < a.numel(); ++i) d += a.data()[i] != b.data()[i];
  return d;
}

}  // namespace backlight::test
