// Counterfactuals (attribution/counterfactual/): Wachter and DiCE on the tabular credit MLP
// (tests/data/counterfactual/, tools/reference/make_counterfactual_fixtures.py) and the embedded
// shapes model: validity, the diversity term spreads the k answers, immutables and ranges hold,
// the det K gradient matches finite differences, and dice-ml 0.12's gradient method on the same
// model and losses reaches validity and proximity of the same order.
#include <doctest/doctest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "attribution/counterfactual/counterfactual.h"
#include "engine/error.h"
#include "io/npy.h"
#include "models/default_model.h"
#include "models/onnx/model.h"

using namespace backlight;
using backlight::cli::load_npy;

namespace {

const std::string kDir = BACKLIGHT_TEST_DATA "/counterfactual/";

ModulePtr credit_model() { return load_onnx_model(kDir + "credit_mlp.onnx"); }

Tensor query(int64_t i) {
  const Tensor q = load_npy(kDir + "credit_queries.npy");
  Tensor x = Tensor::empty({1, q.size(1)});
  for (int64_t j = 0; j < q.size(1); ++j) x.data()[j] = q.data()[i * q.size(1) + j];
  return x;
}

int64_t num_queries() { return load_npy(kDir + "credit_queries.npy").size(0); }

CfMetric mad_metric() { return {CfDistance::Mad, mad_weights(load_npy(kDir + "credit_data.npy"))}; }

CfConstraints unit_box() { return {.lower_bound = 0, .upper_bound = 1}; }

Tensor builtin_input() {
  const Tensor chw = default_images().at(0).sample.image;
  return chw.reshape({1, chw.size(0), chw.size(1), chw.size(2)}).clone();
}

}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("counterfactual/distance: mad weights, metrics and the det K gradient") {
  // MAD of {0, 1, 2, 3, 10} is 1 (median 2, deviations 2 1 0 1 8); a constant feature gets 1.
  Tensor ref = Tensor::empty({5, 2});
  const float col0[] = {0, 1, 2, 3, 10};
  for (int i = 0; i < 5; ++i) ref.data()[2 * i] = col0[i], ref.data()[2 * i + 1] = 4;
  const std::vector<float> w = mad_weights(ref);
  CHECK(w[0] == doctest::Approx(1.0));
  CHECK(w[1] == doctest::Approx(1.0));
  ref.data()[0] = -2;  // deviations 4 1 0 1 8 -> median 1 still; scale the column instead
  for (int i = 0; i < 5; ++i) ref.data()[2 * i] *= 2;
  CHECK(mad_weights(ref)[0] == doctest::Approx(0.5));

  // d det K / d C against central differences (l1 and l2, k = 3, F = 4).
  for (CfDistance kind : {CfDistance::L1, CfDistance::L2}) {
    CAPTURE(to_string(kind));
    const CfMetric m{kind, {1.0f, 2.0f, 0.5f, 1.0f}};
    std::vector<float> c = {0.1f, 0.5f, 0.9f, 0.2f, 0.3f, 0.1f, 0.4f, 0.8f, 0.7f, 0.6f, 0.2f, 0.35f};
    std::vector<float> g(c.size(), 0.0f);
    dpp_diversity(c.data(), 3, 4, m, 1.0, g.data());
    for (size_t i = 0; i < c.size(); ++i) {
      const float h = 1e-3f, keep = c[i];
      c[i] = keep + h;
      const double up = dpp_diversity(c.data(), 3, 4, m);
      c[i] = keep - h;
      const double down = dpp_diversity(c.data(), 3, 4, m);
      c[i] = keep;
      CAPTURE(i);
      CHECK(g[i] == doctest::Approx((up - down) / (2 * h)).epsilon(1e-2).scale(1e-3));
    }
  }

  // Metrics of a hand-made set: x = 0, c1 = (1, 0), c2 = (0, 2).
  Tensor x = Tensor::zeros({1, 2}), c = Tensor::zeros({2, 2});
  c.data()[0] = 1, c.data()[3] = 2;
  const CfMetrics mm = cf_metrics(x, c, {1, 0}, {CfDistance::L1, {}});
  CHECK(mm.validity == doctest::Approx(0.5));
  CHECK(mm.proximity == doctest::Approx(1.5));
  CHECK(mm.proximity_l2 == doctest::Approx(1.5));
  CHECK(mm.changed_features == doctest::Approx(1.0));
  CHECK(mm.sparsity == doctest::Approx(0.5));
  CHECK(mm.diversity == doctest::Approx(3.0));
  CHECK(mm.dpp_diversity == doctest::Approx((1 + 1e-4) * (1 + 1e-4) - 1.0 / 16));
}

