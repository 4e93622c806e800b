// Neuron methods (attribution/neuron/neuron_methods.h): definitions by hand on a small CNN built from
// engine modules, completeness w.r.t. the neuron, batch and chunking invariance, error messages.
#include "attribution/path/integrated_gradients.h"
#include "attribution/core/layer.h"
#include "attribution/layer/layer_methods.h"
#include "attribution/neuron/neuron_methods.h"
#include "attribution/registry.h"
#include "engine/modules/all.h"
#include "engine/rules/builtin_sets.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

// Paths: conv1 bn1 relu1 pool conv2 relu2 avgpool flatten fc (BatchNorm with random statistics).
ModulePtr small_cnn(uint64_t seed = kSeed) {
  std::mt19937_64 rng(seed);
  auto bn = std::make_shared<BatchNorm2d>(6);
  bn->parameter("weight") = uniform({6}, rng, 0.5f, 1.5f);
  bn->parameter("bias") = uniform({6}, rng, -0.2f, 0.2f);
  bn->buffer("running_mean") = uniform({6}, rng, -0.3f, 0.3f);
  bn->buffer("running_var") = uniform({6}, rng, 0.5f, 2.0f);
  auto m = std::make_shared<Sequential>();
  m->add("conv1", std::make_shared<Conv2d>(3, 6, 3, rng, Conv2dOptions{.padding = 1}))
      .add("bn1", bn)
      .add("relu1", std::make_shared<ReLU>())
      .add("pool", std::make_shared<MaxPool2d>(2))
      .add("conv2", std::make_shared<Conv2d>(6, 8, 3, rng, Conv2dOptions{.padding = 1}))
      .add("relu2", std::make_shared<ReLU>())
      .add("avgpool", std::make_shared<AdaptiveAvgPool2d>(2))
      .add("flatten", std::make_shared<Flatten>())
      .add("fc", std::make_shared<Linear>(32, 5, rng));
  return m;
}

double item_sum(const Tensor& t, int64_t n) {
  const int64_t per = t.numel() / t.size(0);
  double s = 0;
  for (int64_t i = n * per; i < (n + 1) * per; ++i) s += t.data()[i];
  return s;
}

// The layer output of `layer` for x (no attribution code: layer_activation is tested by hand).
Tensor activation(const Module& m, const Tensor& x, const std::string& layer) {
  return layer_activation(m, x, Target::top1(), {.layer = layer}).attribution;
}

// Backward from the neuron at flat per-item offset `offset` of `layer`, by hand.
Tensor neuron_grad_by_hand(const Module& m, const Tensor& x, const std::string& layer, int64_t offset,
                           const RuleSet& rules) {
  Tape tape;
  const Var in = tape.input(x);
  m.forward(in);
  const Var a = layer_output(tape, layer);
  Tensor seed = Tensor::zeros(a.shape());
  const int64_t per = a.shape().numel() / a.shape()[0];
  for (int64_t n = 0; n < a.shape()[0]; ++n) seed.data()[n * per + offset] = 1.0f;
  return backward(a, seed, in, rules);
}

// Selects flat element `offset` of each item: flatten, then slice one column -> [N, 1].
Neuron select_flat(const std::string& layer, int64_t offset) {
  return Neuron::select(layer, [offset](const Var& a) { return slice(flatten(a), 1, offset, offset + 1); });
}

}  // namespace

