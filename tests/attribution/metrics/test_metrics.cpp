// Evaluation metrics (attribution/metrics/): exact values on linear models and tiny masks,
// oracle-vs-random curves, the randomisation sanity check, seeding and batch invariance.
#include "attribution/metrics/deletion_insertion.h"
#include "attribution/metrics/faithfulness.h"
#include "attribution/metrics/infidelity.h"
#include "attribution/metrics/localisation.h"
#include "attribution/metrics/randomisation.h"
#include "attribution/metrics/scoring.h"
#include "attribution/metrics/sensitivity.h"
#include "attribution/registry.h"
#include "engine/modules/all.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

// flatten -> linear: f(x) = W x + b, the model where gradient x input is exact.
ModulePtr linear_model(int64_t in, int64_t classes, uint64_t seed = kSeed) {
  std::mt19937_64 rng(seed);
  return std::make_shared<Sequential>(
      std::initializer_list<ModulePtr>{std::make_shared<Flatten>(), std::make_shared<Linear>(in, classes, rng)});
}

// A [1, 8, 8] model whose class-0 logit reads only the top-left 3x3 region; class 1 is constant 0.
ModulePtr region_model() {
  ModulePtr m = linear_model(64, 2);
  Tensor w = Tensor::zeros({2, 64});
  for (int64_t y = 0; y < 3; ++y)
    for (int64_t x = 0; x < 3; ++x) w.data()[y * 8 + x] = 1.0f;
  CHECK(m->set_tensor("1.weight", w));
  CHECK(m->set_tensor("1.bias", Tensor::zeros({2})));
  return m;
}

ModulePtr plain_cnn(uint64_t seed = kSeed) {
  std::mt19937_64 rng(seed);
  return std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
      std::make_shared<Conv2d>(3, 6, 3, rng, Conv2dOptions{.padding = 1}), std::make_shared<ReLU>(),
      std::make_shared<MaxPool2d>(2), std::make_shared<Conv2d>(6, 8, 3, rng, Conv2dOptions{.padding = 1}),
      std::make_shared<ReLU>(), std::make_shared<AdaptiveAvgPool2d>(2), std::make_shared<Flatten>(),
      std::make_shared<Linear>(32, 5, rng)});
}

bool same(const Tensor& a, const Tensor& b) { return a.to_vector() == b.to_vector(); }

}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("metrics: infidelity of input x gradient on a linear model is ~0 (additive noise, multiply_by_inputs)") {
  const ModulePtr m = linear_model(48, 3);
  std::mt19937_64 rng(kSeed);
  const Tensor x = uniform({2, 3, 4, 4}, rng, 0.2f, 1.0f);
  const Tensor attr = attribute("input_x_gradient", *m, x, Target::top1()).attribution;
  InfidelityOptions o{.samples = 16, .stdev = 0.1f, .seed = 7, .multiply_by_inputs = true};
  const Tensor infd = infidelity(*m, x, attr, Target::top1(), o);
  // Scale: the infidelity of an all-zero explanation is E[(f(x) - f(x - I))^2].
  const Tensor scale = infidelity(*m, x, Tensor::zeros(x.shape()), Target::top1(), o);
  for (int64_t i = 0; i < 2; ++i) {
    CAPTURE(i);
    CHECK(scale.data()[i] > 1e-4f);
    CHECK(infd.data()[i] / scale.data()[i] < 1e-6);
  }
}

TEST_CASE("metrics: infidelity normalize, seeding and batch invariance") {
  const ModulePtr m = plain_cnn();
  std::mt19937_64 rng(kSeed + 3);
  const Tensor x = randn({3, 3, 8, 8}, rng);
  const Tensor attr = attribute("saliency", *m, x, Target::top1()).attribution;
  const InfidelityOptions o{.samples = 6, .stdev = 0.05f, .seed = 11};
  const Tensor a = infidelity(*m, x, attr, Target::top1(), o);
  InfidelityOptions ob = o;
  ob.batch = 4;
  BL_CHECK_CLOSE(infidelity(*m, x, attr, Target::top1(), ob), a, 1e-7, 1e-4);
  CHECK(same(a, infidelity(*m, x, attr, Target::top1(), o)));
  InfidelityOptions os = o;
  os.seed = 12;
  CHECK_FALSE(same(a, infidelity(*m, x, attr, Target::top1(), os)));
  // normalize: the optimally rescaled attribution is never worse, and the scale is ignored.
  InfidelityOptions on = o;
  on.normalize = true;
  const Tensor n1 = infidelity(*m, x, attr, Target::top1(), on);
  Tensor attr3 = attr.clone();
  for (float& v : attr3.span()) v *= 3.0f;
  const Tensor n3 = infidelity(*m, x, attr3, Target::top1(), on);
  for (int64_t i = 0; i < 3; ++i) {
    CHECK(n1.data()[i] <= a.data()[i] * (1 + 1e-5f) + 1e-9f);
    CHECK(n3.data()[i] == doctest::Approx(n1.data()[i]).epsilon(1e-3));
  }
  CHECK_THROWS_AS(infidelity(*m, x, Tensor::zeros({3, 3, 8, 7}), Target::top1(), o), Error);
}

