// Network dissection against a direct numpy implementation (tools/reference/
// make_dissection_fixtures.py: tiny conv model, 10 images with PNG and .npy masks at two
// resolutions, tests/data/dissection/), exact and one-pass thresholds, batch-size invariance,
// the upsampling, and error texts.
#include <cmath>
#include <fstream>
#include <random>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "attribution/concepts/dissection.h"
#include "engine/error.h"
#include "engine/modules/all.h"
#include "tools/cli/concept_data.h"

using namespace backlight;

namespace {

struct Fixture {
  nlohmann::json j;
  ModulePtr model;
};

Fixture load_fixture() {
  Fixture f;
  std::ifstream in(std::string(BACKLIGHT_TEST_DATA) + "/dissection_fixture.json");
  REQUIRE(in.good());
  f.j = nlohmann::json::parse(in);
  std::mt19937_64 rng(0);
  auto m = std::make_shared<Sequential>();
  m->add("0", std::make_shared<Conv2d>(3, 4, Size2(3), rng, Conv2dOptions{.padding = Size2(1)}))
      .add("1", std::make_shared<ReLU>())
      .add("2", std::make_shared<MaxPool2d>(Size2(2)))
      .add("3", std::make_shared<Conv2d>(4, 5, Size2(3), rng, Conv2dOptions{.padding = Size2(1)}));
  for (const auto& [name, p] : f.j["params"].items()) {
    std::vector<int64_t> shape = p["shape"].get<std::vector<int64_t>>();
    Tensor t = Tensor::empty(Shape(shape));
    const std::vector<float> data = p["data"].get<std::vector<float>>();
    std::copy(data.begin(), data.end(), t.data());
    REQUIRE(m->set_tensor(name, t));
  }
  f.model = m;
  return f;
}

DissectionOptions fixture_options(const Fixture& f, bool exact, int64_t batch) {
  return {.layer = "3",
          .quantile = f.j["quantile"].get<double>(),
          .exact = exact,
          .batch = batch,
          .input_shape = {3, 16, 16},
          .progress = {.enabled = false}};
}

}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("dissection: exact thresholds and IoU counts match the numpy reference") {
  const Fixture f = load_fixture();
  const cli::FolderConcepts data(std::string(BACKLIGHT_TEST_DATA) + "/dissection", 1 << 20);
  REQUIRE(data.size() == 10);
  REQUIRE(data.concepts().size() == 3);
  for (int64_t batch : {1, 3, 10}) {
    CAPTURE(batch);
    const Dissection d = dissect(*f.model, data, fixture_options(f, true, batch));
    CHECK(d.passes == 3);
    REQUIRE(d.units.size() == 5);
    for (size_t k = 0; k < 5; ++k) {
      CAPTURE(k);
      const double t = f.j["thresholds"][k].get<double>();
      CHECK(d.units[k].threshold == doctest::Approx(t).epsilon(1e-5));
      for (size_t c = 0; c < 3; ++c) {
        CAPTURE(c);
        // float32 activations against float64 ones: upsampled pixels that land on a source
        // sample (weights 0 and 1 up to rounding) reproduce T_k itself up to rounding and may
        // flip; the unit of T_k sits on a few of them at 3x upsampling.
        CHECK(std::abs(d.intersections[k * 3 + c] - f.j["intersections"][k][c].get<int64_t>()) <= 4);
        CHECK(std::abs(d.unions[k * 3 + c] - f.j["unions"][k][c].get<int64_t>()) <= 4);
      }
    }
  }
}

TEST_CASE("dissection: one-pass thresholds are within the sketch bound of the exact ones") {
  const Fixture f = load_fixture();
  const cli::FolderConcepts data(std::string(BACKLIGHT_TEST_DATA) + "/dissection", 1 << 20);
  DissectionOptions o = fixture_options(f, false, 4);
  o.sketch_accuracy = 1e-3;
  const Dissection d = dissect(*f.model, data, o);
  CHECK(d.passes == 2);
  for (size_t k = 0; k < 5; ++k) {
    const double t = f.j["thresholds"][k].get<double>();
    CHECK(d.units[k].threshold_bounded);
    CHECK(std::fabs(d.units[k].threshold - t) <= 1e-3 * std::fabs(t) * 1.0001 + 1e-6);
  }
  // Detector rule and best concept from the counts.
  for (const UnitDissection& u : d.units) {
    double best = 0;
    for (size_t c = 0; c < 3; ++c) best = std::max(best, d.iou[u.unit * 3 + c]);
    CHECK(u.iou == best);
    CHECK(u.detector == (u.iou > 0.04));
    CHECK(u.top_images.size() == 4);
    CHECK(u.top_images[0].first >= u.top_images[3].first);
  }
  int64_t total = 0;
  for (const auto& [cat, n] : detectors_per_category(d)) total += n;
  int64_t direct = 0;
  for (const UnitDissection& u : d.units) direct += u.detector;
  CHECK(total == direct);
}

TEST_CASE("dissection: bilinear upsampling (align_corners=False) and binarisation") {
  const std::vector<float> m = {0, 1, 2, 3};  // [2, 2]
  const std::vector<double> r = resize_plane_bilinear(m, 2, 2, 4, 4);
  // Rows/columns at source positions -0.25 (clamped to 0), 0.25, 0.75, 1.25 (clamped neighbour).
  CHECK(r[0] == doctest::Approx(0.0));
  CHECK(r[1] == doctest::Approx(0.25));
  CHECK(r[2] == doctest::Approx(0.75));
  CHECK(r[3] == doctest::Approx(1.0));
  CHECK(r[15] == doctest::Approx(3.0));
  CHECK(r[5] == doctest::Approx(0.25 * 0.75 * 1 + 0.75 * 0.25 * 2 + 0.25 * 0.25 * 3));
  const std::vector<uint8_t> b = binarized_unit_map(m, 2, 2, 2.5, 4, 4);
  int on = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    on += b[i];
    CHECK(b[i] == (r[i] >= 2.5));
  }
  CHECK(on > 0);
}

TEST_CASE("dissection: errors name the problem") {
  const Fixture f = load_fixture();
  const cli::FolderConcepts data(std::string(BACKLIGHT_TEST_DATA) + "/dissection", 1 << 20);
  DissectionOptions o = fixture_options(f, false, 4);
  o.layer = "nope";
  CHECK_THROWS_WITH_AS(dissect(*f.model, data, o), doctest::Contains("nope"), Error);
  o = fixture_options(f, false, 4);
  o.quantile = 1.5;
  CHECK_THROWS_WITH_AS(dissect(*f.model, data, o), doctest::Contains("quantile in (0, 1)"), Error);
  auto lin = std::make_shared<Sequential>();
  std::mt19937_64 rng(1);
  lin->add("flat", std::make_shared<Flatten>()).add("fc", std::make_shared<Linear>(3 * 16 * 16, 4, rng));
  o = fixture_options(f, false, 4);
  o.layer = "fc";
  CHECK_THROWS_WITH_AS(dissect(*lin, data, o), doctest::Contains("expected [N, K, h, w]"), Error);
}

}  // TEST_SUITE
