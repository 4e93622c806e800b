// Gradient checks for linear, conv2d, activations and binary ops.
#include "engine/functional/elementwise.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

TEST_SUITE("engine") {

TEST_CASE("linear: gradcheck with and without bias, batched leading dims") {
  std::mt19937_64 rng(kSeed);
  SUBCASE("bias") {
    gradcheck([](const std::vector<Var>& v) { return linear(v[0], v[1], v[2]); },
              {randn({3, 5}, rng), randn({4, 5}, rng), randn({4}, rng)});
  }
  SUBCASE("no bias, 3-d input") {
    gradcheck([](const std::vector<Var>& v) { return linear(v[0], v[1]); }, {randn({2, 3, 5}, rng), randn({4, 5}, rng)});
  }
}

TEST_CASE("conv2d: gradcheck over strides, padding, dilation, groups") {
  std::mt19937_64 rng(kSeed);
  struct Case {
    Shape x, w;
    Conv2dAttrs a;
    bool bias;
  };
  const Case cases[] = {
      {{2, 3, 7, 6}, {4, 3, 3, 3}, {}, true},
      {{1, 2, 8, 7}, {3, 2, 3, 2}, {.stride_h = 2, .stride_w = 3, .pad_h = 1, .pad_w = 2}, true},
      {{1, 2, 9, 9}, {2, 2, 3, 3}, {.pad_h = 2, .pad_w = 1, .dilation_h = 2, .dilation_w = 3}, false},
      {{2, 4, 5, 5}, {6, 2, 3, 3}, {.pad_h = 1, .pad_w = 1, .groups = 2}, true},
      {{1, 3, 6, 6}, {6, 1, 3, 3}, {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .groups = 3}, true},
      {{2, 3, 4, 5}, {5, 3, 1, 1}, {}, true},
  };
  for (const Case& c : cases) {
    CAPTURE(c.x);
    CAPTURE(c.w);
    const Conv2dAttrs a = c.a;
    if (c.bias)
      gradcheck([a](const std::vector<Var>& v) { return conv2d(v[0], v[1], v[2], a); },
                {randn(c.x, rng), randn(c.w, rng), randn({c.w[0]}, rng)});
    else
      gradcheck([a](const std::vector<Var>& v) { return conv2d(v[0], v[1], Var(), a); },
                {randn(c.x, rng), randn(c.w, rng)});
  }
}

TEST_CASE("conv2d: bad shapes name the expectation") {
  Tape t;
  Var x = t.input(Tensor::zeros({1, 3, 8, 8}));
  Var w = t.param(Tensor::zeros({4, 2, 3, 3}), "w");
  CHECK_THROWS_WITH_AS(conv2d(x, w, Var(), {}), doctest::Contains("expected weight [4,3,kH,kW]"), ShapeError);
  Var x3 = t.input(Tensor::zeros({3, 8, 8}));
  CHECK_THROWS_WITH_AS(conv2d(x3, w, Var(), {}), doctest::Contains("expected input [N,C,H,W]"), ShapeError);
}

TEST_CASE("activations: gradcheck away from kinks") {
  std::mt19937_64 rng(kSeed);
  Tensor x = uniform({2, 3, 4}, rng, -8.0f, 8.0f);
  away_from(x, {0.0f, 6.0f}, 0.05f);
  gradcheck([](const std::vector<Var>& v) { return relu(v[0]); }, {x});
  gradcheck([](const std::vector<Var>& v) { return relu6(v[0]); }, {x});
  gradcheck([](const std::vector<Var>& v) { return leaky_relu(v[0], 0.1f); }, {x});
  Tensor s = uniform({2, 3, 4}, rng, -3.0f, 3.0f);
  gradcheck([](const std::vector<Var>& v) { return sigmoid(v[0]); }, {s});
  gradcheck([](const std::vector<Var>& v) { return tanh(v[0]); }, {s});
  gradcheck([](const std::vector<Var>& v) { return gelu(v[0], false); }, {s});
  gradcheck([](const std::vector<Var>& v) { return gelu(v[0], true); }, {s});
  gradcheck([](const std::vector<Var>& v) { return dropout(v[0], 0.3f); }, {s});
}

TEST_CASE("relu family: gradient at the kinks is PyTorch's") {
  Tape t;
  Var x = t.input(Tensor::from({4}, {0.0f, 6.0f, -1.0f, 3.0f}));
  CHECK(grad(relu(x), Tensor::full({4}, 1.0f), x).to_vector() == std::vector<float>{0, 1, 0, 1});
  CHECK(grad(relu6(x), Tensor::full({4}, 1.0f), x).to_vector() == std::vector<float>{0, 0, 0, 1});
}

TEST_CASE("binary ops: broadcast forward and sum_to match a per-element reference") {
  // Shapes whose dimensions collapse differently: squeeze-excitation gates [N,C,1,1], per-channel
  // scales [C,1,1], both operands broadcast, scalars, rows long enough for the unrolled sums.
  std::mt19937_64 rng(kSeed + 7);
  const std::pair<Shape, Shape> shapes[] = {{{2, 5, 3, 4}, {2, 5, 1, 1}}, {{2, 5, 3, 4}, {5, 1, 1}},
                                            {{2, 1, 3, 1}, {1, 5, 1, 4}}, {{3, 1}, {1}},
                                            {{2, 3, 37}, {1, 3, 1}},     {{1, 4, 1}, {2, 4, 19}}};
  for (const auto& [sa, sb] : shapes) {
    CAPTURE(sa);
    CAPTURE(sb);
    const Tensor a = randn(sa, rng), b = randn(sb, rng);
    const Shape os = fn::broadcast_shape(sa, sb, "test");
    const Tensor y = fn::binary(fn::BinaryOp::Mul, a, b, nullptr);
    REQUIRE(y.shape() == os);
    // Reference index of operand s for flat output index i.
    const auto index = [&os](const Shape& s, int64_t i) {
      int64_t off = 0, rem = i;
      for (int d = os.rank() - 1; d >= 0; --d) {
        const int64_t idx = rem % os[d];
        rem /= os[d];
        const int ds = s.rank() - os.rank() + d;
        if (ds >= 0 && s[ds] != 1) off += idx * s.stride(ds);
      }
      return off;
    };
    std::vector<double> ga(static_cast<size_t>(a.numel()), 0.0), gb(static_cast<size_t>(b.numel()), 0.0);
    for (int64_t i = 0; i < y.numel(); ++i) {
      CHECK(y.data()[i] == a.data()[index(sa, i)] * b.data()[index(sb, i)]);
      ga[index(sa, i)] += y.data()[i];
      gb[index(sb, i)] += y.data()[i];
    }
    const Tensor sa_sum = fn::sum_to(y, sa, nullptr), sb_sum = fn::sum_to(y, sb, nullptr);
    for (int64_t i = 0; i < a.numel(); ++i) CHECK(sa_sum.data()[i] == doctest::Approx(ga[i]).epsilon(1e-5));
    for (int64_t i = 0; i < b.numel(); ++i) CHECK(sb_sum.data()[i] == doctest::Approx(gb[i]).epsilon(1e-5));
  }
}

TEST_CASE("binary ops: mul_sum_to equals sum_to of the product, bit for bit") {
  // The fused path (equal operand shapes, target = leading dims then ones) and the fallbacks
  // (broadcast operand, fewer target dims, equal target) against the two-call composition.
  std::mt19937_64 rng(kSeed + 8);
  const std::pair<Shape, Shape> cases[] = {{{2, 5, 3, 4}, {2, 5, 1, 1}}, {{3, 7, 13, 11}, {3, 7, 1, 1}},
                                           {{1, 96, 56, 56}, {1, 96, 1, 1}}, {{2, 5, 3, 4}, {2, 1, 1, 1}},
                                           {{2, 5, 3, 4}, {1, 5, 1, 1}},     {{2, 5, 3, 4}, {5, 1, 1}},
                                           {{2, 5, 3, 4}, {2, 5, 3, 4}},     {{4, 9}, {4, 1}}};
  for (const auto& [s, target] : cases) {
    CAPTURE(s);
    CAPTURE(target);
    const Tensor a = randn(s, rng), b = randn(s, rng);
    const Tensor want = fn::sum_to(fn::binary(fn::BinaryOp::Mul, a, b, nullptr), target, nullptr);
    const Tensor got = fn::mul_sum_to(a, b, target, nullptr);
    REQUIRE(got.shape() == want.shape());
    CHECK(got.to_vector() == want.to_vector());
  }
  // A broadcast right operand (the gate's own product g * gate) takes the composition.
  const Tensor a = randn({2, 5, 3, 4}, rng), gate = randn({2, 5, 1, 1}, rng);
  CHECK(fn::mul_sum_to(a, gate, a.shape(), nullptr).to_vector() ==
        fn::binary(fn::BinaryOp::Mul, a, gate, nullptr).to_vector());
}

TEST_CASE("binary ops: broadcasting gradcheck") {
  std::mt19937_64 rng(kSeed);
  const std::pair<Shape, Shape> shapes[] = {{{2, 3}, {2, 3}}, {{2, 3, 4}, {4}}, {{2, 1, 4}, {3, 1}}, {{1}, {2, 2}}};
  for (const auto& [sa, sb] : shapes) {
    CAPTURE(sa);
    CAPTURE(sb);
    gradcheck([](const std::vector<Var>& v) { return add(v[0], v[1]); }, {randn(sa, rng), randn(sb, rng)});
    gradcheck([](const std::vector<Var>& v) { return sub(v[0], v[1]); }, {randn(sa, rng), randn(sb, rng)});
    gradcheck([](const std::vector<Var>& v) { return mul(v[0], v[1]); }, {randn(sa, rng), randn(sb, rng)});
  }
  gradcheck([](const std::vector<Var>& v) { return scale(v[0], -0.5f); }, {randn({3, 2}, rng)});
  Tape t;
  CHECK_THROWS_WITH_AS(add(t.input(Tensor::zeros({2, 3})), t.input(Tensor::zeros({4}))),
                       doctest::Contains("cannot be broadcast"), ShapeError);
}

}  // TEST_SUITE
