// Batch equivalence over the whole methods registry: every method, run by name on a batch of 3,
// equals the same method run on each item alone (attribution and, where defined, delta). Methods
// whose result depends on the batch by definition are listed with the reason (docs/methods.md).
// The GradientSHAP family is batch-equivalent given the same draws; it is tested with explicit
// draws below. Also: methods() lists exactly the names issue 4 asks for, each with a description.
#include <algorithm>
#include <map>

#include "attribution/path/deeplift.h"
#include "attribution/path/gradient_shap.h"
#include "attribution/layer/layer_methods.h"
#include "attribution/layer/layer_path_methods.h"
#include "attribution/neuron/neuron_methods.h"
#include "attribution/registry.h"
#include "engine/modules/all.h"
#include "models/vit.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

constexpr int64_t kItems = 3;

// conv-relu-maxpool-conv-relu-GAP-linear: every family runs on it (CAM needs the GAP + linear).
ModulePtr batch_cnn() {
  std::mt19937_64 rng(kSeed + 40);
  return std::make_shared<Sequential>(std::initializer_list<ModulePtr>{
      std::make_shared<Conv2d>(3, 4, 3, rng, Conv2dOptions{.padding = 1}), std::make_shared<ReLU>(),
      std::make_shared<MaxPool2d>(2), std::make_shared<Conv2d>(4, 6, 3, rng, Conv2dOptions{.padding = 1}),
      std::make_shared<ReLU>(), std::make_shared<AdaptiveAvgPool2d>(1), std::make_shared<Flatten>(),
      std::make_shared<Linear>(6, 5, rng)});
}

ModulePtr batch_vit() {
  std::mt19937_64 rng(kSeed + 41);
  return std::make_shared<VisionTransformer>(
      VisionTransformerConfig{.image_size = 8, .patch_size = 4, .num_layers = 2, .num_heads = 2, .hidden_dim = 8,
                              .mlp_dim = 16, .num_classes = 5},
      rng);
}

// Methods whose result for an item depends on the other items of the batch, and why.
const std::map<std::string, std::string>& batch_coupled() {
  static const std::map<std::string, std::string> m = {
      {"feature_permutation", "shuffles each feature across the items of the batch (needs N >= 2)"},
      {"gradient_shap", "Philox draws indexed by (sample, item position); equal with explicit draws (tested below)"},
      {"layer_gradient_shap", "as gradient_shap"},
      {"neuron_gradient_shap", "as gradient_shap"},
      {"kernel_shap", "coalitions drawn from a Philox stream per item position (Captum draws item after item)"},
      {"lime", "as kernel_shap"},
  };
  return m;
}

MethodOptions options_for(const MethodInfo& info) {
  MethodOptions o;
  o.layer = info.family == "attention" ? "" : "3";  // the second conv: [N, 6, 4, 4]
  o.neuron = {2, 1, 3};
  o.baselines = {Baseline::constant(0.1f)};
  o.steps = 8;
  o.samples = info.name == "rise" ? 40 : 6;
  o.seed = 5;
  o.batch = 7;  // rows per forward where the method batches: not a multiple of anything here
  return o;
}

void check_same(const Tensor& batch_part, const Tensor& alone, const std::string& what) {
  const double scale = std::max(max_abs(batch_part), 1e-30);
  const std::string report = allclose_report(batch_part, alone, 1e-5 * scale, 1e-4);
  CHECK_MESSAGE(report.empty(), what, ": ", report);
}

}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("registry: the names of issue 4 are listed by methods() and reachable through attribute()") {
  const std::vector<std::string> required = {
      "saliency", "input_x_gradient", "integrated_gradients", "gradient_shap", "deeplift", "deeplift_shap",
      "guided_backprop", "deconvolution", "lrp", "guided_grad_cam", "cam", "grad_cam", "grad_cam_plus_plus",
      "score_cam", "layer_activation", "layer_gradient_x_activation", "layer_integrated_gradients",
      "layer_conductance", "internal_influence", "layer_gradient_shap", "layer_deeplift", "layer_deeplift_shap",
      "layer_lrp", "neuron_gradient", "neuron_input_x_gradient", "neuron_integrated_gradients", "neuron_conductance",
      "neuron_gradient_shap", "neuron_guided_backprop", "neuron_deconvolution", "neuron_deeplift",
      "neuron_deeplift_shap", "attention_rollout"};
  const std::vector<MethodInfo> all = methods();
  for (const std::string& name : required) {
    CAPTURE(name);
    const auto it = std::find_if(all.begin(), all.end(), [&](const MethodInfo& i) { return i.name == name; });
    REQUIRE(it != all.end());
    CHECK(!it->description.empty());
    CHECK(!it->family.empty());
  }
  for (size_t i = 0; i < all.size(); ++i)
    for (size_t j = i + 1; j < all.size(); ++j) CHECK_MESSAGE(all[i].name != all[j].name, all[i].name);
  CHECK_THROWS_WITH_AS(attribute("deep_lift", *batch_cnn(), Tensor::zeros({1, 3, 8, 8}), Target::top1()),
                       doctest::Contains("unknown method 'deep_lift' (known: saliency"), Error);
}