TEST_SUITE("attribution") {
  TEST_CASE("neuron_gradient: the gradient of one activation by hand; flat, multi-dim and selector agree") {
    const ModulePtr m = small_cnn();
    std::mt19937_64 rng(kSeed + 20);
    const Tensor x = randn({3, 3, 8, 8}, rng);
    const int64_t offset = (3 * 4 + 1) * 4 + 2;  // conv2 output [8, 4, 4], neuron (3, 1, 2)
    const Tensor expect = neuron_grad_by_hand(*m, x, "conv2", offset, RuleSet("gradient"));
    const AttributionResult multi = neuron_gradient(*m, x, Neuron::at("conv2", {3, 1, 2}));
    BL_CHECK_CLOSE(multi.attribution, expect, 0, 0);
    BL_CHECK_CLOSE(neuron_gradient(*m, x, Neuron::at("conv2", {offset})).attribution, expect, 0, 0);
    BL_CHECK_CLOSE(neuron_gradient(*m, x, select_flat("conv2", offset)).attribution, expect, 1e-8, 1e-6);
    CHECK(multi.attribution.shape() == x.shape());
    CHECK(multi.output.shape() == Shape{3, 5});
    // Batch equals items alone.
    const AttributionResult one = neuron_gradient(*m, x.slice_batch(2, 3), Neuron::at("conv2", {3, 1, 2}));
    BL_CHECK_CLOSE(one.attribution, expect.slice_batch(2, 3).clone(), 1e-8, 1e-6);
    // Input x gradient.
    const AttributionResult ixg = neuron_input_x_gradient(*m, x, Neuron::at("conv2", {3, 1, 2}));
    for (int64_t i = 0; i < x.numel(); ++i)
      CHECK(ixg.attribution.data()[i] == doctest::Approx(expect.data()[i] * x.data()[i]));
  }

  TEST_CASE("neuron_guided_backprop / neuron_deconvolution: modified rules from the neuron") {
    const ModulePtr m = small_cnn();
    std::mt19937_64 rng(kSeed + 21);
    const Tensor x = randn({2, 3, 8, 8}, rng);
    const int64_t offset = (5 * 4 + 2) * 4 + 1;  // relu2 (5, 2, 1)
    BL_CHECK_CLOSE(neuron_guided_backprop(*m, x, Neuron::at("relu2", {5, 2, 1})).attribution,
                   neuron_grad_by_hand(*m, x, "relu2", offset, make_rule_set("guided_backprop")), 0, 0);
    BL_CHECK_CLOSE(neuron_deconvolution(*m, x, Neuron::at("relu2", {offset})).attribution,
                   neuron_grad_by_hand(*m, x, "relu2", offset, make_rule_set("deconvnet")), 0, 0);
    // Before any ReLU both are the plain gradient.
    const Neuron first = Neuron::at("conv1", {2, 3, 3});
    const Tensor g = neuron_gradient(*m, x, first).attribution;
    BL_CHECK_CLOSE(neuron_guided_backprop(*m, x, first).attribution, g, 0, 0);
    BL_CHECK_CLOSE(neuron_deconvolution(*m, x, first).attribution, g, 0, 0);
  }

  TEST_CASE("neuron_integrated_gradients: completeness w.r.t. the neuron within 1% at 64 gausslegendre steps") {
    const ModulePtr m = small_cnn();
    std::mt19937_64 rng(kSeed + 22);
    const Tensor x = randn({2, 3, 8, 8}, rng, 2.0f);
    const Tensor b = randn({2, 3, 8, 8}, rng, 0.1f);
    for (const std::string layer : {"relu2", "avgpool"}) {
      CAPTURE(layer);
      // The neuron whose value changes most between baseline and input, over both items.
      const Tensor ax = activation(*m, x, layer), ab = activation(*m, b, layer);
      const int64_t per = ax.numel() / 2;
      int64_t best = 0;
      for (int64_t i = 1; i < per; ++i)
        if (std::min(std::fabs(ax.data()[i] - ab.data()[i]), std::fabs(ax.data()[per + i] - ab.data()[per + i])) >
            std::min(std::fabs(ax.data()[best] - ab.data()[best]),
                     std::fabs(ax.data()[per + best] - ab.data()[per + best])))
          best = i;
      const AttributionResult r = neuron_integrated_gradients(*m, x, Neuron::at(layer, {best}),
                                                              {.steps = 64, .baselines = {Baseline::given(b)}});
      for (int64_t n = 0; n < 2; ++n) {
        const double diff = ax.data()[n * per + best] - ab.data()[n * per + best];
        const double total = item_sum(r.attribution, n);
        MESSAGE(layer, " neuron ", best, " item ", n, ": sum ", total, " vs neuron(x) - neuron(x') = ", diff);
        CHECK(std::fabs(total - diff) < 0.01 * std::fabs(diff));
        CHECK(r.delta.data()[n] == doctest::Approx(total - diff).epsilon(1e-3).scale(std::fabs(diff)));
      }
    }
  }

  TEST_CASE("neuron_integrated_gradients / neuron_conductance: chunking and batching do not change the result") {
    const ModulePtr m = small_cnn();
    std::mt19937_64 rng(kSeed + 23);
    const Tensor x = randn({3, 3, 8, 8}, rng);
    const Neuron nrn = Neuron::at("relu2", {1, 1, 1});
    const AttributionResult all = neuron_integrated_gradients(*m, x, nrn, {.steps = 10});
    const AttributionResult chunked = neuron_integrated_gradients(*m, x, nrn, {.steps = 10, .internal_batch_size = 7});
    BL_CHECK_CLOSE(chunked.attribution, all.attribution, 1e-7, 1e-4);
    const AttributionResult one = neuron_integrated_gradients(*m, x.slice_batch(1, 2), nrn, {.steps = 10});
    BL_CHECK_CLOSE(one.attribution, all.attribution.slice_batch(1, 2).clone(), 1e-7, 1e-4);

    const AttributionResult c = neuron_conductance(*m, x, nrn, Target::index(2), {.steps = 10});
    const AttributionResult cc =
        neuron_conductance(*m, x, nrn, Target::index(2), {.steps = 10, .internal_batch_size = 4});
    BL_CHECK_CLOSE(cc.attribution, c.attribution, 1e-8, 1e-4);
    const AttributionResult c1 = neuron_conductance(*m, x.slice_batch(2, 3), nrn, Target::index(2), {.steps = 10});
    BL_CHECK_CLOSE(c1.attribution, c.attribution.slice_batch(2, 3).clone(), 1e-8, 1e-4);
    // A selector function gives the same numbers (it is applied to the layer gradient too).
    const int64_t offset = (1 * 4 + 1) * 4 + 1;
    const AttributionResult cs =
        neuron_conductance(*m, x, select_flat("relu2", offset), Target::index(2), {.steps = 10});
    BL_CHECK_CLOSE(cs.attribution, c.attribution, 1e-8, 1e-4);
  }

  TEST_CASE("neuron_conductance: summed over every neuron of a layer it is the target's IG completeness") {
    // Every path from the input to the logits runs through avgpool, so the conductances of its 32
    // neurons add up to f(x) - f(x') (up to the path discretisation).
    const ModulePtr m = small_cnn();
    std::mt19937_64 rng(kSeed + 24);
    const Tensor x = randn({1, 3, 8, 8}, rng, 2.0f);
    Tensor out_x, out_0;
    target_values(*m, x, Target::index(1), Workspace(), nullptr, &out_x);
    target_values(*m, Tensor::zeros(x.shape()), Target::index(1), Workspace(), nullptr, &out_0);
    const double diff = out_x.at({0, 1}) - out_0.at({0, 1});
    double total = 0;
    for (int64_t i = 0; i < 32; ++i)
      total += item_sum(
          neuron_conductance(*m, x, Neuron::at("avgpool", {i}), Target::index(1), {.steps = 100}).attribution, 0);
    MESSAGE("sum of neuron conductances ", total, " vs f(x) - f(x') = ", diff);
    CHECK(std::fabs(total - diff) < 0.03 * std::fabs(diff));
  }

  TEST_CASE("neuron_deeplift: summation-to-delta for the neuron; DeepLIFT-SHAP is the mean over baselines") {
    const ModulePtr m = small_cnn();
    std::mt19937_64 rng(kSeed + 25);
    const Tensor x = randn({2, 3, 8, 8}, rng);
    for (const std::string layer : {"conv1", "relu1", "conv2", "relu2", "fc"}) {
      CAPTURE(layer);
      const AttributionResult r =
          neuron_deeplift(*m, x, Neuron::at(layer, {2}), {.baselines = {Baseline::uniform(-0.1f, 0.1f, 3)}});
      for (int64_t n = 0; n < 2; ++n) CHECK(std::fabs(r.delta.data()[n]) < 1e-4);
    }
    const Neuron nrn = Neuron::at("relu2", {4, 0, 3});
    const AttributionResult all = neuron_deeplift(*m, x, nrn);
    const AttributionResult one = neuron_deeplift(*m, x.slice_batch(0, 1), nrn);
    BL_CHECK_CLOSE(one.attribution, all.attribution.slice_batch(0, 1).clone(), 1e-8, 1e-5);
    const Tensor dist = randn({3, 3, 8, 8}, rng, 0.2f);
    const AttributionResult shap = neuron_deeplift_shap(*m, x, nrn, {.baselines = dist});
    Tensor mean = Tensor::zeros(x.shape());
    for (int64_t k = 0; k < 3; ++k) {
      const AttributionResult rk =
          neuron_deeplift(*m, x, nrn, {.baselines = {Baseline::given(dist.slice_batch(k, k + 1))}});
      for (int64_t i = 0; i < mean.numel(); ++i) mean.data()[i] += rk.attribution.data()[i] / 3;
    }
    BL_CHECK_CLOSE(shap.attribution, mean, 1e-8, 1e-5);
  }

  TEST_CASE("neuron_gradient_shap: reproducible; its deltas are the residuals of its own sums") {
    const ModulePtr m = small_cnn();
    std::mt19937_64 rng(kSeed + 26);
    const Tensor x = randn({2, 3, 8, 8}, rng);
    const Neuron nrn = Neuron::at("conv2", {0, 2, 2});
    const NeuronGradientShapOptions o{.baselines = randn({4, 3, 8, 8}, rng, 0.1f), .samples = 16, .stdev = 0.05f};
    const AttributionResult a = neuron_gradient_shap(*m, x, nrn, o);
    BL_CHECK_CLOSE(neuron_gradient_shap(*m, x, nrn, o).attribution, a.attribution, 0, 0);
    CHECK(a.attribution.shape() == x.shape());
    CHECK(a.delta.shape() == Shape{2});
    // conv2's neuron is piecewise linear in x with few kinks near the path: the residuals are small
    // compared with the neuron's value.
    const Tensor v = activation(*m, x, "conv2");
    for (int64_t n = 0; n < 2; ++n) CHECK(std::fabs(a.delta.data()[n]) < 0.5 * std::fabs(v.at({n, 0, 2, 2})) + 0.05);
  }

  TEST_CASE("neuron methods: index errors name the layer shape; unknown layers list module paths; registry") {
    const ModulePtr m = small_cnn();
    std::mt19937_64 rng(kSeed + 27);
    const Tensor x = randn({2, 3, 8, 8}, rng);
    CHECK_THROWS_WITH_AS(
        neuron_gradient(*m, x, Neuron::at("conv2", {8, 0, 0})),
        doctest::Contains("neuron index [8,0,0] out of range for layer 'conv2' with output shape [2,8,4,4]"), Error);
    CHECK_THROWS_WITH_AS(
        neuron_gradient(*m, x, Neuron::at("conv2", {128})),
        doctest::Contains(
            "out of range for layer 'conv2' with output shape [2,8,4,4] (a flat index must be in 0..127)"),
        Error);
    CHECK_THROWS_WITH_AS(neuron_integrated_gradients(*m, x, Neuron::at("conv2", {1, 2})),
                         doctest::Contains("expected a flat index or 3 indices"), Error);
    CHECK_THROWS_WITH_AS(neuron_deeplift(*m, x, Neuron::at("conv9", {0})),
                         doctest::Contains("layer 'conv9' not found in the model (module paths seen: conv1, bn1"),
                         Error);
    CHECK_THROWS_WITH_AS(neuron_gradient(*m, x, Neuron::select("fc", [](const Var& a) { return a; })),
                         doctest::Contains("expected one value per item (2), got shape [2,5]"), Error);
    MethodOptions o;
    o.layer = "relu2";
    CHECK_THROWS_WITH_AS(attribute("neuron_gradient", *m, x, Target::top1(), o),
                         doctest::Contains("needs a neuron index"), Error);
    o.neuron = {3, 1, 1};
    o.steps = 8;
    BL_CHECK_CLOSE(attribute("neuron_integrated_gradients", *m, x, Target::top1(), o).attribution,
                   neuron_integrated_gradients(*m, x, Neuron::at("relu2", {3, 1, 1}), {.steps = 8}).attribution, 0, 0);
    for (const std::string name :
         {"neuron_gradient", "neuron_input_x_gradient", "neuron_conductance", "neuron_gradient_shap",
          "neuron_guided_backprop", "neuron_deconvolution", "neuron_deeplift", "neuron_deeplift_shap"}) {
      CAPTURE(name);
      CHECK(attribute(name, *m, x, Target::top1(), o).attribution.shape() == x.shape());
    }
  }

}  // TEST_SUITE
