// Network dissection's bad images and resume (attribution/concepts/dissection.h, options.skip and
// options.units): an image whose load throws is left out and the result equals the dataset
// without it; a store of units makes a rerun load them, and a lost unit is computed again, with
// the same Dissection bit for bit.
#include <fstream>
#include <map>
#include <random>

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include "attribution/concepts/dissection.h"
#include "engine/error.h"
#include "engine/modules/all.h"
#include "tools/cli/concept_data.h"

using namespace backlight;

namespace {

// The tiny conv model of the dissection fixture (tests/data/dissection_fixture.json).
ModulePtr fixture_model() {
  std::ifstream in(std::string(BACKLIGHT_TEST_DATA) + "/dissection_fixture.json");
  REQUIRE(in.good());
  const nlohmann::json j = nlohmann::json::parse(in);
  std::mt19937_64 rng(0);
  auto m = std::make_shared<Sequential>();
  m->add("0", std::make_shared<Conv2d>(3, 4, Size2(3), rng, Conv2dOptions{.padding = Size2(1)}))
      .add("1", std::make_shared<ReLU>())
      .add("2", std::make_shared<MaxPool2d>(Size2(2)))
      .add("3", std::make_shared<Conv2d>(4, 5, Size2(3), rng, Conv2dOptions{.padding = Size2(1)}));
  for (const auto& [name, p] : j["params"].items()) {
    Tensor t = Tensor::empty(Shape(p["shape"].get<std::vector<int64_t>>()));
    const std::vector<float> data = p["data"].get<std::vector<float>>();
    std::copy(data.begin(), data.end(), t.data());
    REQUIRE(m->set_tensor(name, t));
  }
  return m;
}

// Units in memory.
class MemoryStore : public UnitStore {
 public:
  std::optional<std::string> load(const std::string& key) const override {
    const auto it = units.find(key);
    return it == units.end() ? std::nullopt : std::optional<std::string>(it->second);
  }
  void store(const std::string& key, std::string_view bytes) override { units[key] = std::string(bytes); }
  std::map<std::string, std::string> units;
};

// `base` with image `bad` either throwing on load (`drop` false) or not listed at all.
class Faulty : public ConceptSource {
 public:
  Faulty(const ConceptSource& base, int64_t bad, bool drop) : base_(base), bad_(bad), drop_(drop) {}
  const std::vector<Concept>& concepts() const override { return base_.concepts(); }
  int64_t size() const override { return base_.size() - (drop_ ? 1 : 0); }
  ConceptImage load(int64_t i) const override {
    if (!drop_ && i == bad_) throw Error("cannot decode image " + std::to_string(i));
    return base_.load(drop_ && i >= bad_ ? i + 1 : i);
  }
  std::string name(int64_t i) const override { return base_.name(drop_ && i >= bad_ ? i + 1 : i); }

 private:
  const ConceptSource& base_;
  int64_t bad_;
  bool drop_;
};

DissectionOptions options(bool exact) {
  return {.layer = "3", .quantile = 0.05, .exact = exact, .batch = 3, .input_shape = {3, 16, 16},
          .progress = {.enabled = false}};
}

void check_same(const Dissection& a, const Dissection& b) {
  CHECK(a.intersections == b.intersections);
  CHECK(a.unions == b.unions);
  CHECK(a.iou == b.iou);
  REQUIRE(a.units.size() == b.units.size());
  for (size_t k = 0; k < a.units.size(); ++k) {
    CHECK(a.units[k].threshold == b.units[k].threshold);
    CHECK(a.units[k].top_images == b.units[k].top_images);
  }
}

}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("dissection: a store of units resumes; a lost unit is computed again, the result bit for bit") {
  const ModulePtr model = fixture_model();
  const cli::FolderConcepts data(std::string(BACKLIGHT_TEST_DATA) + "/dissection", 1 << 20);
  for (bool exact : {false, true}) {
    CAPTURE(exact);
    const Dissection plain = dissect(*model, data, options(exact));
    CHECK(plain.units_here == 0);
    MemoryStore store;
    DissectionOptions o = options(exact);
    o.units = &store;
    const Dissection first = dissect(*model, data, o);
    CHECK(first.units_here == 8);  // 4 batches: activations and IoU counts
    CHECK(first.resumed_here == 0);
    CHECK(store.units.size() == 8);
    check_same(first, plain);
    store.units.erase("acts-2");
    store.units["iou-1"] = "not a unit";  // another layout: computed again
    const Dissection second = dissect(*model, data, o);
    CHECK(second.resumed_here == 6);
    check_same(second, plain);
  }
}

TEST_CASE("dissection: an image that does not load is reported and left out; the result is the dataset's without it") {
  const ModulePtr model = fixture_model();
  const cli::FolderConcepts data(std::string(BACKLIGHT_TEST_DATA) + "/dissection", 1 << 20);
  const Faulty with(data, 4, false), without(data, 4, true);
  for (bool exact : {false, true}) {
    CAPTURE(exact);
    CHECK_THROWS_WITH_AS(dissect(*model, with, options(exact)), doctest::Contains("cannot decode image 4"), Error);
    std::vector<int64_t> reported;
    DissectionOptions o = options(exact);
    o.skip = [&](int64_t i, const std::string& error) {
      reported.push_back(i);
      CHECK(error == "cannot decode image 4");
    };
    Dissection d = dissect(*model, with, o);
    CHECK(reported == std::vector<int64_t>{4});
    REQUIRE(d.skipped.size() == 1);
    CHECK(d.skipped[0].first == 4);
    CHECK(d.images == 9);
    const Dissection ref = dissect(*model, without, options(exact));
    // The batch that held the bad image has one image fewer, and a batched forward's last bits
    // depend on its batch: activations agree to float rounding, counts exactly. Top images by
    // index: images after the dropped one are one lower in `without`.
    CHECK(d.intersections == ref.intersections);
    CHECK(d.unions == ref.unions);
    REQUIRE(d.units.size() == ref.units.size());
    for (size_t k = 0; k < d.units.size(); ++k) {
      CHECK(d.units[k].threshold == doctest::Approx(ref.units[k].threshold).epsilon(1e-5));
      REQUIRE(d.units[k].top_images.size() == ref.units[k].top_images.size());
      for (size_t t = 0; t < d.units[k].top_images.size(); ++t) {
        const auto [v, i] = d.units[k].top_images[t];
        CHECK(i - (i > 4 ? 1 : 0) == ref.units[k].top_images[t].second);
        CHECK(v == doctest::Approx(ref.units[k].top_images[t].first).epsilon(1e-5));
      }
    }
  }
}

}  // TEST_SUITE