TEST_CASE("metrics: sensitivity_max is 0 for the gradient of a linear model, seeded, bounded by the radius") {
  const ModulePtr m = linear_model(48, 3);
  std::mt19937_64 rng(kSeed + 1);
  const Tensor x = uniform({2, 3, 4, 4}, rng, 0.2f, 1.0f);
  const SensitivityOptions o{.samples = 5, .radius = 0.1f, .seed = 3};
  const Tensor s = sensitivity_max("saliency", *m, x, Target::top1(), {}, o);
  for (int64_t i = 0; i < 2; ++i) CHECK(s.data()[i] == doctest::Approx(0.0).epsilon(1e-6));
  // Identity explanation: ||d|| / ||x|| with ||d||_inf <= r.
  const Explanation id = [](const Tensor& t) { return t.clone(); };
  const Tensor si = sensitivity_max(id, x, o);
  for (int64_t i = 0; i < 2; ++i) {
    double nx = 0;
    for (int64_t j = 0; j < 48; ++j) nx += x.data()[i * 48 + j] * x.data()[i * 48 + j];
    CHECK(si.data()[i] > 0.0f);
    CHECK(si.data()[i] <= 0.1 * std::sqrt(48.0) / std::sqrt(nx) + 1e-6);
  }
  CHECK(same(si, sensitivity_max(id, x, o)));
  CHECK_THROWS_AS(sensitivity_max(id, x, SensitivityOptions{.samples = 0}), Error);
}

TEST_CASE("metrics: deletion and insertion AUC of an oracle beat a random attribution") {
  const ModulePtr m = region_model();
  std::mt19937_64 rng(kSeed + 2);
  const Tensor x = uniform({2, 1, 8, 8}, rng, 0.5f, 1.0f);
  Tensor oracle = Tensor::zeros({2, 1, 8, 8});
  for (int64_t i = 0; i < 2; ++i)
    for (int64_t y = 0; y < 3; ++y)
      for (int64_t c = 0; c < 3; ++c) oracle.data()[i * 64 + y * 8 + c] = 1.0f;
  const Tensor random = uniform({2, 1, 8, 8}, rng, 0.0f, 1.0f);
  const PixelCurveOptions o{.step = 2, .insertion_start = InsertionStart::Zero};
  const Target t = Target::index(0);
  const PixelCurve del_o = deletion_curve(*m, x, oracle, t, o), del_r = deletion_curve(*m, x, random, t, o);
  const PixelCurve ins_o = insertion_curve(*m, x, oracle, t, o), ins_r = insertion_curve(*m, x, random, t, o);
  REQUIRE(del_o.curve.shape() == Shape{2, 33});
  CHECK(del_o.fraction.front() == 0.0f);
  CHECK(del_o.fraction.back() == 1.0f);
  for (int64_t i = 0; i < 2; ++i) {
    CAPTURE(i);
    MESSAGE("deletion oracle ", del_o.auc.data()[i], " random ", del_r.auc.data()[i], "; insertion oracle ",
            ins_o.auc.data()[i], " random ", ins_r.auc.data()[i]);
    CHECK(del_o.auc.data()[i] < del_r.auc.data()[i]);
    CHECK(ins_o.auc.data()[i] > ins_r.auc.data()[i]);
    CHECK(del_o.auc.data()[i] >= 0.0f);
    CHECK(ins_o.auc.data()[i] <= 1.0f);
    // After the 9 region pixels (5 steps of 2) the deleted image has p(class 0) = sigmoid(0) = 0.5.
    CHECK(del_o.curve.at({i, 5}) == doctest::Approx(0.5f));
    CHECK(ins_o.curve.at({i, 5}) == doctest::Approx(ins_o.curve.at({i, 32})));
  }
  PixelCurveOptions ob = o;
  ob.batch = 5;
  BL_CHECK_CLOSE(deletion_curve(*m, x, random, t, ob).curve, del_r.curve, 1e-6, 1e-5);
  // Blurred start (the default) with 16 steps; a constant curve integrates to its value.
  const PixelCurve blur = insertion_curve(*m, x, oracle, t, PixelCurveOptions{.step = 4});
  CHECK(blur.curve.shape() == Shape{2, 17});
  const ModulePtr flat = linear_model(64, 2);
  CHECK(flat->set_tensor("1.weight", Tensor::zeros({2, 64})));
  CHECK(flat->set_tensor("1.bias", Tensor::zeros({2})));
  const PixelCurve half = deletion_curve(*flat, x, random, t, PixelCurveOptions{.step = 5});
  CHECK(half.auc.data()[0] == doctest::Approx(0.5));
  CHECK(half.fraction[13] == 1.0f);  // ceil(64 / 5) = 13 steps, the last one partial
  CHECK_THROWS_AS(deletion_curve(*m, x, Tensor::zeros({2, 1, 8, 7}), t, o), Error);
}

