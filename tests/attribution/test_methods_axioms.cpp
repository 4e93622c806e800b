// Attribution methods: axioms (IG completeness, DeepLIFT summation-to-delta), chunking and batch
// invariance, definitions of the simple gradient methods.
#include "attribution/path/deeplift.h"
#include "attribution/gradient/gradient_methods.h"
#include "attribution/path/integrated_gradients.h"
#include "engine/modules/all.h"
#include "engine/parallel.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

// conv-bn-relu-maxpool-conv-relu-avgpool-flatten-linear with randomised BatchNorm statistics.
ModulePtr test_cnn(uint64_t seed = kSeed) {
  std::mt19937_64 rng(seed);
  auto bn = std::make_shared<BatchNorm2d>(6);
  bn->parameter("weight") = uniform({6}, rng, 0.5f, 1.5f);
  bn->parameter("bias") = uniform({6}, rng, -0.2f, 0.2f);
  bn->buffer("running_mean") = uniform({6}, rng, -0.3f, 0.3f);
  bn->buffer("running_var") = uniform({6}, rng, 0.5f, 2.0f);
  auto m = std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
      std::make_shared<Conv2d>(3, 6, 3, rng, Conv2dOptions{.padding = 1}), bn, std::make_shared<ReLU>(),
      std::make_shared<MaxPool2d>(2), std::make_shared<Conv2d>(6, 8, 3, rng, Conv2dOptions{.padding = 1}),
      std::make_shared<ReLU>(), std::make_shared<AdaptiveAvgPool2d>(2), std::make_shared<Flatten>(),
      std::make_shared<Linear>(32, 5, rng)});
  return m;
}

double item_sum(const Tensor& t, int64_t n) {
  const int64_t per = t.numel() / t.size(0);
  double s = 0;
  for (int64_t i = n * per; i < (n + 1) * per; ++i) s += t.data()[i];
  return s;
}

}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("integrated_gradients: completeness error shrinks with steps; gausslegendre 64 within 1%") {
  const ModulePtr m = test_cnn();
  std::mt19937_64 rng(kSeed);
  const Tensor x = randn({2, 3, 8, 8}, rng, 2.0f);
  // Explain, per item, the class whose logit moves most between baseline and input, so the
  // relative error is not dominated by a near-zero difference.
  Tensor out_x, out_0;
  target_values(*m, x, Target::top1(), Workspace(), nullptr, &out_x);
  target_values(*m, Tensor::zeros(x.shape()), Target::top1(), Workspace(), nullptr, &out_0);
  std::vector<int64_t> cls(2, 0);
  for (int64_t n = 0; n < 2; ++n)
    for (int64_t c = 1; c < 5; ++c)
      if (std::fabs(out_x.at({n, c}) - out_0.at({n, c})) > std::fabs(out_x.at({n, cls[n]}) - out_0.at({n, cls[n]})))
        cls[n] = c;
  std::vector<double> errors;
  for (int steps : {4, 64, 256}) {
    CAPTURE(steps);
    const AttributionResult r = integrated_gradients(*m, x, Target::indices(cls), {.steps = steps});
    double worst = 0;
    for (int64_t n = 0; n < 2; ++n) {
      const double diff = out_x.at({n, cls[n]}) - out_0.at({n, cls[n]});
      worst = std::max(worst, std::fabs(item_sum(r.attribution, n) - diff) / std::fabs(diff));
      CHECK(r.delta.data()[n] == doctest::Approx(item_sum(r.attribution, n) - diff).epsilon(1e-3));
    }
    MESSAGE("gausslegendre steps=", steps, " worst relative completeness error ", worst);
    if (steps == 64) CHECK(worst < 0.01);
    errors.push_back(worst);
  }
  // Kinks (ReLU, maxpool) make the error non-monotone at few steps; it still shrinks overall.
  CHECK(errors[2] < errors[0]);
  CHECK(errors[2] < 0.01);
}

