// Parity with Captum 0.8 Occlusion, FeatureAblation, LayerFeatureAblation and
// NeuronFeatureAblation on a small CNN (fixture: tools/reference/make_perturbation_fixtures.py).
#include "attribution/perturbation/feature_ablation.h"
#include "attribution/perturbation/layer_ablation.h"
#include "attribution/perturbation/occlusion.h"
#include "tests/attribution/perturbation_fixture.h"

using namespace backlight;
using namespace backlight::test;

namespace {

// Exact up to float32 round-off: each value is a difference of two logits (whose round-off, a few
// ulp of the logits, depends on the batch size the GEMMs see), averaged over a few windows.
void check_parity(const Tensor& got, const Tensor& ref) {
  const double logit_scale = max_abs(perturbation_tensor("logits"));
  BL_CHECK_CLOSE(got, ref, 4e-6 * logit_scale + 2e-6 * max_abs(ref), 1e-5);
}

const Target kTarget = Target::indices({1, 3});

}  // namespace

TEST_SUITE("attribution") {
  TEST_CASE("parity: the fixture CNN's logits equal PyTorch") {
    Tape t(TapeOptions{.record = false});
    BL_CHECK_CLOSE(perturbation_cnn()->forward(t.input(perturbation_tensor("input"))).value(),
                   perturbation_tensor("logits"), 1e-5, 1e-5);
  }

  TEST_CASE("parity: occlusion equals Captum's Occlusion (border windows, overlaps, baselines)") {
    const ModulePtr m = perturbation_cnn();
    const Tensor x = perturbation_tensor("input");
    for (int ppe : {1, 4, 0}) {
      CAPTURE(ppe);
      check_parity(occlusion(*m, x, kTarget, {.window = {3, 3, 3}, .stride = {3, 2, 2}, .perturbations_per_eval = ppe})
                       .attribution,
                   perturbation_tensor("occlusion/a"));
    }
    check_parity(occlusion(*m, x, Target::index(2),
                           {.window = {1, 4, 3}, .stride = {1, 3, 2}, .baseline = Baseline::constant(0.5f)})
                     .attribution,
                 perturbation_tensor("occlusion/b"));
    check_parity(occlusion(*m, x, kTarget,
                           {.window = {3, 5, 5},
                            .stride = {3, 4, 3},
                            .baseline = Baseline::given(perturbation_tensor("occlusion/c_baseline"))})
                     .attribution,
                 perturbation_tensor("occlusion/c"));
  }

  TEST_CASE("parity: feature_ablation equals Captum's FeatureAblation (shared, per-item and default masks)") {
    const ModulePtr m = perturbation_cnn();
    const Tensor x = perturbation_tensor("input");
    check_parity(
        feature_ablation(*m, x, kTarget, {.feature_mask = perturbation_tensor("feature_ablation/a_mask")}).attribution,
        perturbation_tensor("feature_ablation/a"));
    check_parity(feature_ablation(*m, x, kTarget,
                                  {.feature_mask = perturbation_tensor("feature_ablation/b_mask"),
                                   .baseline = Baseline::given(perturbation_tensor("feature_ablation/b_baseline")),
                                   .perturbations_per_eval = 3})
                     .attribution,
                 perturbation_tensor("feature_ablation/b"));
    check_parity(feature_ablation(*m, x, kTarget, {.baseline = Baseline::constant(0.25f)}).attribution,
                 perturbation_tensor("feature_ablation/c"));
  }

  TEST_CASE("parity: layer_feature_ablation (channels) and neuron_feature_ablation equal Captum") {
    const ModulePtr m = perturbation_cnn();
    const Tensor x = perturbation_tensor("input");
    const AttributionResult lr = layer_feature_ablation(*m, x, kTarget, {.layer = "features.3", .channels = true});
    check_parity(lr.attribution, perturbation_tensor("layer_feature_ablation/a"));
    Tensor mask = Tensor::empty({1, 8, 1, 1});
    for (int c = 0; c < 8; ++c) mask.data()[c] = static_cast<float>(c);
    check_parity(
        layer_feature_ablation(*m, x, kTarget, {.layer = "features.3", .layer_mask = mask, .perturbations_per_eval = 3})
            .attribution,
        perturbation_tensor("layer_feature_ablation/a"));
    check_parity(neuron_feature_ablation(*m, x, Neuron::at("features.3", {2, 1, 1}),
                                         {.feature_mask = perturbation_tensor("feature_ablation/a_mask")})
                     .attribution,
                 perturbation_tensor("neuron_feature_ablation/a"));
  }

}  // TEST_SUITE("attribution")