TEST_CASE("metrics: faithfulness correlation is 1 for x*w on a linear model; seeded") {
  const ModulePtr m = linear_model(48, 3);
  std::mt19937_64 rng(kSeed + 4);
  const Tensor x = uniform({2, 3, 4, 4}, rng, -1.0f, 1.0f);
  const Tensor attr = attribute("input_x_gradient", *m, x, Target::top1()).attribution;
  const FaithfulnessOptions o{.subsets = 30, .subset_size = 4, .seed = 5};
  const Tensor f = faithfulness_correlation(*m, x, attr, Target::top1(), o);
  for (int64_t i = 0; i < 2; ++i) CHECK(f.data()[i] == doctest::Approx(1.0).epsilon(1e-4));
  // Element features (attributions flattened) give the same exactness.
  const Tensor xf = x.reshape({2, 48}), af = attr.reshape({2, 48});
  const Tensor ff = faithfulness_correlation(*m, xf, af, Target::top1(), o);
  for (int64_t i = 0; i < 2; ++i) CHECK(ff.data()[i] == doctest::Approx(1.0).epsilon(1e-4));
  // A random attribution correlates much less; the same seed gives the same value; batching is invisible.
  const Tensor r = uniform({2, 3, 4, 4}, rng);
  const Tensor fr = faithfulness_correlation(*m, x, r, Target::top1(), o);
  for (int64_t i = 0; i < 2; ++i) CHECK(fr.data()[i] < 0.9f);
  FaithfulnessOptions ob = o;
  ob.batch = 7;
  // The GEMM's blocking depends on the row count: equal up to float rounding, not bit for bit.
  BL_CHECK_CLOSE(faithfulness_correlation(*m, x, r, Target::top1(), ob), fr, 1e-5, 1e-4);
  FaithfulnessOptions os = o;
  os.seed = 6;
  CHECK_FALSE(same(fr, faithfulness_correlation(*m, x, r, Target::top1(), os)));
  CHECK(pearson({1, 2, 3}, {2, 4, 6}) == doctest::Approx(1.0));
  CHECK(pearson({1, 1, 1}, {2, 4, 6}) == 0.0);
}

TEST_CASE("metrics: cascading randomisation decorrelates the gradient of a small CNN") {
  const ModulePtr m = plain_cnn();
  std::mt19937_64 rng(kSeed + 5);
  const Tensor x = randn({2, 3, 8, 8}, rng);
  const Tensor before = m->named_parameters().front().second.clone();
  const std::vector<RandomisationStep> steps = cascading_randomisation("saliency", *m, x, Target::top1(), {}, {.seed = 9});
  REQUIRE(steps.size() == 4);  // step 0 + linear + two convs
  CHECK(steps[0].layer.empty());
  CHECK(steps[1].layer == "7");
  CHECK(steps[2].layer == "3");
  CHECK(steps[3].layer == "0");
  CHECK(steps[0].mean == doctest::Approx(1.0));
  for (const auto& s : steps) MESSAGE("layer '", s.layer, "' spearman ", s.mean);
  CHECK(steps.back().mean < 0.5);
  CHECK(same(before, m->named_parameters().front().second));  // the caller's model is untouched
  const auto again = cascading_randomisation("saliency", *m, x, Target::top1(), {}, {.seed = 9});
  CHECK(same(steps.back().correlation, again.back().correlation));
  CHECK(spearman({1, 2, 3, 4}, {10, 20, 30, 40}) == doctest::Approx(1.0));
  CHECK(spearman({1, 2, 3, 4}, {4, 3, 2, 1}) == doctest::Approx(-1.0));
  CHECK(spearman({1, 1, 2}, {5, 5, 7}) == doctest::Approx(1.0));
}

