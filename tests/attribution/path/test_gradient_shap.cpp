// GradientSHAP: explicit draws against the hand formula (attributions and per-copy deltas),
// seeded draws reproducible and chunking invariant, and parity with Captum GradientShap.
#include "attribution/gradient/gradient_methods.h"
#include "attribution/path/gradient_shap.h"
#include "attribution/path/integrated_gradients.h"
#include "attribution/registry.h"
#include "tests/attribution/cam_fixture.h"

using namespace backlight;
using namespace backlight::test;

namespace {

ModulePtr small_net(uint64_t seed) {
  std::mt19937_64 rng(seed);
  return std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
      std::make_shared<Conv2d>(2, 4, 3, rng, Conv2dOptions{.padding = 1}), std::make_shared<ReLU>(),
      std::make_shared<AdaptiveAvgPool2d>(2), std::make_shared<Flatten>(), std::make_shared<Linear>(16, 3, rng)});
}

}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("gradient_shap: explicit draws equal the hand formula, with per-copy deltas in Captum's order") {
  const ModulePtr m = small_net(kSeed);
  std::mt19937_64 rng(kSeed + 30);
  const int64_t items = 2, samples = 3, per = 32;
  const Tensor x = randn({items, 2, 4, 4}, rng);
  const Tensor dist = randn({4, 2, 4, 4}, rng, 0.5f);
  const Tensor noise = randn({samples, items, 2, 4, 4}, rng, 0.1f);
  const std::vector<int64_t> idx{3, 0, 1, 1, 2, 3};  // [s * N + n]
  const std::vector<float> alphas{0.1f, 0.9f, 0.5f, 0.25f, 0.75f, 0.6f};
  const std::vector<int64_t> cls{1, 2};
  Tensor hand = Tensor::zeros(x.shape());
  std::vector<float> hand_delta(items * samples);
  for (int64_t s = 0; s < samples; ++s)
    for (int64_t n = 0; n < items; ++n) {
      const int64_t d = s * items + n;
      Tensor noisy = Tensor::empty({1, 2, 4, 4}), base = Tensor::empty({1, 2, 4, 4}), z = Tensor::empty({1, 2, 4, 4});
      for (int64_t i = 0; i < per; ++i) {
        noisy.data()[i] = x.data()[n * per + i] + noise.data()[d * per + i];
        base.data()[i] = dist.data()[idx[d] * per + i];
        z.data()[i] = alphas[d] * noisy.data()[i] + (1 - alphas[d]) * base.data()[i];
      }
      const Tensor g = saliency(*m, z, Target::index(cls[n]), {.abs = false}).attribution;
      double total = 0;
      for (int64_t i = 0; i < per; ++i) {
        const float a = (noisy.data()[i] - base.data()[i]) * g.data()[i];
        hand.data()[n * per + i] += a / samples;
        total += a;
      }
      const Tensor fx = target_values(*m, noisy, Target::index(cls[n]), Workspace());
      const Tensor fb = target_values(*m, base, Target::index(cls[n]), Workspace());
      hand_delta[n * samples + s] = static_cast<float>(total - (fx.item() - fb.item()));
    }
  const AttributionResult r = gradient_shap(*m, x, Target::indices(cls),
                                            {.baselines = dist, .samples = samples, .baseline_indices = idx,
                                             .alphas = alphas, .noise = noise});
  BL_CHECK_CLOSE(r.attribution, hand, 1e-6, 1e-4);
  BL_CHECK_CLOSE(r.delta, Tensor::from({items * samples}, hand_delta), 1e-5, 1e-4);
  CHECK(r.target == cls);
  CHECK_THROWS_WITH_AS(gradient_shap(*m, x, Target::top1(), {.baselines = dist, .samples = samples,
                                                              .baseline_indices = {0, 1}}),
                       doctest::Contains("expected 6 explicit baseline indices"), Error);
  CHECK_THROWS_WITH_AS(gradient_shap(*m, x, Target::top1(), {.baselines = Tensor::zeros({2, 5})}),
                       doctest::Contains("baseline distribution"), ShapeError);
}

TEST_CASE("gradient_shap: seeded draws are reproducible and independent of samples_batch_size") {
  const ModulePtr m = small_net(kSeed + 1);
  std::mt19937_64 rng(kSeed + 31);
  const Tensor x = randn({3, 2, 4, 4}, rng);
  const Tensor dist = randn({5, 2, 4, 4}, rng);
  const GradientShapOptions base{.baselines = dist, .samples = 6, .stdev = 0.1f, .seed = 11};
  const AttributionResult ref = gradient_shap(*m, x, Target::top1(), base);
  for (int chunk : {1, 4, 6}) {
    CAPTURE(chunk);
    GradientShapOptions o = base;
    o.samples_batch_size = chunk;
    BL_CHECK_CLOSE(gradient_shap(*m, x, Target::top1(), o).attribution, ref.attribution, 1e-7, 1e-5);
  }
  GradientShapOptions other = base;
  other.seed = 12;
  CHECK_FALSE(allclose_report(gradient_shap(*m, x, Target::top1(), other).attribution, ref.attribution, 1e-6, 1e-4)
                  .empty());
  // Completeness holds per copy only approximately (one random point on the path), but the
  // deltas are finite and there is one per copy.
  CHECK(ref.delta.numel() == 18);
  // The registry entry reads baselines, samples, stdev (a fraction of the range) and seed.
  const AttributionResult reg = attribute("gradient_shap", *m, x, Target::top1(),
                                          {.baselines = {Baseline::given(dist)}, .samples = 6, .seed = 11});
  GradientShapOptions o = base;
  o.stdev = 0.0f;
  BL_CHECK_CLOSE(reg.attribution, gradient_shap(*m, x, Target::top1(), o).attribution, 1e-7, 1e-5);
}

TEST_CASE("gradient_shap: parity with Captum GradientShap (explicit draws, stdevs 0.1, deltas)") {
  const ModulePtr m = cam_fixture_model();
  const SafeTensorsFile& f = cam_fixture();
  std::vector<int64_t> idx;
  for (float v : f.at("gs.indices").span()) idx.push_back(static_cast<int64_t>(v));
  const std::vector<float> alphas = f.at("gs.alphas").to_vector();
  const AttributionResult r =
      gradient_shap(*m, f.at("input"), Target::indices(cam_fixture_targets()),
                    {.baselines = f.at("gs.baselines"), .samples = 4, .baseline_indices = idx, .alphas = alphas,
                     .noise = f.at("gs.noise")});
  BL_CHECK_PARITY(r.attribution, f.at("gs.attribution"));
  BL_CHECK_PARITY(r.delta, f.at("gs.delta"));
}

}  // TEST_SUITE