TEST_CASE("counterfactual/wachter: valid, closer with the distance term, lambda lowered when needed") {
  const ModulePtr model = credit_model();
  for (int64_t q = 0; q < num_queries(); ++q) {
    CAPTURE(q);
    const Tensor x = query(q);
    const CounterfactualResult r =
        wachter_counterfactual(*model, x, 1, {.metric = mad_metric(), .constraints = unit_box()});
    REQUIRE(r.counterfactuals.shape() == Shape{1, 4});
    CHECK(r.valid[0] == 1);
    CHECK(r.prediction[0] == 1);
    CHECK(r.metrics.validity == 1.0);
    for (float v : r.counterfactuals.span()) CHECK((v >= 0 && v <= 1));
  }
  // A lambda so large that the first rounds stay near x (all features 0, far from class 1): the
  // answer comes from a later round with a smaller lambda.
  const CounterfactualResult big =
      wachter_counterfactual(*model, Tensor::zeros({1, 4}), 1, {.lambda = 1000, .lambda_steps = 20, .max_iter = 200,
                                                   .metric = mad_metric(), .constraints = unit_box()});
  CHECK(big.valid[0] == 1);
  CHECK(big.lambda < 1000);
  CHECK(big.iterations > 200);
}

TEST_CASE("counterfactual/dice: k valid answers; the diversity term spreads them") {
  const ModulePtr model = credit_model();
  double spread_with = 0, spread_without = 0;
  for (int64_t q = 0; q < num_queries(); ++q) {
    CAPTURE(q);
    const Tensor x = query(q);
    DiceOptions o{.k = 4, .min_iter = 200, .max_iter = 1000, .metric = mad_metric(), .constraints = unit_box()};
    const CounterfactualResult with = dice_counterfactuals(*model, x, 1, o);
    o.diversity_weight = 0;
    const CounterfactualResult without = dice_counterfactuals(*model, x, 1, o);
    REQUIRE(with.counterfactuals.shape() == Shape{4, 4});
    CHECK(with.metrics.validity == 1.0);
    CHECK(without.metrics.validity == 1.0);
    CHECK(with.metrics.diversity > without.metrics.diversity);
    spread_with += with.metrics.diversity, spread_without += without.metrics.diversity;
  }
  MESSAGE("mean pairwise MAD-l1 distance: diversity 1 -> ", spread_with / double(num_queries()), ", diversity 0 -> ",
          spread_without / double(num_queries()));
  CHECK(spread_with > 2 * spread_without);
}

TEST_CASE("counterfactual/dice: immutable features keep their value, ranges hold, post-hoc sparsity") {
  const ModulePtr model = credit_model();
  const Tensor x = query(num_queries() - 1);
  CfConstraints c = unit_box();
  c.immutable = {0, 0, 1, 1};  // debt and tenure fixed
  c.lower = {0, 0, 0, 0};
  c.upper = {1, 0.9f, 1, 1};   // savings at most 0.9
  const CounterfactualResult r = dice_counterfactuals(
      *model, x, 1, {.k = 3, .min_iter = 200, .max_iter = 1000, .metric = mad_metric(), .constraints = c});
  const CounterfactualResult s =
      dice_counterfactuals(*model, x, 1,
                           {.k = 3, .min_iter = 200, .max_iter = 1000, .metric = mad_metric(), .constraints = c,
                            .posthoc_sparsity = true});
  for (const CounterfactualResult* res : {&r, &s}) {
    const Tensor& cf = res->counterfactuals;
    for (int64_t i = 0; i < 3; ++i) {
      CAPTURE(i);
      CHECK(cf.data()[i * 4 + 2] == x.data()[2]);
      CHECK(cf.data()[i * 4 + 3] == x.data()[3]);
      CHECK(cf.data()[i * 4 + 1] <= 0.9f);
      CHECK(cf.data()[i * 4 + 0] >= 0.0f);
      CHECK(cf.data()[i * 4 + 0] <= 1.0f);
    }
  }
  CHECK(s.metrics.validity == r.metrics.validity);
  CHECK(s.metrics.sparsity >= r.metrics.sparsity);
  CHECK(s.metrics.proximity <= r.metrics.proximity + 1e-9);
}

