// Guided backprop, deconvnet and DeepLIFT: definitions on tiny networks and summation-to-delta.
#include "engine/rules/builtin_sets.h"
#include "engine/rules/builtin.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

// [x; reference] stacked along the batch axis: the paired reference layout.
Tensor pair(const Tensor& x, const Tensor& ref) {
  std::vector<int64_t> d = x.shape().to_vector();
  d[0] *= 2;
  Tensor out = Tensor::empty(Shape(d));
  std::copy(x.data(), x.data() + x.numel(), out.data());
  std::copy(ref.data(), ref.data() + ref.numel(), out.data() + x.numel());
  return out;
}

struct Params {
  Tensor c1, b1, c2, b2, fc, fb;
};

Var small_cnn(Tape& t, const Var& x, const Params& p) {
  Var h = relu(conv2d(x, t.param(p.c1, "c1.weight"), t.param(p.b1, "c1.bias"), {.pad_h = 1, .pad_w = 1}));
  h = maxpool2d(h, {.kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2});
  h = relu(conv2d(h, t.param(p.c2, "c2.weight"), t.param(p.b2, "c2.bias"), {.pad_h = 1, .pad_w = 1}));
  h = flatten(h);
  return linear(h, t.param(p.fc, "fc.weight"), t.param(p.fb, "fc.bias"));
}

Var residual_net(Tape& t, const Var& x, const Params& p) {
  Var h = relu(conv2d(x, t.param(p.c1, "c1.weight"), t.param(p.b1, "c1.bias"), {.pad_h = 1, .pad_w = 1}));
  Var r = conv2d(relu(conv2d(h, t.param(p.c2, "c2.weight"), t.param(p.b2, "c2.bias"), {.pad_h = 1, .pad_w = 1})),
                 t.param(p.c2, "c3.weight"), Var(), {.pad_h = 1, .pad_w = 1});
  h = relu(add(h, r, "block"));
  const int axes[] = {2, 3};
  return linear(mean(h, axes), t.param(p.fc, "fc.weight"), t.param(p.fb, "fc.bias"));
}

}  // namespace

TEST_SUITE("rules") {

TEST_CASE("guided_backprop and deconvnet follow their definitions on a ReLU") {
  Tape t;
  Var x = t.input(Tensor::from({1, 4}, {1.0f, -1.0f, 2.0f, -2.0f}));
  Var y = relu(x);
  const Tensor g = Tensor::from({1, 4}, {-1.0f, 1.0f, 3.0f, -3.0f});
  // guided: gradient where x > 0 and g > 0.
  CHECK(backward(y, g, x, make_rule_set("guided_backprop")).to_vector() == std::vector<float>{0, 0, 3, 0});
  // deconvnet: relu(g) regardless of x.
  CHECK(backward(y, g, x, make_rule_set("deconvnet")).to_vector() == std::vector<float>{0, 1, 3, 0});
  CHECK(backward(y, g, x, make_rule_set("gradient")).to_vector() == std::vector<float>{-1, 0, 3, 0});
}

TEST_CASE("deeplift: summation-to-delta on a CNN with maxpool and on a residual net") {
  std::mt19937_64 rng(kSeed);
  Params p{randn({4, 2, 3, 3}, rng, 0.5f), randn({4}, rng, 0.1f), randn({4, 4, 3, 3}, rng, 0.3f),
           randn({4}, rng, 0.1f), Tensor(), randn({3}, rng, 0.1f)};
  for (int net = 0; net < 2; ++net) {
    CAPTURE(net);
    p.fc = randn(net == 0 ? Shape{3, 4 * 3 * 3} : Shape{3, 4}, rng, 0.3f);
    const Tensor x = randn({2, 2, 6, 6}, rng), ref = uniform({2, 2, 6, 6}, rng, -0.1f, 0.1f);
    Tape t(TapeOptions{.paired_reference = true});
    Var xv = t.input(pair(x, ref));
    Var y = net == 0 ? small_cnn(t, xv, p) : residual_net(t, xv, p);
    const int target = 1;
    Tensor seed = Tensor::zeros(y.shape());
    for (int64_t i = 0; i < y.shape()[0]; ++i) seed.data()[i * 3 + target] = 1.0f;  // both halves, as Captum
    const Tensor g = backward(y, seed, xv, make_rule_set("deeplift"));
    for (int64_t item = 0; item < 2; ++item) {
      double total = 0;
      const int64_t per = x.numel() / 2;
      for (int64_t i = 0; i < per; ++i) {
        const int64_t k = item * per + i;
        total += (x.data()[k] - ref.data()[k]) * g.data()[k];
      }
      const double delta = y.value().data()[item * 3 + target] - y.value().data()[(item + 2) * 3 + target];
      CAPTURE(item);
      CHECK(total == doctest::Approx(delta).epsilon(1e-4));
    }
    // The plain gradient x delta does not sum to delta on these nonlinear nets.
    const Tensor plain = backward(y, seed, xv, make_rule_set("gradient"));
    double total = 0;
    for (int64_t i = 0; i < x.numel() / 2; ++i) total += (x.data()[i] - ref.data()[i]) * plain.data()[i];
    CHECK(total != doctest::Approx(y.value().data()[target] - y.value().data()[2 * 3 + target]).epsilon(1e-3));
  }
}

TEST_CASE("deeplift: without a paired reference the error says what is needed") {
  Tape t;
  Var x = t.input(Tensor::full({1, 3}, 1.0f));
  Var y = relu(x, "act");
  CHECK_THROWS_WITH_AS(backward(y, Tensor::full({1, 3}, 1.0f), x, make_rule_set("deeplift")),
                       doctest::Contains("needs a paired reference pass"), RuleError);
}

TEST_CASE("deeplift: multiplier equals the secant slope on a sigmoid") {
  Tape t(TapeOptions{.paired_reference = true});
  Var x = t.input(Tensor::from({2, 2}, {2.0f, -1.0f, 0.0f, -1.0f}));
  Var y = sigmoid(x);
  const Tensor g = backward(y, Tensor::full({2, 2}, 1.0f), x, make_rule_set("deeplift"));
  const float secant = (1 / (1 + std::exp(-2.0f)) - 0.5f) / 2.0f;
  CHECK(g.data()[0] == doctest::Approx(secant));
  CHECK(g.data()[2] == doctest::Approx(secant));
  // dx = 0: falls back to the plain gradient at each half's own input.
  const float sd = 1 / (1 + std::exp(1.0f));
  CHECK(g.data()[1] == doctest::Approx(sd * (1 - sd)));
}

}  // TEST_SUITE
