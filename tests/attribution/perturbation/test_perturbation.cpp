// Ablation methods (occlusion, feature ablation / permutation, layer and neuron ablation):
// invariance to perturbations_per_eval, targets, masks, errors, seeds; registry entries.
#include <algorithm>

#include "attribution/perturbation/feature_ablation.h"
#include "attribution/perturbation/layer_ablation.h"
#include "attribution/perturbation/occlusion.h"
#include "attribution/perturbation/perturbation.h"
#include "attribution/registry.h"
#include "tests/attribution/perturbation_fixture.h"

using namespace backlight;
using namespace backlight::test;

namespace {

Tensor test_input(int64_t n = 2, uint64_t seed = kSeed) {
  std::mt19937_64 rng(seed);
  return uniform({n, 3, 10, 9}, rng);
}

// Tolerance for results from differently batched forwards: a few ulp of the logits.
void check_same(const Tensor& a, const Tensor& b) { BL_CHECK_CLOSE(a, b, 1e-5 * std::max(1.0, max_abs(b)), 1e-5); }

// Target::function that picks class `c` (mul by a one-hot, sum over classes): equivalent to
// Target::index(c), through the function path.
Target function_target(int64_t c) {
  return Target::function([c](const Var& out) {
    Tensor m = Tensor::zeros(out.shape());
    const int64_t k = out.shape()[1];
    for (int64_t r = 0; r < out.shape()[0]; ++r) m.data()[r * k + c] = 1.0f;
    const int axes[] = {1};
    return sum(mul(out, out.tape().input(m)), axes);
  });
}

Tensor superpixels(int64_t n = 1) {
  Tensor m = Tensor::empty({n, 1, 10, 9});
  for (int64_t i = 0; i < n; ++i)
    for (int64_t y = 0; y < 10; ++y)
      for (int64_t x = 0; x < 9; ++x) m.data()[(i * 10 + y) * 9 + x] = static_cast<float>((y / 3) * 3 + x / 3 + i);
  return m;
}

}  // namespace