TEST_CASE("counterfactual/dice: same order as dice-ml 0.12's gradient method (fixture)") {
  // dice_reference.json: dice-ml on the same model (softmax(z)[1] as its output), hinge loss,
  // dpp_style:inverse_dist, inverse-MAD weights, k 4, proximity 0.5, diversity 1, min/max iter as
  // recorded, no post-hoc sparsity. Tolerance: where dice-ml's answers are all valid, so must
  // backlight's (validity 1), and backlight's mean MAD-l1 proximity and mean pairwise diversity are
  // within 25 % of dice-ml's (measured: within 3 %; the two differ in the stopping rule - dice-ml
  // waits for p >= 0.75, i.e. a logit margin of ln 3 - in dice-ml's MAD weights rounded to 2
  // decimals, and dice-ml drops duplicate answers, so it may return fewer than k).
  std::ifstream f(kDir + "dice_reference.json");
  REQUIRE(f.good());
  const auto ref = nlohmann::json::parse(f);
  const ModulePtr model = credit_model();
  int compared = 0;
  for (size_t q = 0; q < ref["queries"].size(); ++q) {
    const auto& e = ref["queries"][q];
    CAPTURE(q);
    const Tensor x = query(int64_t(q));
    for (int64_t j = 0; j < 4; ++j) REQUIRE(x.data()[j] == doctest::Approx(e["query"][size_t(j)].get<double>()));
    const CounterfactualResult r = dice_counterfactuals(
        *model, x, 1,
        {.k = ref["k"].get<int64_t>(), .min_iter = ref["min_iter"].get<int64_t>(),
         .max_iter = ref["max_iter"].get<int64_t>(), .metric = mad_metric(), .constraints = unit_box()});
    if (e["validity"].get<double>() < 1) continue;
    ++compared;
    const double theirs = e["proximity"].get<double>(), ours = r.metrics.proximity;
    MESSAGE("query ", q, ": validity ", r.metrics.validity, " (dice-ml ", e["validity"].get<double>(),
            "), proximity ", ours, " (dice-ml ", theirs, "), diversity ", r.metrics.diversity, " (dice-ml ",
            e["diversity"].get<double>(), ")");
    CHECK(r.metrics.validity == 1.0);
    CHECK(ours == doctest::Approx(theirs).epsilon(0.25));
    CHECK(r.metrics.diversity == doctest::Approx(e["diversity"].get<double>()).epsilon(0.25));
  }
  CHECK(compared >= 1);
}

TEST_CASE("counterfactual: shapes model (images) - valid answers, bounds, diversity spreads") {
  const ModulePtr model = default_model();
  const Tensor x = builtin_input();
  const CounterfactualResult w = wachter_counterfactual(
      *model, x, 1, {.max_iter = 100, .constraints = {.lower_bound = 0, .upper_bound = 1}});
  CHECK(w.valid[0] == 1);
  DiceOptions o{.k = 3, .learning_rate = 0.01f, .min_iter = 60, .max_iter = 60,
                .constraints = {.lower_bound = 0, .upper_bound = 1}};
  const CounterfactualResult with = dice_counterfactuals(*model, x, 1, o);
  o.diversity_weight = 0;
  const CounterfactualResult without = dice_counterfactuals(*model, x, 1, o);
  CHECK(with.counterfactuals.shape() == Shape{3, 3, 64, 64});
  CHECK(with.metrics.validity == 1.0);
  for (float v : with.counterfactuals.span()) CHECK_FALSE((v < 0 || v > 1));
  CHECK(with.metrics.diversity > without.metrics.diversity);
}

TEST_CASE("counterfactual: errors name the argument") {
  const ModulePtr model = credit_model();
  const Tensor x = query(0);
  CHECK_THROWS_WITH_AS(wachter_counterfactual(*model, x, 5), doctest::Contains("desired class 5"), Error);
  CHECK_THROWS_WITH_AS(dice_counterfactuals(*model, x, 1, {.k = 0}), doctest::Contains("k must be >= 1"), Error);
  CHECK_THROWS_WITH_AS(dice_counterfactuals(*model, x, 1, {.metric = {CfDistance::Mad, {}}}),
                       doctest::Contains("mad distance needs"), Error);
  CHECK_THROWS_WITH_AS(dice_counterfactuals(*model, x, 1, {.constraints = {.immutable = {1, 0}}}),
                       doctest::Contains("immutable has 2 entries"), Error);
  CHECK_THROWS_WITH_AS(wachter_counterfactual(*model, Tensor::zeros({2, 4}), 1), doctest::Contains("one input [1, ...]"),
                       Error);
  CHECK_THROWS_WITH_AS(cf_distance_from_string("linf"), doctest::Contains("expected l1, l2 or mad"), Error);
}

}  // TEST_SUITE
