// Fragility under a perturbation (attribution/metrics/fragility_attack.h, Ghorbani et al. 2019)
// on the embedded shapes model: epsilon 0 changes nothing, the random sign perturbation moves
// every value by exactly epsilon within the bounds, a larger budget moves the map more, errors.
#include <doctest/doctest.h>

#include <cmath>

#include "attribution/metrics/fragility_attack.h"
#include "engine/error.h"
#include "models/default_model.h"
#include "tests/attribution/metrics/shapes_batch.h"

using namespace backlight;

TEST_SUITE("attribution") {

TEST_CASE("fragility_attack: epsilon 0 keeps the map; random sign moves each value by epsilon; more budget, more change") {
  if (!default_model_available()) return;
  const ModulePtr model = default_model();
  std::vector<int64_t> labels;
  const Tensor x = test::shapes_batch(labels, 3);
  const Target t = Target::indices(labels);

  const FragilityResult none = attack_fragility("saliency", *model, x, t, {}, {.epsilon = 0});
  REQUIRE(none.top_k_intersection.size() == 3);
  for (size_t i = 0; i < 3; ++i) {
    CHECK(none.top_k_intersection[i] == 1.0);
    CHECK(none.spearman[i] == doctest::Approx(1.0));
  }
  const int64_t positions = x.size(2) * x.size(3);
  CHECK(none.k == std::llround(0.02 * positions));  // the paper's 2 %

  const FragilityOptions sign{.epsilon = 0.05f, .lower_bound = 0, .upper_bound = 1, .seed = 3};
  const Tensor xp = fragility_perturbation(*model, x, labels, sign);
  int64_t moved = 0;
  for (int64_t k = 0; k < x.numel(); ++k) {
    const float d = std::fabs(xp.data()[k] - x.data()[k]);
    CHECK_UNARY(xp.data()[k] >= 0.0f && xp.data()[k] <= 1.0f);
    CHECK_UNARY(d <= 0.05f + 1e-6f);
    moved += d > 0.049f;
  }
  CHECK(moved > x.numel() / 4);  // away from the bounds every value moves by epsilon

  double small = 0, large = 0;
  const FragilityResult a = attack_fragility("saliency", *model, x, t, {}, {.epsilon = 0.002f, .seed = 3});
  const FragilityResult b = attack_fragility("saliency", *model, x, t, {}, {.epsilon = 0.2f, .seed = 3});
  for (size_t i = 0; i < 3; ++i) small += a.spearman[i], large += b.spearman[i];
  CHECK(small > large);
  for (double v : b.top_k_intersection) CHECK_UNARY(v >= 0.0 && v <= 1.0);

  // FGSM and PGD run through attribution/robustness and stay in the budget.
  const FragilityResult f = attack_fragility("saliency", *model, x, t, {},
                                             {.attack = FragilityAttack::Pgd, .epsilon = 8.0f / 255, .steps = 2, .top_k = 10,
                                              .lower_bound = 0, .upper_bound = 1});
  CHECK(f.k == 10);
  const Tensor xf = fragility_perturbation(*model, x, labels,
                                           {.attack = FragilityAttack::Fgsm, .epsilon = 0.01f, .lower_bound = 0, .upper_bound = 1});
  for (int64_t k = 0; k < x.numel(); ++k) CHECK_UNARY(std::fabs(xf.data()[k] - x.data()[k]) <= 0.01f + 1e-6f);
}

TEST_CASE("fragility_attack: names and errors") {
  CHECK(fragility_attack_from_string("pgd") == FragilityAttack::Pgd);
  CHECK(to_string(FragilityAttack::RandomSign) == "random_sign");
  CHECK_THROWS_WITH_AS(fragility_attack_from_string("fgsm2"), doctest::Contains("accepted: random_sign, fgsm, pgd, topk"),
                       Error);
  if (!default_model_available()) return;
  const ModulePtr model = default_model();
  std::vector<int64_t> labels;
  const Tensor x = test::shapes_batch(labels, 1);
  CHECK_THROWS_WITH_AS(attack_fragility("saliency", *model, x, Target::indices(labels), {}, {.epsilon = -1}),
                       doctest::Contains("epsilon >= 0"), Error);
  CHECK_THROWS_WITH_AS(attack_fragility("saliency", *model, x, Target::indices(labels), {}, {.top_k_fraction = 0}),
                       doctest::Contains("top_k_fraction in (0, 1]"), Error);
}

}  // TEST_SUITE