TEST_CASE("metrics: independent randomisation changes one layer per step; the first step equals the cascade's") {
  const ModulePtr m = plain_cnn();
  std::mt19937_64 rng(kSeed + 6);
  const Tensor x = randn({2, 3, 8, 8}, rng);
  const RandomisationOptions o{.seed = 9, .keep_maps = true};
  const auto ind = independent_randomisation("saliency", *m, x, Target::top1(), {}, o);
  const auto cas = cascading_randomisation("saliency", *m, x, Target::top1(), {}, o);
  REQUIRE(ind.size() == 4);
  REQUIRE(cas.size() == 4);
  // Step 1 randomises only the top layer in both modes, with the same noise.
  CHECK(same(ind[1].correlation, cas[1].correlation));
  CHECK(same(ind[1].attribution, cas[1].attribution));
  // Later steps differ: independent restores the layers above.
  CHECK_FALSE(same(ind[3].attribution, cas[3].attribution));
  // Independent step k equals a clone with only layer k randomised by hand.
  const ModulePtr w = m->clone();
  randomise_layer(*w, ind[2].layer, 9, 2);
  const Target fixed = Target::indices(metrics::resolve_classes(*m, x, Target::top1()));
  const Tensor expect = attribute("saliency", *w, x, fixed).attribution;
  CHECK(same(expect, ind[2].attribution));
  CHECK(ind[2].layer == "3");
  CHECK(cas[0].attribution.defined());
  CHECK_THROWS_WITH_AS(randomise_layer(*w, "no.such", 1, 1), doctest::Contains("no module 'no.such'"), Error);
}

TEST_CASE("metrics: localisation metrics equal hand-computed values on tiny masks") {
  // saliency [[3, -1, 2], [0, 1, 5]] given as two channels; item 0 mask {0, 1, 5}, item 1 its complement.
  const Tensor a = Tensor::from({2, 2, 2, 3}, {2, -1, 1, 0, 1, 4, 1, 0, 1, 0, 0, 1,  //
                                               2, -1, 1, 0, 1, 4, 1, 0, 1, 0, 0, 1});
  const Tensor mask = Tensor::from({2, 1, 2, 3}, {1, 1, 0, 0, 0, 1, 0, 0, 1, 1, 1, 0});
  const Tensor pg = pointing_game(a, mask);
  CHECK(pg.data()[0] == 1.0f);
  CHECK(pg.data()[1] == 0.0f);
  const Tensor mass = relevance_mass_accuracy(a, mask);
  CHECK(mass.data()[0] == doctest::Approx(8.0 / 11.0));
  CHECK(mass.data()[1] == doctest::Approx(3.0 / 11.0));
  const Tensor rank = relevance_rank_accuracy(a, mask);
  CHECK(rank.data()[0] == doctest::Approx(2.0 / 3.0));
  CHECK(rank.data()[1] == doctest::Approx(1.0 / 3.0));
  const Tensor iou = mask_iou(a, mask, 0.5f);
  CHECK(iou.data()[0] == doctest::Approx(0.5));
  CHECK(iou.data()[1] == doctest::Approx(0.2));
  const Tensor iou_v = mask_iou(a, mask.reshape({2, 2, 3}), 0.5f, IouThreshold::Value);
  CHECK(iou_v.data()[0] == doctest::Approx(0.4));
  CHECK_THROWS_AS(pointing_game(a, Tensor::zeros({2, 1, 3, 2})), Error);
  CHECK_THROWS_AS(mask_iou(a, mask, 0.0f), Error);
}

}  // TEST_SUITE
