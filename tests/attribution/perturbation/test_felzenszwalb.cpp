// Felzenszwalb segmentation equals scikit-image 0.19's felzenszwalb label for label (fixture:
// tools/reference/make_xrai_fixtures.py), including numpy's argsort order of tied edge weights.
#include <algorithm>
#include <map>

#include "attribution/perturbation/felzenszwalb.h"
#include "tests/attribution/xrai_fixture.h"

using namespace backlight;
using namespace backlight::test;

namespace {

// True when a and b are the same partition (a bijection between their labels).
bool same_partition(const Tensor& a, const Tensor& b) {
  std::map<float, float> ab, ba;
  for (int64_t i = 0; i < a.numel(); ++i) {
    const auto [it, fresh] = ab.emplace(a.data()[i], b.data()[i]);
    const auto [jt, fresh2] = ba.emplace(b.data()[i], a.data()[i]);
    if (it->second != b.data()[i] || jt->second != a.data()[i]) return false;
  }
  return true;
}

}  // namespace

TEST_SUITE("attribution") {
  TEST_CASE("felzenszwalb: label maps equal scikit-image's") {
    for (const char* name : {"smooth", "shapes", "quantised", "gray", "five", "smooth_large_sigma", "quantised_sigma0"}) {
      CAPTURE(name);
      const std::string key = std::string("felz/") + name;
      const Tensor p = xrai_tensor(key + "/params");
      const FelzenszwalbOptions o{.scale = p.data()[0], .sigma = p.data()[1],
                                  .min_size = static_cast<int64_t>(p.data()[2])};
      const Tensor got = felzenszwalb_segments(xrai_tensor(key + "/image"), o);
      const Tensor want = xrai_tensor(key + "/labels");
      CHECK(same_partition(got, want));
      CHECK(count_different(got, want) == 0);  // skimage's numbering too (first pixel order)
    }
  }

  TEST_CASE("felzenszwalb: numpy_argsort equals numpy 1.24 np.argsort on ties") {
    const Tensor v = xrai_tensor("argsort/values"), want = xrai_tensor("argsort/order");
    const std::vector<double> values(v.data(), v.data() + v.numel());
    const std::vector<int64_t> got = detail::numpy_argsort(values);
    int64_t mismatches = 0;
    for (int64_t i = 0; i < v.numel(); ++i) mismatches += got[i] != static_cast<int64_t>(want.data()[i]);
    CHECK(mismatches == 0);
    // Sorted, and a permutation of a stable order it is not (ties do get reordered).
    bool sorted = true, stable = true;
    for (size_t i = 1; i < got.size(); ++i) {
      sorted = sorted && values[got[i - 1]] <= values[got[i]];
      stable = stable && (values[got[i - 1]] < values[got[i]] || got[i - 1] < got[i]);
    }
    CHECK(sorted);
    CHECK_FALSE(stable);
  }

  TEST_CASE("felzenszwalb: the scipy Gaussian kernel sums to one and is symmetric") {
    const std::vector<double> k = detail::scipy_gaussian_kernel(0.8, 3);
    REQUIRE(k.size() == 7);
    double sum = 0;
    for (double v : k) sum += v;
    CHECK(sum == doctest::Approx(1.0).epsilon(1e-15));
    for (int i = 0; i < 3; ++i) CHECK(k[i] == k[6 - i]);
  }

  TEST_CASE("felzenszwalb: a two-colour image gives two segments; bad inputs throw") {
    Tensor im = Tensor::zeros(Shape{3, 12, 16});
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t y = 0; y < 12; ++y)
        for (int64_t x = 8; x < 16; ++x) im.data()[(c * 12 + y) * 16 + x] = 1.0f;
    const Tensor l = felzenszwalb_segments(im, {.scale = 1, .sigma = 0, .min_size = 5});
    CHECK(l.data()[0] == 0.0f);
    CHECK(l.data()[15] == 1.0f);
    CHECK(*std::max_element(l.data(), l.data() + l.numel()) == 1.0f);
    CHECK_THROWS_WITH_AS(felzenszwalb_segments(Tensor::zeros(Shape{4, 4})), doctest::Contains("expected an image [C, H, W]"),
                         backlight::Error);
    CHECK_THROWS_WITH_AS(felzenszwalb_segments(im, {.scale = 0}), doctest::Contains("expected scale > 0"),
                         backlight::Error);
  }
}
