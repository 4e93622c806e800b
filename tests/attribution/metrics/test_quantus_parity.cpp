// Parity with Quantus 0.6 on the same model, attributions and masks
// (tools/reference/make_quantus_fixtures.py -> tests/data/attribution/quantus_metrics.json):
// pointing game, relevance rank and mass accuracy, and pixel_faithfulness = FaithfulnessEstimate.
#include <fstream>

#include <nlohmann/json.hpp>

#include "attribution/metrics/localisation.h"
#include "attribution/metrics/pixel_faithfulness.h"
#include "engine/modules/all.h"
#include "tests/helpers.h"

using namespace backlight;

namespace {

Tensor from_json(const nlohmann::json& j, const Shape& shape) {
  const std::vector<float> v = j.get<std::vector<float>>();
  Tensor t = Tensor::empty(shape);
  REQUIRE(static_cast<int64_t>(v.size()) == t.numel());
  std::copy(v.begin(), v.end(), t.data());
  return t;
}

void check_values(const Tensor& got, const nlohmann::json& want, double tol) {
  const std::vector<double> w = want.get<std::vector<double>>();
  REQUIRE(static_cast<int64_t>(w.size()) == got.numel());
  for (size_t i = 0; i < w.size(); ++i) {
    CAPTURE(i);
    CHECK(got.data()[i] == doctest::Approx(w[i]).epsilon(tol));
  }
}

}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("metrics: localisation and pixel faithfulness equal Quantus 0.6 on the same attributions") {
  std::ifstream f(std::string(BACKLIGHT_TEST_DATA) + "/attribution/quantus_metrics.json");
  REQUIRE(f.good());
  const nlohmann::json j = nlohmann::json::parse(f);
  std::mt19937_64 rng(1);
  const ModulePtr m = std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
      std::make_shared<Flatten>(), std::make_shared<Linear>(64, 16, rng), std::make_shared<ReLU>(),
      std::make_shared<Linear>(16, 3, rng)});
  REQUIRE(m->set_tensor("1.weight", from_json(j["w1"], Shape{16, 64})));
  REQUIRE(m->set_tensor("1.bias", from_json(j["b1"], Shape{16})));
  REQUIRE(m->set_tensor("3.weight", from_json(j["w2"], Shape{3, 16})));
  REQUIRE(m->set_tensor("3.bias", from_json(j["b2"], Shape{3})));
  const Tensor x = from_json(j["x"], Shape{4, 1, 8, 8});
  const Tensor a = from_json(j["a"], Shape{4, 1, 8, 8});
  const Tensor s = from_json(j["s"], Shape{4, 1, 8, 8});
  const Target t = Target::indices(j["y"].get<std::vector<int64_t>>());
  check_values(pointing_game(a, s), j["pointing_game"], 1e-9);
  check_values(relevance_rank_accuracy(a, s), j["relevance_rank_accuracy"], 1e-6);
  check_values(relevance_mass_accuracy(a, s), j["relevance_mass_accuracy"], 1e-5);
  SUBCASE("step 1") { check_values(pixel_faithfulness(*m, x, a, t, {.step = 1}), j["faithfulness_estimate_step1"], 1e-3); }
  SUBCASE("step 4") { check_values(pixel_faithfulness(*m, x, a, t, {.step = 4}), j["faithfulness_estimate_step4"], 1e-3); }
}

}  // TEST_SUITE