TEST_CASE("integrated_gradients: internal_batch_size and batching do not change the result") {
  const ModulePtr m = test_cnn();
  std::mt19937_64 rng(kSeed + 1);
  const Tensor x = randn({3, 3, 8, 8}, rng);
  const IntegratedGradientsOptions base{.steps = 10, .method = Integration::RiemannTrapezoid};
  const AttributionResult all = integrated_gradients(*m, x, Target::top1(), base);
  for (int ibs : {3, 7, 12}) {
    CAPTURE(ibs);
    IntegratedGradientsOptions o = base;
    o.internal_batch_size = ibs;
    BL_CHECK_CLOSE(integrated_gradients(*m, x, Target::top1(), o).attribution, all.attribution, 1e-6, 1e-4);
  }
  for (int64_t n = 0; n < 3; ++n) {
    const AttributionResult one = integrated_gradients(*m, x.slice_batch(n, n + 1), Target::index(all.target[n]), base);
    BL_CHECK_CLOSE(one.attribution, all.attribution.slice_batch(n, n + 1).clone(), 1e-6, 1e-4);
  }
}

TEST_CASE("integrated_gradients: sub-chunks run side by side on two threads give the one-thread result") {
  // On the CPU each thread runs its own part of a chunk; the gradients must still reach the sums
  // with their own steps' weights, in step order (a shifted step would move the result far).
  const ModulePtr m = test_cnn();
  std::mt19937_64 rng(kSeed + 9);
  const Tensor x = randn({2, 3, 8, 8}, rng);
  const int before = num_threads();
  for (int ibs : {0, 6, 2}) {  // one chunk split in two; chunks of 3 steps (2 + 1); 1 step per chunk
    CAPTURE(ibs);
    const IntegratedGradientsOptions o{.steps = 9, .internal_batch_size = ibs};
    set_num_threads(1);
    const AttributionResult one = integrated_gradients(*m, x, Target::top1(), o);
    set_num_threads(2);
    const AttributionResult two = integrated_gradients(*m, x, Target::top1(), o);
    set_num_threads(before);
    BL_CHECK_CLOSE(two.attribution, one.attribution, 1e-6, 1e-5);
    BL_CHECK_CLOSE(two.delta, one.delta, 1e-6, 1e-5);
  }
}

TEST_CASE("deeplift: summation-to-delta through conv, batchnorm, maxpool and pooling layers") {
  const ModulePtr m = test_cnn();
  std::mt19937_64 rng(kSeed + 2);
  const Tensor x = randn({2, 3, 8, 8}, rng);
  const AttributionResult r = deeplift(*m, x, Target::top1(), {.baselines = {Baseline::uniform(-0.1f, 0.1f, 7)}});
  for (int64_t n = 0; n < 2; ++n) CHECK(std::fabs(r.delta.data()[n]) < 1e-4);
  // Several baselines: the average of the single-baseline results.
  const AttributionResult a = deeplift(*m, x, Target::top1(), {.baselines = {Baseline::zero()}});
  const AttributionResult b = deeplift(*m, x, Target::top1(), {.baselines = {Baseline::constant(0.2f)}});
  const AttributionResult ab =
      deeplift(*m, x, Target::top1(), {.baselines = {Baseline::zero(), Baseline::constant(0.2f)}});
  Tensor mean = Tensor::empty(x.shape());
  for (int64_t i = 0; i < x.numel(); ++i) mean.data()[i] = 0.5f * (a.attribution.data()[i] + b.attribution.data()[i]);
  BL_CHECK_CLOSE(ab.attribution, mean, 1e-6, 1e-5);
}