TEST_SUITE("attribution") {
  TEST_CASE("occlusion: perturbations_per_eval 1, 3 and all give the same result") {
    const ModulePtr m = perturbation_cnn();
    const Tensor x = test_input(3);
    const OcclusionOptions base{.window = {3, 4, 3}, .stride = {1, 3, 2}};
    OcclusionOptions o = base;
    o.perturbations_per_eval = 1;
    const Tensor ref = occlusion(*m, x, Target::top1(), o).attribution;
    for (int ppe : {3, 1000}) {
      CAPTURE(ppe);
      o.perturbations_per_eval = ppe;
      check_same(occlusion(*m, x, Target::top1(), o).attribution, ref);
    }
  }

  TEST_CASE("occlusion: function targets equal class targets; result carries output and classes") {
    const ModulePtr m = perturbation_cnn();
    const Tensor x = test_input();
    const OcclusionOptions o{.window = {3, 3, 3}, .stride = {3, 2, 2}};
    const AttributionResult a = occlusion(*m, x, Target::index(4), o);
    const AttributionResult b = occlusion(*m, x, function_target(4), o);
    check_same(b.attribution, a.attribution);
    CHECK(a.target == std::vector<int64_t>{4, 4});
    CHECK(b.target.empty());
    CHECK(a.output.shape() == Shape({2, 5}));
  }

  TEST_CASE("occlusion: errors name the window, the stride and the shapes") {
    const ModulePtr m = perturbation_cnn();
    const Tensor x = test_input();
    CHECK_THROWS_WITH_AS(occlusion(*m, x, Target::top1(), {.window = {3, 3}}),
                         doctest::Contains("expected a sliding window with 3 dimensions"), backlight::Error);
    CHECK_THROWS_WITH_AS(occlusion(*m, x, Target::top1(), {.window = {1, 2, 2}, .stride = {1, 3, 1}}),
                         doctest::Contains("is larger than the window"), backlight::Error);
    CHECK_THROWS_WITH_AS(occlusion(*m, x, Target::top1(), {.window = {1, 2, 2}, .perturbations_per_eval = -1}),
                         doctest::Contains("perturbations_per_eval must be >= 1"), backlight::Error);
  }

  TEST_CASE("feature_ablation: perturbations_per_eval invariance, skipped ids, sum per group") {
    const ModulePtr m = perturbation_cnn();
    const Tensor x = test_input(3);
    // ids 0..11 with gaps (every other id): absent ids change nothing.
    Tensor mask = superpixels();
    for (float& v : mask.span()) v *= 2.0f;
    const Tensor ref =
        feature_ablation(*m, x, Target::top1(), {.feature_mask = mask, .perturbations_per_eval = 1}).attribution;
    for (int ppe : {3, 1000}) {
      CAPTURE(ppe);
      check_same(
          feature_ablation(*m, x, Target::top1(), {.feature_mask = mask, .perturbations_per_eval = ppe}).attribution,
          ref);
    }
    // Every element of a group carries the group's value: f(x) - f(x with the group ablated).
    const Tensor x1 = x.slice_batch(0, 1);
    const AttributionResult r1 = feature_ablation(*m, x1, Target::index(2), {.feature_mask = mask});
    Tensor ablated = x1.clone();
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t p = 0; p < 90; ++p)
        if (mask.data()[p] == 8.0f) ablated.data()[c * 90 + p] = 0.0f;
    Tape t(TapeOptions{.record = false});
    const float f0 = m->forward(t.input(x1)).value().at({0, 2});
    Tape t2(TapeOptions{.record = false});
    const float f1 = m->forward(t2.input(ablated)).value().at({0, 2});
    for (int64_t c = 0; c < 3; ++c)
      for (int64_t p = 0; p < 90; ++p)
        if (mask.data()[p] == 8.0f) CHECK(r1.attribution.data()[c * 90 + p] == doctest::Approx(f0 - f1).epsilon(1e-4));
  }

  TEST_CASE("feature masks: broadcasting rules and errors") {
    const Tensor x = test_input();
    const FeatureGroups shared = feature_groups(superpixels(), x, "test");
    CHECK(shared.mask_items == 1);
    CHECK(shared.present.size() == 12);
    const FeatureGroups fewer_dims = feature_groups(superpixels().reshape({10, 9}), x, "test");
    CHECK(fewer_dims.ids == shared.ids);
    const FeatureGroups per_item = feature_groups(superpixels(2), x, "test");
    CHECK(per_item.mask_items == 2);
    CHECK(per_item.max_id == 12);
    CHECK_THROWS_WITH_AS(feature_groups(Tensor::zeros({1, 2, 10, 9}), x, "feature_ablation"),
                         doctest::Contains("does not broadcast to the inputs [2,3,10,9] (dimension 1"),
                         backlight::Error);
    CHECK_THROWS_WITH_AS(feature_groups(Tensor::full({10, 9}, 0.5f), x, "feature_ablation"),
                         doctest::Contains("feature mask values must be integer ids, got 0.5"), backlight::Error);
  }

  TEST_CASE("feature_permutation: seeded, batch-invariant, zero for features the model ignores") {
    // A linear model on 6 features that ignores features 1 and 4.
    std::mt19937_64 rng(kSeed);
    auto lin = std::make_shared<Linear>(6, 2, rng);
    for (int64_t c = 0; c < 2; ++c)
      lin->parameter("weight").data()[c * 6 + 1] = lin->parameter("weight").data()[c * 6 + 4] = 0;
    const Tensor x = randn({5, 6}, rng);
    const FeaturePermutationOptions o{.seed = 7};
    const AttributionResult a = feature_permutation(*lin, x, Target::index(0), o);
    for (int64_t n = 0; n < 5; ++n) {
      CHECK(std::fabs(a.attribution.at({n, 1})) <= 1e-6f);  // up to batch-dependent GEMM round-off
      CHECK(std::fabs(a.attribution.at({n, 4})) <= 1e-6f);
    }
    BL_CHECK_CLOSE(feature_permutation(*lin, x, Target::index(0), o).attribution, a.attribution, 0.0, 0.0);
    FeaturePermutationOptions o3 = o;
    o3.perturbations_per_eval = 3;
    check_same(feature_permutation(*lin, x, Target::index(0), o3).attribution, a.attribution);
    FeaturePermutationOptions other = o;
    other.seed = 8;
    CHECK(!allclose_report(feature_permutation(*lin, x, Target::index(0), other).attribution, a.attribution, 1e-6, 0)
               .empty());
    // Per item, a feature's attribution is w * (x - x[perm]): the permuted values are other items'.
    CHECK_THROWS_WITH_AS(feature_permutation(*lin, x.slice_batch(0, 1), Target::index(0)),
                         doctest::Contains("needs at least 2 inputs"), backlight::Error);
    CHECK_THROWS_WITH_AS(feature_permutation(*lin, x, Target::index(0), {.feature_mask = Tensor::zeros({5, 6})}),
                         doctest::Contains("expected one feature mask shared by all items"), backlight::Error);
  }

  TEST_CASE("layer_feature_ablation: per-unit default and channel groups; neuron_feature_ablation: batch invariance") {
    const ModulePtr m = perturbation_cnn();
    const Tensor x = test_input();
    // features.5 (adaptive avgpool) output [2, 8, 2, 2]: per unit = 32 groups.
    const AttributionResult units = layer_feature_ablation(*m, x, Target::index(1), {.layer = "features.5"});
    CHECK(units.attribution.shape() == Shape({2, 8, 2, 2}));
    // The classifier is linear in the pooled units: ablating one unit to 0 changes the logit by w * unit.
    const Tensor w = m->find("classifier")->parameter("weight");
    Tape t(TapeOptions{.record = false});
    const Var pooled = m->find("features")->forward(t.input(x));
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t u = 0; u < 32; ++u)
        CHECK(std::fabs(units.attribution.data()[n * 32 + u] -
                        w.data()[1 * 32 + u] * pooled.value().data()[n * 32 + u]) <= 1e-5f);
    const AttributionResult ch =
        layer_feature_ablation(*m, x, Target::index(1), {.layer = "features.5", .channels = true});
    CHECK(ch.layer_map.shape() == Shape({2, 8, 2, 2}));
    CHECK_THROWS_WITH_AS(layer_feature_ablation(*m, x, Target::index(1), {.layer = "features.9"}),
                         doctest::Contains("layer 'features.9' not found"), backlight::Error);

    const Neuron neuron = Neuron::at("features.3", {1, 2, 2});
    const Tensor ref =
        neuron_feature_ablation(*m, x, neuron, {.feature_mask = superpixels(), .perturbations_per_eval = 1})
            .attribution;
    check_same(neuron_feature_ablation(*m, x, neuron, {.feature_mask = superpixels(), .perturbations_per_eval = 5})
                   .attribution,
               ref);
  }

}  // TEST_SUITE("attribution")

