// Layer methods (attribution/layer/layer_methods.h): definitions by hand on a small CNN built from
// engine modules, completeness, batch and chunking invariance, error messages, the registry.
#include "attribution/path/integrated_gradients.h"
#include "attribution/core/layer.h"
#include "attribution/layer/layer_methods.h"
#include "attribution/layer/layer_path_methods.h"
#include "attribution/registry.h"
#include "engine/modules/all.h"
#include "tests/attribution/small_cnn.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

// Runs children [0, upto] of a Sequential by hand (no attribution code involved).
Tensor run_prefix(const Module& m, const Tensor& x, size_t upto) {
  const auto& seq = static_cast<const Sequential&>(m);
  Tape tape(TapeOptions{.record = false});
  Var h = tape.input(x);
  for (size_t i = 0; i <= upto; ++i) h = seq[i].forward(h);
  return h.value().clone();
}

double item_sum(const Tensor& t, int64_t n) {
  const int64_t per = t.numel() / t.size(0);
  double s = 0;
  for (int64_t i = n * per; i < (n + 1) * per; ++i) s += t.data()[i];
  return s;
}

// Per item, the class whose logit moves most between the zero baseline and the input.
std::vector<int64_t> moving_classes(const Module& m, const Tensor& x, Tensor* diff) {
  Tensor out_x, out_0;
  target_values(m, x, Target::top1(), Workspace(), nullptr, &out_x);
  target_values(m, Tensor::zeros(x.shape()), Target::top1(), Workspace(), nullptr, &out_0);
  const int64_t n = x.size(0), k = out_x.size(1);
  std::vector<int64_t> cls(n, 0);
  *diff = Tensor::empty(Shape{n});
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t c = 1; c < k; ++c)
      if (std::fabs(out_x.at({i, c}) - out_0.at({i, c})) > std::fabs(out_x.at({i, cls[i]}) - out_0.at({i, cls[i]})))
        cls[i] = c;
    diff->data()[i] = out_x.at({i, cls[i]}) - out_0.at({i, cls[i]});
  }
  return cls;
}

}  // namespace