TEST_CASE("saliency and input_x_gradient follow their definitions; batch equals items alone") {
  const ModulePtr m = test_cnn();
  std::mt19937_64 rng(kSeed + 3);
  const Tensor x = randn({2, 3, 8, 8}, rng);
  const AttributionResult s = saliency(*m, x, Target::index(1), {.abs = false});
  const AttributionResult sa = saliency(*m, x, Target::index(1));
  const AttributionResult ix = input_x_gradient(*m, x, Target::index(1));
  for (int64_t i = 0; i < x.numel(); ++i) {
    CHECK(sa.attribution.data()[i] == std::fabs(s.attribution.data()[i]));
    CHECK(ix.attribution.data()[i] == doctest::Approx(s.attribution.data()[i] * x.data()[i]));
  }
  const AttributionResult one = saliency(*m, x.slice_batch(1, 2), Target::index(1), {.abs = false});
  BL_CHECK_CLOSE(one.attribution, s.attribution.slice_batch(1, 2).clone(), 1e-7, 1e-5);
}

TEST_CASE("lrp: relevance is conserved on a bias-free net (epsilon -> 0, z+); delta is the residual") {
  // Without biases, epsilon with a vanishing epsilon (LRP-0) and z+ conserve relevance exactly
  // through conv, linear and average pooling, and pass / winner-take-all keep it through ReLU and
  // max pooling: the input relevance sums to the start value.
  std::mt19937_64 rng(kSeed + 5);
  const ModulePtr free = std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
      std::make_shared<Conv2d>(3, 6, 3, rng, Conv2dOptions{.padding = 1, .bias = false}), std::make_shared<ReLU>(),
      std::make_shared<MaxPool2d>(2),
      std::make_shared<Conv2d>(6, 8, 3, rng, Conv2dOptions{.padding = 1, .bias = false}), std::make_shared<ReLU>(), std::make_shared<AdaptiveAvgPool2d>(2), std::make_shared<Flatten>(),
      std::make_shared<Linear>(32, 5, rng, false)});
  const Tensor x = randn({2, 3, 8, 8}, rng);
  const RuleParams tiny{{"epsilon", 1e-9f}, {"stabilizer", 1e-9f}};
  for (const std::string rules : {"lrp_epsilon", "lrp_epsilon_plus"}) {
    CAPTURE(rules);
    const AttributionResult unit = lrp(*free, x, Target::indices({1, 4}), {.rules = rules, .params = tiny});
    const AttributionResult logit =
        lrp(*free, x, Target::indices({1, 4}), {.rules = rules, .params = tiny, .multiply_by_output = true});
    for (int64_t n = 0; n < 2; ++n) {
      CAPTURE(n);
      const double f = logit.output.at({n, n == 0 ? 1 : 4});
      CHECK(item_sum(unit.attribution, n) == doctest::Approx(1.0).epsilon(1e-4));
      CHECK(item_sum(logit.attribution, n) == doctest::Approx(f).epsilon(1e-4));
      CHECK(std::fabs(unit.delta.data()[n]) < 1e-4);
      CHECK(logit.delta.data()[n] == doctest::Approx(f - item_sum(logit.attribution, n)).scale(1.0).epsilon(1e-6));
    }
  }
}

TEST_CASE("lrp: the default composite runs on a BatchNorm CNN; errors name the rule set and the class") {
  const ModulePtr m = test_cnn();
  std::mt19937_64 rng(kSeed + 4);
  const Tensor x = randn({1, 3, 8, 8}, rng);
  const AttributionResult r = lrp(*m, x, Target::top1(), {.rules = "lrp_epsilon"});
  CHECK(r.attribution.shape() == x.shape());
  CHECK(std::isfinite(item_sum(r.attribution, 0)));
  CHECK_THROWS_WITH_AS(lrp(*m, x, Target::top1(), {.rules = "lrp_unknown"}), doctest::Contains("unknown rule set"),
                       RuleError);
  CHECK_THROWS_WITH_AS(saliency(*m, x, Target::index(9)), doctest::Contains("class 9 out of range"), Error);
}

}  // TEST_SUITE