TEST_CASE("registry: every method on a batch of 3 equals the method on each item alone") {
  const ModulePtr cnn = batch_cnn();
  const ModulePtr vit = batch_vit();
  std::mt19937_64 rng(kSeed + 42);
  const Tensor x = randn({kItems, 3, 8, 8}, rng);
  const std::vector<int64_t> classes{1, 4, 0};
  int compared = 0;
  for (const MethodInfo& info : methods()) {
    CAPTURE(info.name);
    if (batch_coupled().count(info.name)) continue;
    const Module& model = info.family == "attention" ? *vit : *cnn;
    const MethodOptions o = options_for(info);
    const AttributionResult batch = attribute(info.name, model, x, Target::indices(classes), o);
    REQUIRE(batch.attribution.defined());
    REQUIRE(batch.attribution.size(0) == kItems);
    for (int64_t n = 0; n < kItems; ++n) {
      CAPTURE(n);
      const AttributionResult alone = attribute(info.name, model, x.slice_batch(n, n + 1).clone(),
                                                Target::index(classes[n]), o);
      check_same(batch.attribution.slice_batch(n, n + 1).clone(), alone.attribution, info.name + " attribution");
      // Per-item deltas ([N]; per-copy deltas [N * S] are interleaved item-major, S = numel / N).
      if (batch.delta.defined()) {
        REQUIRE(alone.delta.defined());
        const int64_t per = alone.delta.numel();
        REQUIRE(batch.delta.numel() == kItems * per);
        const Tensor part = Tensor::from({per}, std::vector<float>(batch.delta.data() + n * per,
                                                                   batch.delta.data() + (n + 1) * per));
        BL_CHECK_CLOSE(part, alone.delta, 1e-5 + 1e-4 * max_abs(batch.attribution), 1e-3);
      }
    }
    ++compared;
  }
  CHECK(compared + static_cast<int>(batch_coupled().size()) == static_cast<int>(methods().size()));
}

TEST_CASE("gradient_shap family: with explicit draws a batch equals its items alone") {
  const ModulePtr m = batch_cnn();
  std::mt19937_64 rng(kSeed + 43);
  const int samples = 3;
  const Tensor x = randn({kItems, 3, 8, 8}, rng);
  const Tensor dist = randn({4, 3, 8, 8}, rng, 0.5f);
  const Tensor noise = randn({samples, kItems, 3, 8, 8}, rng, 0.1f);
  const std::vector<int64_t> idx{3, 0, 1, 1, 2, 3, 0, 2, 2};  // [s * N + n]
  const std::vector<float> alphas{0.1f, 0.9f, 0.5f, 0.25f, 0.75f, 0.6f, 0.3f, 0.45f, 0.8f};
  const std::vector<int64_t> classes{1, 4, 0};
  const int64_t per = x.numel() / kItems;
  const GradientShapOptions gs{.baselines = dist, .samples = samples, .baseline_indices = idx, .alphas = alphas,
                               .noise = noise};
  const LayerGradientShapOptions lgs{.layer = "3", .baselines = dist, .samples = samples, .baseline_indices = idx,
                                     .alphas = alphas, .noise = noise};
  const NeuronGradientShapOptions ngs{.baselines = dist, .samples = samples, .baseline_indices = idx,
                                      .alphas = alphas, .noise = noise};
  const AttributionResult b1 = gradient_shap(*m, x, Target::indices(classes), gs);
  const AttributionResult b2 = layer_gradient_shap(*m, x, Target::indices(classes), lgs);
  const AttributionResult b3 = neuron_gradient_shap(*m, x, Neuron::at("4", {2, 1, 1}), ngs);
  for (int64_t n = 0; n < kItems; ++n) {
    CAPTURE(n);
    // Item n's draws: index s * N + n -> s, and its noise rows.
    std::vector<int64_t> i1;
    std::vector<float> a1;
    Tensor z1 = Tensor::empty({samples, 1, 3, 8, 8});
    for (int s = 0; s < samples; ++s) {
      i1.push_back(idx[s * kItems + n]);
      a1.push_back(alphas[s * kItems + n]);
      std::copy(noise.data() + (s * kItems + n) * per, noise.data() + (s * kItems + n + 1) * per,
                z1.data() + s * per);
    }
    const Tensor xn = x.slice_batch(n, n + 1).clone();
    const auto with_item_draws = [&](auto o) {
      o.baseline_indices = i1;
      o.alphas = a1;
      o.noise = z1;
      return o;
    };
    const GradientShapOptions g1 = with_item_draws(gs);
    const LayerGradientShapOptions l1 = with_item_draws(lgs);
    const NeuronGradientShapOptions n1 = with_item_draws(ngs);
    check_same(b1.attribution.slice_batch(n, n + 1).clone(),
               gradient_shap(*m, xn, Target::index(classes[n]), g1).attribution, "gradient_shap");
    check_same(b2.attribution.slice_batch(n, n + 1).clone(),
               layer_gradient_shap(*m, xn, Target::index(classes[n]), l1).attribution, "layer_gradient_shap");
    check_same(b3.attribution.slice_batch(n, n + 1).clone(),
               neuron_gradient_shap(*m, xn, Neuron::at("4", {2, 1, 1}), n1).attribution, "neuron_gradient_shap");
  }
}