TEST_SUITE("attribution") {
  TEST_CASE("layer_activation: equals the module output computed by hand") {
    const ModulePtr m = small_cnn();
    std::mt19937_64 rng(kSeed);
    const Tensor x = randn({3, 3, 8, 8}, rng);
    const AttributionResult relu = layer_activation(*m, x, Target::top1(), {.layer = "relu1"});
    BL_CHECK_CLOSE(relu.attribution, run_prefix(*m, x, 2), 0, 0);
    const AttributionResult conv = layer_activation(*m, x, Target::top1(), {.layer = "conv2"});
    BL_CHECK_CLOSE(conv.attribution, run_prefix(*m, x, 4), 0, 0);
    BL_CHECK_CLOSE(conv.output, run_prefix(*m, x, 8), 0, 0);
    CHECK(conv.layer_map.shares_storage(conv.attribution));
  }

  TEST_CASE("layer@input: the value entering the module (Captum's attribute_to_layer_input)") {
    const ModulePtr m = small_cnn();
    std::mt19937_64 rng(kSeed + 7);
    const Tensor x = randn({2, 3, 8, 8}, rng);
    BL_CHECK_CLOSE(layer_activation(*m, x, Target::top1(), {.layer = "conv2@input"}).attribution, run_prefix(*m, x, 3),
                   0, 0);
    BL_CHECK_CLOSE(layer_activation(*m, x, Target::top1(), {.layer = "relu1@input"}).attribution, run_prefix(*m, x, 1),
                   0, 0);
    // The gradient methods see the same value: conv2's input is pool's output.
    BL_CHECK_CLOSE(layer_gradient_x_activation(*m, x, Target::index(1), {.layer = "conv2@input"}).attribution,
                   layer_gradient_x_activation(*m, x, Target::index(1), {.layer = "pool"}).attribution, 0, 0);
    CHECK_THROWS_WITH_AS(layer_activation(*m, x, Target::top1(), {.layer = "conv1@input"}),
                         doctest::Contains("the input of module 'conv1' is the model input itself"), Error);
    CHECK_THROWS_WITH_AS(layer_activation(*m, x, Target::top1(), {.layer = "nope@input"}),
                         doctest::Contains("layer 'nope' not found"), Error);
  }

  TEST_CASE("layer_gradient_x_activation: activation x gradient by hand; batch equals items alone") {
    const ModulePtr m = small_cnn();
    std::mt19937_64 rng(kSeed + 1);
    const Tensor x = randn({2, 3, 8, 8}, rng);
    const AttributionResult r = layer_gradient_x_activation(*m, x, Target::index(2), {.layer = "conv2"});
    Tape tape;
    const Var in = tape.input(x);
    const Var out = m->forward(in);
    const Var a = layer_output(tape, "conv2");
    const Tensor g = grad(out, one_hot_seed(out.shape(), {2, 2}), a);
    Tensor expect = Tensor::empty(a.shape());
    for (int64_t i = 0; i < expect.numel(); ++i) expect.data()[i] = g.data()[i] * a.value().data()[i];
    BL_CHECK_CLOSE(r.attribution, expect, 1e-7, 1e-6);
    const AttributionResult plain =
        layer_gradient_x_activation(*m, x, Target::index(2), {.layer = "conv2", .multiply_by_inputs = false});
    BL_CHECK_CLOSE(plain.attribution, g, 1e-7, 1e-6);
    const AttributionResult one =
        layer_gradient_x_activation(*m, x.slice_batch(1, 2), Target::index(2), {.layer = "conv2"});
    BL_CHECK_CLOSE(one.attribution, r.attribution.slice_batch(1, 2).clone(), 1e-7, 1e-5);
  }

  TEST_CASE("layer_integrated_gradients: completeness within 1% at 64 gausslegendre steps") {
    const ModulePtr m = small_cnn();
    std::mt19937_64 rng(kSeed + 2);
    const Tensor x = randn({2, 3, 8, 8}, rng, 2.0f);
    Tensor diff;
    const std::vector<int64_t> cls = moving_classes(*m, x, &diff);
    for (const std::string layer : {"relu1", "conv2", "avgpool"}) {
      CAPTURE(layer);
      const AttributionResult r =
          layer_integrated_gradients(*m, x, Target::indices(cls), {.layer = layer, .steps = 64});
      for (int64_t n = 0; n < 2; ++n) {
        const double total = item_sum(r.attribution, n);
        MESSAGE(layer, " item ", n, ": sum ", total, " vs f(x) - f(x') = ", diff.data()[n]);
        CHECK(std::fabs(total - diff.data()[n]) < 0.01 * std::fabs(diff.data()[n]));
        CHECK(r.delta.data()[n] ==
              doctest::Approx(total - diff.data()[n]).epsilon(1e-3).scale(std::fabs(diff.data()[n])));
      }
    }
  }

  TEST_CASE("layer_integrated_gradients: internal_batch_size and batching do not change the result") {
    const ModulePtr m = small_cnn();
    std::mt19937_64 rng(kSeed + 3);
    const Tensor x = randn({3, 3, 8, 8}, rng);
    const LayerIntegratedGradientsOptions base{.layer = "relu1", .steps = 10, .method = Integration::RiemannTrapezoid};
    const AttributionResult all = layer_integrated_gradients(*m, x, Target::top1(), base);
    for (int ibs : {3, 7, 12}) {
      CAPTURE(ibs);
      LayerIntegratedGradientsOptions o = base;
      o.internal_batch_size = ibs;
      BL_CHECK_CLOSE(layer_integrated_gradients(*m, x, Target::top1(), o).attribution, all.attribution, 1e-7, 1e-4);
    }
    for (int64_t n = 0; n < 3; ++n) {
      const AttributionResult one =
          layer_integrated_gradients(*m, x.slice_batch(n, n + 1), Target::index(all.target[n]), base);
      BL_CHECK_CLOSE(one.attribution, all.attribution.slice_batch(n, n + 1).clone(), 1e-7, 1e-4);
    }
  }

  TEST_CASE("layer_conductance: sums over the layer to the IG total; chunking invariant") {
    const ModulePtr m = small_cnn();
    std::mt19937_64 rng(kSeed + 4);
    const Tensor x = randn({2, 3, 8, 8}, rng, 2.0f);
    Tensor diff;
    const std::vector<int64_t> cls = moving_classes(*m, x, &diff);
    const AttributionResult ig = integrated_gradients(*m, x, Target::indices(cls), {.steps = 64});
    const LayerConductanceOptions o{.layer = "conv2", .steps = 200, .method = Integration::RiemannTrapezoid};
    const AttributionResult r = layer_conductance(*m, x, Target::indices(cls), o);
    CHECK(r.attribution.shape() == Shape{2, 8, 4, 4});
    for (int64_t n = 0; n < 2; ++n) {
      const double total = item_sum(r.attribution, n), ig_total = item_sum(ig.attribution, n);
      MESSAGE("item ", n, ": conductance sum ", total, ", IG total ", ig_total, ", f(x) - f(x') ", diff.data()[n]);
      CHECK(std::fabs(total - ig_total) < 0.02 * std::fabs(diff.data()[n]));
      CHECK(r.delta.data()[n] ==
            doctest::Approx(total - diff.data()[n]).epsilon(1e-3).scale(std::fabs(diff.data()[n])));
    }
    LayerConductanceOptions small{.layer = "relu1", .steps = 9};
    const AttributionResult whole = layer_conductance(*m, x, Target::indices(cls), small);
    for (int ibs : {2, 5, 9}) {  // 1, 2 and 4 points per forward: chunk borders fall everywhere
      CAPTURE(ibs);
      small.internal_batch_size = ibs;
      BL_CHECK_CLOSE(layer_conductance(*m, x, Target::indices(cls), small).attribution, whole.attribution, 1e-7, 1e-4);
    }
  }

  TEST_CASE("internal_influence: equals layer IG without multiplication at a linear first layer") {
    // conv1 is linear in x, so the input path maps onto the layer path: same points, same weights.
    const ModulePtr m = small_cnn();
    std::mt19937_64 rng(kSeed + 5);
    const Tensor x = randn({2, 3, 8, 8}, rng);
    const std::vector<Baseline> b = {Baseline::constant(0.1f)};
    const AttributionResult ii =
        internal_influence(*m, x, Target::index(1), {.layer = "conv1", .steps = 12, .baselines = b});
    const AttributionResult lig = layer_integrated_gradients(
        *m, x, Target::index(1), {.layer = "conv1", .steps = 12, .baselines = b, .multiply_by_inputs = false});
    BL_CHECK_CLOSE(ii.attribution, lig.attribution, 1e-6, 1e-3);
    InternalInfluenceOptions chunked{.layer = "conv1", .steps = 12, .baselines = b, .internal_batch_size = 5};
    BL_CHECK_CLOSE(internal_influence(*m, x, Target::index(1), chunked).attribution, ii.attribution, 1e-7, 1e-4);
  }

  TEST_CASE("layer_deeplift: summation-to-delta; DeepLIFT-SHAP is the mean over baselines; batch invariance") {
    const ModulePtr m = small_cnn();
    std::mt19937_64 rng(kSeed + 6);
    const Tensor x = randn({2, 3, 8, 8}, rng);
    const std::vector<Baseline> b1 = {Baseline::uniform(-0.1f, 0.1f, 7)};
    for (const std::string layer : {"conv1", "relu1", "conv2", "fc"}) {
      CAPTURE(layer);
      const AttributionResult r = layer_deeplift(*m, x, Target::top1(), {.layer = layer, .baselines = b1});
      for (int64_t n = 0; n < 2; ++n) CHECK(std::fabs(r.delta.data()[n]) < 1e-4);
    }
    const AttributionResult all = layer_deeplift(*m, x, Target::index(3), {.layer = "conv2"});
    const AttributionResult one = layer_deeplift(*m, x.slice_batch(1, 2), Target::index(3), {.layer = "conv2"});
    BL_CHECK_CLOSE(one.attribution, all.attribution.slice_batch(1, 2).clone(), 1e-7, 1e-5);

    const Tensor dist = randn({3, 3, 8, 8}, rng, 0.2f);
    const AttributionResult shap = layer_deeplift_shap(*m, x, Target::index(3), {.layer = "conv2", .baselines = dist});
    Tensor mean = Tensor::zeros(shap.attribution.shape());
    for (int64_t k = 0; k < 3; ++k) {
      const AttributionResult rk = layer_deeplift(
          *m, x, Target::index(3), {.layer = "conv2", .baselines = {Baseline::given(dist.slice_batch(k, k + 1))}});
      for (int64_t i = 0; i < mean.numel(); ++i) mean.data()[i] += rk.attribution.data()[i] / 3;
    }
    BL_CHECK_CLOSE(shap.attribution, mean, 1e-7, 1e-5);
  }

  TEST_CASE("layer_gradient_shap: seeded and reproducible; one baseline without noise has small deltas") {
    const ModulePtr m = small_cnn();
    std::mt19937_64 rng(kSeed + 7);
    const Tensor x = randn({2, 3, 8, 8}, rng);
    const LayerGradientShapOptions o{.layer = "conv2", .baselines = Tensor::zeros({1, 3, 8, 8}), .samples = 64};
    const AttributionResult a = layer_gradient_shap(*m, x, Target::index(0), o);
    const AttributionResult b = layer_gradient_shap(*m, x, Target::index(0), o);
    BL_CHECK_CLOSE(a.attribution, b.attribution, 0, 0);
    CHECK(a.attribution.shape() == Shape{2, 8, 4, 4});
    // The expectation over alpha of (a - a') * grad is layer-path IG along the input path: with
    // 64 random alphas the completeness residual is a Monte Carlo error, well under the total.
    Tensor out_x, out_0;
    target_values(*m, x, Target::index(0), Workspace(), nullptr, &out_x);
    target_values(*m, Tensor::zeros(x.shape()), Target::index(0), Workspace(), nullptr, &out_0);
    for (int64_t n = 0; n < 2; ++n) {
      const double d = out_x.at({n, 0}) - out_0.at({n, 0});
      CHECK(a.delta.data()[n] == doctest::Approx(item_sum(a.attribution, n) - d).epsilon(1e-3).scale(std::fabs(d)));
    }
    LayerGradientShapOptions other = o;
    other.seed = 1;
    CHECK_FALSE(
        allclose_report(layer_gradient_shap(*m, x, Target::index(0), other).attribution, a.attribution, 0, 0).empty());
  }

  TEST_CASE("layer_lrp: relevance at the logits is the seed; the gradient rule set gives the layer gradient") {
    const ModulePtr m = small_cnn();
    std::mt19937_64 rng(kSeed + 8);
    const Tensor x = randn({2, 3, 8, 8}, rng);
    const AttributionResult top = layer_lrp(*m, x, Target::index(4), {.layer = "fc"});
    BL_CHECK_CLOSE(top.attribution, one_hot_seed(Shape{2, 5}, {4, 4}), 0, 0);
    CHECK(std::fabs(top.delta.data()[0]) < 1e-6);
    const RuleSet gradient("gradient");
    const AttributionResult g =
        layer_lrp(*m, x, Target::index(4), {.layer = "relu1", .rule_set = &gradient, .merge_batchnorm = false});
    const AttributionResult expect =
        layer_gradient_x_activation(*m, x, Target::index(4), {.layer = "relu1", .multiply_by_inputs = false});
    BL_CHECK_CLOSE(g.attribution, expect.attribution, 1e-7, 1e-5);
    // Captum's scaling by the target's output value.
    const AttributionResult scaled = layer_lrp(*m, x, Target::index(4), {.layer = "fc", .multiply_by_output = true});
    CHECK(scaled.attribution.at({1, 4}) == doctest::Approx(scaled.output.at({1, 4})));
    const AttributionResult eps = layer_lrp(*m, x, Target::index(4), {.layer = "conv2", .rules = "lrp_epsilon"});
    CHECK(eps.attribution.shape() == Shape{2, 8, 4, 4});
  }

  TEST_CASE("interpolate_layer_map: channel reduction then bilinear or nearest resize") {
    std::mt19937_64 rng(kSeed + 9);
    const Tensor map = randn({2, 3, 4, 4}, rng);
    BL_CHECK_CLOSE(interpolate_layer_map(map, 8, 8), upsample_bilinear(map, 8, 8), 0, 0);
    const Tensor sum = interpolate_layer_map(map, 8, 8, LayerMapReduce::Sum);
    const Tensor mean = interpolate_layer_map(map, 8, 8, LayerMapReduce::Mean);
    CHECK(sum.shape() == Shape{2, 1, 8, 8});
    Tensor channel_sum = Tensor::zeros({2, 1, 4, 4});
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t c = 0; c < 3; ++c)
        for (int64_t p = 0; p < 16; ++p) channel_sum.data()[n * 16 + p] += map.data()[(n * 3 + c) * 16 + p];
    BL_CHECK_CLOSE(sum, upsample_bilinear(channel_sum, 8, 8), 1e-6, 1e-5);
    for (int64_t i = 0; i < sum.numel(); ++i) CHECK(mean.data()[i] == doctest::Approx(sum.data()[i] / 3));
    const Tensor near = interpolate_layer_map(map, 8, 8, LayerMapReduce::None, LayerMapInterpolation::Nearest);
    CHECK(near.at({1, 2, 5, 3}) == map.at({1, 2, 2, 1}));
    CHECK_THROWS_WITH_AS(interpolate_layer_map(Tensor::zeros({2, 4, 4}), 8, 8),
                         doctest::Contains("expected a layer map [N,C,h,w]"), ShapeError);
  }

  TEST_CASE("layer methods: a function target selecting a logit equals the class target") {
    const ModulePtr m = small_cnn();
    std::mt19937_64 rng(kSeed + 11);
    const Tensor x = randn({2, 3, 8, 8}, rng);
    const Target fn = Target::function([](const Var& out) { return slice(flatten(out), 1, 3, 4); });
    const Target cls = Target::index(3);
    BL_CHECK_CLOSE(layer_gradient_x_activation(*m, x, fn, {.layer = "relu1"}).attribution,
                   layer_gradient_x_activation(*m, x, cls, {.layer = "relu1"}).attribution, 1e-8, 1e-6);
    const AttributionResult ig_fn = layer_integrated_gradients(*m, x, fn, {.layer = "conv2", .steps = 6});
    const AttributionResult ig_cls = layer_integrated_gradients(*m, x, cls, {.layer = "conv2", .steps = 6});
    BL_CHECK_CLOSE(ig_fn.attribution, ig_cls.attribution, 1e-8, 1e-5);
    BL_CHECK_CLOSE(ig_fn.delta, ig_cls.delta, 1e-6, 1e-4);
    BL_CHECK_CLOSE(layer_conductance(*m, x, fn, {.layer = "conv2", .steps = 6}).attribution,
                   layer_conductance(*m, x, cls, {.layer = "conv2", .steps = 6}).attribution, 1e-8, 1e-5);
    const AttributionResult dl_fn = layer_deeplift(*m, x, fn, {.layer = "conv2"});
    BL_CHECK_CLOSE(dl_fn.attribution, layer_deeplift(*m, x, cls, {.layer = "conv2"}).attribution, 1e-8, 1e-5);
    CHECK(dl_fn.target.empty());
  }

  TEST_CASE("layer methods: unknown layer lists the module paths; the registry needs --layer") {
    const ModulePtr m = small_cnn();
    std::mt19937_64 rng(kSeed + 10);
    const Tensor x = randn({1, 3, 8, 8}, rng);
    CHECK_THROWS_WITH_AS(
        layer_activation(*m, x, Target::top1(), {.layer = "layer9"}),
        doctest::Contains("layer 'layer9' not found in the model (module paths seen: conv1, bn1, relu1"), Error);
    CHECK_THROWS_WITH_AS(layer_integrated_gradients(*m, x, Target::top1(), {.layer = "conv3"}),
                         doctest::Contains("module paths seen: conv1"), Error);
    CHECK_THROWS_WITH_AS(layer_conductance(*m, x, Target::top1(), {}), doctest::Contains("layer_conductance: no layer"),
                         Error);
    CHECK_THROWS_WITH_AS(attribute("layer_conductance", *m, x, Target::top1()), doctest::Contains("needs a layer"),
                         Error);
    MethodOptions o;
    o.layer = "relu2";
    o.steps = 6;
    const AttributionResult via = attribute("layer_conductance", *m, x, Target::top1(), o);
    const AttributionResult direct = layer_conductance(*m, x, Target::top1(), {.layer = "relu2", .steps = 6});
    BL_CHECK_CLOSE(via.attribution, direct.attribution, 0, 0);
    for (const std::string name :
         {"layer_activation", "layer_gradient_x_activation", "layer_integrated_gradients", "internal_influence",
          "layer_gradient_shap", "layer_deeplift", "layer_deeplift_shap", "layer_lrp"}) {
      CAPTURE(name);
      const AttributionResult r = attribute(name, *m, x, Target::top1(), o);
      CHECK(r.attribution.shape() == Shape{1, 8, 4, 4});
    }
  }

}  // TEST_SUITE
