// Sensitivity-n (Ancona et al. 2018) and per-pixel faithfulness (Alvarez-Melis & Jaakkola 2018):
// exact on a linear model with x*w, sign-sensitive, seeded, batch-invariant, checked arguments.
#include "attribution/metrics/pixel_faithfulness.h"
#include "attribution/metrics/sensitivity_n.h"
#include "attribution/registry.h"
#include "engine/modules/all.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

ModulePtr linear_model(int64_t in, int64_t classes) {
  std::mt19937_64 rng(kSeed);
  return std::make_shared<Sequential>(
      std::initializer_list<ModulePtr>{std::make_shared<Flatten>(), std::make_shared<Linear>(in, classes, rng)});
}

Tensor negated(const Tensor& t) {
  Tensor out = t.clone();
  for (float& v : out.span()) v = -v;
  return out;
}

}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("metrics/sensitivity_n: x*w on a linear model is sensitive-n for every n; random maps are not") {
  const ModulePtr m = linear_model(48, 3);
  std::mt19937_64 rng(kSeed + 11);
  const Tensor x = uniform({2, 3, 4, 4}, rng, -1.0f, 1.0f);
  const Tensor attr = attribute("input_x_gradient", *m, x, Target::top1()).attribution;
  const SensitivityNOptions o{.fractions = {0.1, 0.5, 0.9}, .samples = 20, .seed = 3};
  const SensitivityNResult r = sensitivity_n(*m, x, attr, Target::top1(), o);
  // 16 pixels: round(1.6) = 2, 8, round(14.4) = 14.
  CHECK(r.sizes == std::vector<int64_t>{2, 8, 14});
  REQUIRE(r.correlation.shape() == Shape{2, 3});
  for (float v : r.correlation.span()) CHECK(v == doctest::Approx(1.0).epsilon(1e-4));
  for (float v : r.mean.span()) CHECK(v == doctest::Approx(1.0).epsilon(1e-4));
  const SensitivityNResult neg = sensitivity_n(*m, x, negated(attr), Target::top1(), o);
  for (float v : neg.correlation.span()) CHECK(v == doctest::Approx(-1.0).epsilon(1e-4));
  const Tensor noise = uniform({2, 3, 4, 4}, rng);
  const SensitivityNResult rr = sensitivity_n(*m, x, noise, Target::top1(), o);
  for (float v : rr.mean.span()) CHECK(v < 0.9f);
  SensitivityNOptions ob = o;
  ob.batch = 3;
  BL_CHECK_CLOSE(sensitivity_n(*m, x, noise, Target::top1(), ob).correlation, rr.correlation, 1e-5, 1e-4);
  CHECK(sensitivity_n_size(0.001, 16) == 1);
  CHECK(sensitivity_n_size(1.0, 16) == 15);
  CHECK_THROWS_WITH_AS(sensitivity_n(*m, x, attr, Target::top1(), {.fractions = {}}), doctest::Contains("at least one"),
                       Error);
  CHECK_THROWS_WITH_AS(sensitivity_n(*m, x, attr, Target::top1(), {.fractions = {1.5}}),
                       doctest::Contains("fractions in (0, 1]"), Error);
  CHECK_THROWS_WITH_AS(sensitivity_n(*m, x, attr, Target::top1(), {.samples = 1}), doctest::Contains("samples >= 2"),
                       Error);
}

TEST_CASE("metrics/pixel_faithfulness: 1 for x*w on a linear model, -1 negated, batch- and step-checked") {
  const ModulePtr m = linear_model(48, 3);
  std::mt19937_64 rng(kSeed + 12);
  const Tensor x = uniform({2, 3, 4, 4}, rng, -1.0f, 1.0f);
  const Tensor attr = attribute("input_x_gradient", *m, x, Target::top1()).attribution;
  for (int64_t step : {1, 3}) {
    CAPTURE(step);
    const Tensor f = pixel_faithfulness(*m, x, attr, Target::top1(), {.step = step});
    for (float v : f.span()) CHECK(v == doctest::Approx(1.0).epsilon(1e-4));
    const Tensor g = pixel_faithfulness(*m, x, negated(attr), Target::top1(), {.step = step});
    for (float v : g.span()) CHECK(v == doctest::Approx(-1.0).epsilon(1e-4));
  }
  // Element features (flattened rows) are exact too.
  const Tensor ff = pixel_faithfulness(*m, x.reshape({2, 48}), attr.reshape({2, 48}), Target::top1());
  for (float v : ff.span()) CHECK(v == doctest::Approx(1.0).epsilon(1e-4));
  // A map that only knows the pixel's position is not faithful; chunking does not change values.
  const Tensor noise = uniform({2, 1, 4, 4}, rng);
  const Tensor a = pixel_faithfulness(*m, x, noise, Target::top1(), {.batch = 256});
  const Tensor b = pixel_faithfulness(*m, x, noise, Target::top1(), {.batch = 5});
  BL_CHECK_CLOSE(a, b, 1e-5, 1e-4);
  for (float v : a.span()) CHECK(v < 0.9f);
  // Probabilities instead of logits: still a correlation in [-1, 1].
  const Tensor p = pixel_faithfulness(*m, x, attr, Target::top1(), {.score = metrics::Score::Probability});
  for (float v : p.span()) CHECK((v >= -1.0f && v <= 1.0f));
  CHECK_THROWS_WITH_AS(pixel_faithfulness(*m, x, attr, Target::top1(), {.step = 0}), doctest::Contains("step >= 1"),
                       Error);
  CHECK_THROWS_WITH_AS(pixel_faithfulness(*m, x, Tensor::zeros({2, 3, 4, 5}), Target::top1()),
                       doctest::Contains("expected attributions"), Error);
}

}  // TEST_SUITE
