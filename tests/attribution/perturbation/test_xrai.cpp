// XRAI: segments and region maps equal PAIR saliency's (fixture: tools/reference/make_xrai_fixtures.py);
// the method end to end on a small CNN and through the registry.
#include <numeric>
#include <set>

#include "attribution/perturbation/xrai.h"
#include "attribution/registry.h"
#include "tests/attribution/perturbation_fixture.h"
#include "tests/attribution/xrai_fixture.h"

using namespace backlight;
using namespace backlight::test;

namespace {

XraiSegmentOptions fixture_segment_options(const std::string& name) {
  const Tensor p = xrai_tensor("xrai/" + name + "/params");  // min_size, radius, scales...
  XraiSegmentOptions o{.scales = {p.data() + 2, p.data() + p.numel()},
                       .min_size = static_cast<int64_t>(p.data()[0]),
                       .dilation_radius = static_cast<int>(p.data()[1]),
                       .reference_side = 0};
  return o;
}

}  // namespace

TEST_SUITE("attribution") {
  TEST_CASE("xrai: segments equal PAIR's _get_segments_felzenszwalb (no resize)") {
    for (const char* name : {"a", "b"}) {
      CAPTURE(name);
      const Tensor got = xrai_segments(xrai_tensor(std::string("xrai/") + name + "/image"), fixture_segment_options(name));
      const Tensor want = xrai_tensor(std::string("xrai/") + name + "/segments");
      REQUIRE(got.shape() == want.shape());
      CHECK(count_different(got, want) == 0);
    }
  }

  TEST_CASE("xrai: region map and ranks equal PAIR's XRAI._xrai on the same attribution and segments") {
    for (const char* name : {"a", "b"}) {
      CAPTURE(name);
      const std::string key = std::string("xrai/") + name;
      const XraiRegions r = xrai_regions(xrai_tensor(key + "/attribution"), xrai_tensor(key + "/segments"));
      CHECK(r.gains.size() >= 3);
      CHECK(count_different(r.ranks, xrai_tensor(key + "/ranks")) == 0);
      // float32 storage of PAIR's float64 gains: our gains use numpy's summation order, so equal once rounded.
      CHECK(count_different(r.map, xrai_tensor(key + "/map")) == 0);
      for (size_t i = 1; i < r.gains.size(); ++i) CHECK(r.gains[i - 1] >= r.gains[i] - 1.0);  // finite, ordered loosely
    }
  }

  TEST_CASE("xrai: regions cover the image; errors name the problem") {
    const Tensor attr = xrai_tensor("xrai/b/attribution");
    const XraiRegions r = xrai_regions(attr, xrai_tensor("xrai/b/segments"), 1, 1.0);
    // ranks: every pixel has one, 1 .. R (+1 for an uncovered rest)
    const float top = *std::max_element(r.ranks.data(), r.ranks.data() + r.ranks.numel());
    CHECK(top >= float(r.gains.size()));
    CHECK(*std::min_element(r.ranks.data(), r.ranks.data() + r.ranks.numel()) == 1.0f);
    CHECK_THROWS_WITH_AS(xrai_regions(attr, Tensor::zeros(Shape{2, 3, 3})), doctest::Contains("matching the attribution"),
                         backlight::Error);
    CHECK_THROWS_WITH_AS(xrai_segments(Tensor::zeros(Shape{3, 8, 8})), doctest::Contains("distinct values"),
                         backlight::Error);
  }

  TEST_CASE("xrai: top-fraction masks select the highest-ranked regions") {
    const Tensor map = Tensor::from(Shape{2, 5}, {5, 5, 4, 4, 4, 3, 3, 2, 1, 0});
    const Tensor m10 = xrai_top_mask(map, 0.1), m30 = xrai_top_mask(map, 0.3);
    CHECK(std::accumulate(m10.data(), m10.data() + 10, 0.0f) == 2.0f);  // the tied top region, whole
    CHECK(std::accumulate(m30.data(), m30.data() + 10, 0.0f) == 5.0f);  // threshold 4: the second region too
    CHECK_THROWS_AS(xrai_top_mask(map, 1.5), backlight::Error);
  }

  TEST_CASE("xrai: the method on a CNN, default IG and a named base method; registry entry") {
    const ModulePtr m = perturbation_cnn();
    std::mt19937_64 rng(0xdeadbeef);
    const Tensor x = uniform(Shape{2, 3, 40, 40}, rng, 0.0f, 1.0f);  // the CNN pools adaptively: any size
    const int64_t n = x.size(0), h = x.size(2), w = x.size(3);
    const AttributionResult r = xrai(*m, x, Target::index(1), {.steps = 8});
    REQUIRE(r.attribution.shape() == Shape{n, 1, h, w});
    CHECK(r.target.size() == size_t(n));
    // The map is piecewise constant over regions: far fewer distinct values than pixels.
    std::set<float> values(r.attribution.data(), r.attribution.data() + h * w);
    CHECK(values.size() < size_t(h * w) / 4);
    const AttributionResult s = xrai(*m, x, Target::index(1), {.base_method = "saliency"});
    CHECK(s.attribution.shape() == r.attribution.shape());
    CHECK(count_different(s.attribution, r.attribution) > 0);
    MethodOptions mo;
    mo.steps = 8;
    const AttributionResult via = attribute("xrai", *m, x, Target::index(1), mo);
    CHECK(count_different(via.attribution, r.attribution) == 0);
    CHECK_THROWS_WITH_AS(xrai(*m, x, Target::index(1), {.base_method = "no_such_method"}), doctest::Contains("no_such_method"),
                         backlight::Error);
  }
}
