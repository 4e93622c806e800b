#pragma once
// The ONNX tests' PyTorch references: tensors of a committed safetensors fixture under
// tests/data/onnx/ (written by tools/reference/), and the error measure the tests compare with.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <string>

#include "engine/tensor.h"
#include "models/safetensors.h"
#include "tests/helpers.h"

namespace backlight::test {

/// tests/data/onnx/<file>, read once per test binary.
inline const SafeTensorsFile& onnx_refs(const std::string& file) {
  static std::map<std::string, SafeTensorsFile> cache;
  auto it = cache.find(file);
  if (it == cache.end()) it = cache.emplace(file, read_safetensors(BACKLIGHT_TEST_DATA "/onnx/" + file)).first;
  return it->second;
}

/// Tensor `key` of tests/data/onnx/<file>; fails the test naming both when it is missing.
inline const Tensor& onnx_fixture(const std::string& file, const std::string& key) {
  const Tensor* t = onnx_refs(file).find(key);
  REQUIRE_MESSAGE(t, file, " has no tensor ", key);
  return *t;
}

/// max |got - want| / max |want| (shapes must match).
inline double onnx_rel_err(const Tensor& got, const Tensor& want) {
  REQUIRE_MESSAGE(got.shape() == want.shape(), got.shape().str(), " vs ", want.shape().str());
  double worst = 0;
  for (int64_t i = 0; i < want.numel(); ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(got.data()[i]) - want.data()[i]));
  return worst / max_abs(want);
}

}  // namespace backlight::test
