// ROAR / KAR image modification (attribution/metrics/roar.h): which pixels are replaced, by what,
// the Sobel and random baselines, argument checks.
#include "attribution/metrics/roar.h"
#include <algorithm>

#include "engine/error.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {
bool same(const Tensor& a, const Tensor& b) {
  return a.shape() == b.shape() && std::equal(a.data(), a.data() + a.numel(), b.data());
}
}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("metrics/roar: remove replaces exactly the top-t pixels by the channel means; keep the rest") {
  std::mt19937_64 rng(kSeed + 20);
  const Tensor x = uniform({2, 3, 4, 5}, rng, 0.0f, 1.0f);
  const Tensor a = uniform({2, 1, 4, 5}, rng);  // continuous: no ties
  const std::vector<float> mean = channel_means(x);
  REQUIRE(mean.size() == 3);
  double m0 = 0;
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t j = 0; j < 20; ++j) m0 += x.data()[i * 60 + j];
  CHECK(mean[0] == doctest::Approx(m0 / 40));
  for (double t : {0.0, 0.3, 1.0}) {
    CAPTURE(t);
    const Tensor r = roar_modify(x, a, t, RoarMode::Remove, mean);
    const Tensor k = roar_modify(x, a, t, RoarMode::Keep, mean);
    const int64_t top = std::llround(t * 20);
    for (int64_t i = 0; i < 2; ++i) {
      // A pixel is in the top when fewer than `top` pixels have a larger attribution.
      for (int64_t j = 0; j < 20; ++j) {
        int64_t larger = 0;
        for (int64_t q = 0; q < 20; ++q) larger += a.data()[i * 20 + q] > a.data()[i * 20 + j];
        const bool in_top = larger < top;
        for (int64_t ch = 0; ch < 3; ++ch) {
          const int64_t e = (i * 3 + ch) * 20 + j;
          CHECK(r.data()[e] == (in_top ? mean[static_cast<size_t>(ch)] : x.data()[e]));
          CHECK(k.data()[e] == (in_top ? x.data()[e] : mean[static_cast<size_t>(ch)]));
        }
      }
    }
  }
  CHECK_THROWS_WITH_AS(roar_modify(x, a, 1.5, RoarMode::Remove, mean), doctest::Contains("fraction in [0, 1]"), Error);
  CHECK_THROWS_WITH_AS(roar_modify(x, a, 0.5, RoarMode::Remove, {0.5f}), doctest::Contains("3 channel means"), Error);
  CHECK_THROWS_WITH_AS(roar_modify(x, Tensor::zeros({2, 1, 4, 4}), 0.5, RoarMode::Remove, mean),
                       doctest::Contains("expected attributions"), Error);
}

TEST_CASE("metrics/roar: Sobel ranks a vertical edge highest; random ranking is seeded") {
  Tensor x = Tensor::zeros({1, 1, 5, 6});
  for (int64_t y = 0; y < 5; ++y)
    for (int64_t c = 3; c < 6; ++c) x.data()[y * 6 + c] = 1.0f;
  const Tensor s = sobel_ranking(x);
  REQUIRE(s.shape() == Shape{1, 1, 5, 6});
  for (int64_t y = 0; y < 5; ++y) {
    CHECK(s.data()[y * 6 + 0] == 0.0f);
    CHECK(s.data()[y * 6 + 2] == doctest::Approx(4.0));  // 1 + 2 + 1 across the edge
    CHECK(s.data()[y * 6 + 3] == doctest::Approx(4.0));
    CHECK(s.data()[y * 6 + 5] == 0.0f);
  }
  CHECK(same(random_ranking(x, 3), random_ranking(x, 3)));
  CHECK_FALSE(same(random_ranking(x, 3), random_ranking(x, 4)));
}

}  // TEST_SUITE