TEST_SUITE("attribution") {
  TEST_CASE("registry: every perturbation method runs by name with its defaults and documents its options") {
    const ModulePtr m = perturbation_cnn();
    const Tensor x = test_input(2);
    MethodOptions o;
    o.samples = 6;
    o.seed = 3;
    o.layer = "features.3";
    o.neuron = {1, 2, 2};
    for (const char* name : {"occlusion", "feature_ablation", "feature_permutation", "shapley_value_sampling",
                             "kernel_shap", "lime", "rise", "layer_feature_ablation", "neuron_feature_ablation"}) {
      CAPTURE(name);
      const auto all = methods();
      const auto it = std::find_if(all.begin(), all.end(), [&](const MethodInfo& i) { return i.name == name; });
      REQUIRE(it != all.end());
      CHECK(!it->options.empty());
      const AttributionResult r = attribute(name, *m, x, Target::top1(), o);
      CHECK(r.attribution.defined());
      CHECK(r.attribution.size(0) == 2);
      for (float v : r.attribution.span()) CHECK(std::isfinite(v));
    }
    // The default grid for images: cells of all channels x ceil(H/8) x ceil(W/8).
    CHECK(default_window(x.shape()) == std::vector<int64_t>{3, 2, 2});
    const Tensor grid = window_grid_mask(x.shape(), default_window(x.shape()));
    CHECK(grid.shape() == Shape({1, 3, 10, 9}));
    CHECK(grid.at({0, 2, 9, 8}) == 24.0f);  // 5 x 5 cells, last one
    CHECK(grid.at({0, 0, 9, 8}) == grid.at({0, 2, 9, 8}));
  }

}  // TEST_SUITE("attribution")