TEST_CASE("registry: multiply_by_inputs and neuron_selector reach the methods") {
  const ModulePtr m = batch_cnn();
  std::mt19937_64 rng(kSeed + 44);
  const Tensor x = uniform({2, 3, 8, 8}, rng, 0.0f, 1.0f);
  const Target t = Target::indices({1, 3});
  // multiply_by_inputs=false with a zero baseline: the multiplied attribution is (x - 0) times it;
  // for layer methods (a(x) - a(0)) times it.
  for (const std::string name : {"integrated_gradients", "deeplift", "layer_integrated_gradients", "layer_deeplift"}) {
    CAPTURE(name);
    MethodOptions o;
    o.layer = "3";
    const AttributionResult mult = attribute(name, *m, x, t, o);
    o.multiply_by_inputs = false;
    const AttributionResult grads = attribute(name, *m, x, t, o);
    Tensor diff = x.clone();
    if (name.starts_with("layer")) {
      diff = attribute("layer_activation", *m, x, t, o).attribution.clone();
      const Tensor a0 = attribute("layer_activation", *m, Tensor::zeros(x.shape()), t, o).attribution;
      for (int64_t i = 0; i < diff.numel(); ++i) diff.data()[i] -= a0.data()[i];
    }
    Tensor expect = grads.attribution.clone();
    for (int64_t i = 0; i < expect.numel(); ++i) expect.data()[i] *= diff.data()[i];
    BL_CHECK_CLOSE(mult.attribution, expect, 1e-5, 1e-4);
  }
  // deeplift_shap: the mean multipliers over the distribution.
  MethodOptions o;
  o.baselines = {Baseline::given(uniform({3, 3, 8, 8}, rng, 0.0f, 0.2f))};
  o.multiply_by_inputs = false;
  const AttributionResult shap = attribute("deeplift_shap", *m, x, t, o);
  DeepLiftOptions dl{.baselines = {}, .multiply_by_inputs = false};
  const Tensor dist = o.baselines[0].tensor;
  for (int64_t b = 0; b < 3; ++b) dl.baselines.push_back(Baseline::given(dist.slice_batch(b, b + 1)));
  BL_CHECK_CLOSE(shap.attribution, deeplift(*m, x, t, dl).attribution, 1e-6, 1e-5);
  // A selector function in the options: the same as the index it selects.
  MethodOptions n;
  n.layer = "4";
  n.neuron = {2, 1, 1};
  const AttributionResult by_index = attribute("neuron_gradient", *m, x, t, n);
  n.neuron.clear();
  n.neuron_selector = [](const Var& a) { return slice(flatten(a), 1, 2 * 16 + 1 * 4 + 1, 2 * 16 + 1 * 4 + 2); };
  BL_CHECK_CLOSE(attribute("neuron_gradient", *m, x, t, n).attribution, by_index.attribution, 0, 0);
}

}  // TEST_SUITE
