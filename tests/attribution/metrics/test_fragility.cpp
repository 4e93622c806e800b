// Explanation fragility (attribution/metrics/fragility.h, Ghorbani et al. 2019): top-k
// intersection and Spearman rank correlation on hand-made maps with known answers.
#include <doctest/doctest.h>

#include "attribution/metrics/fragility.h"
#include "engine/error.h"

using namespace backlight;

TEST_SUITE("attribution") {

TEST_CASE("fragility: identical maps score 1, reversed maps -1, partial top-k overlap") {
  Tensor a = Tensor::empty({1, 2, 2, 5});  // [N, C, H, W]: saliency = |.| summed over 2 channels
  for (int64_t i = 0; i < 10; ++i) a.data()[i] = float(i), a.data()[10 + i] = -float(i);  // 2i per position
  const FragilityResult same = explanation_fragility(a, a, 3);
  CHECK(same.k == 3);
  CHECK(same.top_k_intersection[0] == 1.0);
  CHECK(same.spearman[0] == doctest::Approx(1.0));

  Tensor rev = Tensor::empty(a.shape());
  for (int64_t i = 0; i < 10; ++i) rev.data()[i] = float(9 - i), rev.data()[10 + i] = 0;
  const FragilityResult r = explanation_fragility(a, rev, 3);
  CHECK(r.top_k_intersection[0] == 0.0);
  CHECK(r.spearman[0] == doctest::Approx(-1.0));

  // Swap the top two with positions 0 and 1: top-4 {6,7,8,9} -> {0,1,6,7}: half shared.
  Tensor sw = a.clone();
  std::swap(sw.data()[8], sw.data()[0]), std::swap(sw.data()[9], sw.data()[1]);
  std::swap(sw.data()[18], sw.data()[10]), std::swap(sw.data()[19], sw.data()[11]);
  CHECK(explanation_fragility(a, sw, 4).top_k_intersection[0] == 0.5);
  CHECK(explanation_fragility(a, sw).k == 1);  // default: 10 % of 10 positions

  // Spearman with ties: average ranks (scipy.stats.spearmanr([1,2,2,3],[1,3,2,4]) = 0.9486833).
  CHECK(spearman_correlation({1, 2, 2, 3}, {1, 3, 2, 4}) == doctest::Approx(0.9486833));
  CHECK_THROWS_WITH_AS(explanation_fragility(a, Tensor::zeros({1, 10})), doctest::Contains("same shape"), Error);
}

}  // TEST_SUITE
