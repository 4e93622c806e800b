// Synthetic weights: the C++ hash equals its Python twin (tools/reference/synthetic_weights.py)
// bit for bit (values in the metadata of tests/data/models/zoo_parity.safetensors), the per-key
// rules give the documented ranges, and filling never writes into shared storage.
#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "engine/error.h"
#include "models/safetensors.h"
#include "models/synthetic_weights.h"
#include "models/zoo.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

Tensor entry(const Module& m, const std::string& key) {  // by value: state_dict() is a temporary
  for (const auto& [k, t] : m.state_dict())
    if (k == key) return t;
  FAIL("no state_dict key ", key);
  throw;
}

void check_range(const Module& m, const std::string& key, double lo, double hi) {
  const auto v = entry(m, key).to_vector();
  const auto [mn, mx] = std::minmax_element(v.begin(), v.end());
  CAPTURE(key);
  CHECK(*mn >= lo);
  CHECK(*mx < hi);
  CHECK(*mx - *mn > 0.5 * (hi - lo));  // spread over the range, not constant
}

}  // namespace

TEST_SUITE("models") {

TEST_CASE("synthetic weights: the C++ hash equals the Python twin bit for bit") {
  const SafeTensorsFile f = read_safetensors(BACKLIGHT_TEST_DATA "/models/zoo_parity.safetensors");
  const auto checks = nlohmann::json::parse(f.metadata.at("hash_checks"));
  REQUIRE(checks.size() >= 4);
  for (const auto& h : checks) {
    const auto name = h.at("name").get<std::string>();
    CAPTURE(name);
    CHECK(std::to_string(synthetic_bits(h.at("seed").get<uint64_t>(), name, h.at("index").get<uint64_t>())) ==
          h.at("bits").get<std::string>());
  }
}

TEST_CASE("synthetic weights: rules by key, deterministic, fresh storage") {
  auto model = make_model("resnet18", {.num_classes = 4});
  const ModulePtr copy = model->clone();
  const Tensor old_conv = model->find("conv1")->parameter("weight");
  const auto old_values = old_conv.to_vector();
  fill_synthetic(*model, 3);
  check_range(*model, "bn1.running_var", 0.5, 2.0);
  check_range(*model, "bn1.running_mean", -0.1, 0.1);
  check_range(*model, "bn1.weight", 0.5, 1.5);
  check_range(*model, "bn1.bias", -0.1, 0.1);
  check_range(*model, "fc.bias", -0.1, 0.1);
  const double bound = std::sqrt(6.0 / (3 * 7 * 7));
  check_range(*model, "conv1.weight", -bound, bound);
  CHECK(entry(*model, "bn1.num_batches_tracked").item() == 0.0f);
  CHECK(old_conv.to_vector() == old_values);  // the previous tensor was replaced, not overwritten
  CHECK_FALSE(model->find("conv1")->parameter("weight").shares_storage(old_conv));

  fill_synthetic(*copy, 3);
  for (const auto& [k, t] : model->state_dict()) {
    CAPTURE(k);
    CHECK(t.to_vector() == entry(*copy, k).to_vector());
  }
  fill_synthetic(*copy, 4);
  CHECK(entry(*copy, "conv1.weight").to_vector() != entry(*model, "conv1.weight").to_vector());

  const Tensor a = synthetic_uniform({1000}, 1, "x", -1, 1);
  CHECK(a.to_vector() == synthetic_uniform({1000}, 1, "x", -1, 1).to_vector());
  CHECK(a.to_vector() != synthetic_uniform({1000}, 1, "y", -1, 1).to_vector());
  CHECK(a.to_vector() != synthetic_uniform({1000}, 2, "x", -1, 1).to_vector());
  CHECK_THROWS_WITH_AS(synthetic_uniform({2}, 1, "x", 1, -1), doctest::Contains("expected lo <= hi"), Error);
}

}  // TEST_SUITE
