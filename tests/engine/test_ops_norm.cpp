// batchnorm, layernorm, softmax and log_softmax: PyTorch values, naive references, gradchecks, errors.
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

// Naive softmax / log-softmax along `axis` in double: the reference for the blocked kernel.
Tensor softmax_ref(const Tensor& x, int axis, bool log) {
  const Shape& s = x.shape();
  const int a = s.norm_axis(axis);
  const int64_t outer = s.numel_range(0, a), len = s[a], inner = s.numel_range(a + 1, s.rank());
  Tensor y = Tensor::empty(s);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t j = 0; j < inner; ++j) {
      auto at = [&](int64_t l) { return o * len * inner + l * inner + j; };
      double z = 0;
      for (int64_t l = 0; l < len; ++l) z += std::exp(static_cast<double>(x.data()[at(l)]));
      for (int64_t l = 0; l < len; ++l) {
        const double v = x.data()[at(l)];
        y.data()[at(l)] = static_cast<float>(log ? v - std::log(z) : std::exp(v) / z);
      }
    }
  return y;
}

// Naive layer norm over the trailing d elements of every row, in double.
Tensor layernorm_ref(const Tensor& x, int64_t d, const Tensor& w, const Tensor& b, double eps) {
  Tensor y = Tensor::empty(x.shape());
  for (int64_t r = 0; r < x.numel() / d; ++r) {
    const float* xr = x.data() + r * d;
    double mu = 0, var = 0;
    for (int64_t i = 0; i < d; ++i) mu += xr[i] / static_cast<double>(d);
    for (int64_t i = 0; i < d; ++i) var += (xr[i] - mu) * (xr[i] - mu) / static_cast<double>(d);
    for (int64_t i = 0; i < d; ++i)
      y.data()[r * d + i] =
          static_cast<float>((xr[i] - mu) / std::sqrt(var + eps) * (w.defined() ? w.data()[i] : 1.0f) +
                             (b.defined() ? b.data()[i] : 0.0f));
  }
  return y;
}

}  // namespace

TEST_SUITE("engine") {

TEST_CASE("batchnorm: forward matches torch.nn.functional.batch_norm (inference)") {
  Tape t;
  Var x = t.input(Tensor::from({2, 3}, {1, 2, 3, 4, 5, 6}));
  Var w = t.param(Tensor::from({3}, {2.0f, -1.0f, 0.5f}), "bn.weight");
  Var b = t.param(Tensor::from({3}, {0.5f, -3.0f, 1.0f}), "bn.bias");
  Var mean = t.buffer(Tensor::from({3}, {0.5f, 1.0f, 2.0f}), "bn.running_mean");
  Var var = t.buffer(Tensor::from({3}, {1.0f, 2.0f, 0.5f}), "bn.running_var");
  // Expected values from torch (eps = 1e-5).
  BL_CHECK_CLOSE(batchnorm(x, w, b, mean, var, 1e-5f, "bn").value(),
                 Tensor::from({2, 3}, {1.4999950f, -3.7071052f, 1.7070997f, 7.4999647f, -5.8284202f, 3.8283987f}), 1e-5,
                 1e-5);
  const Node& n = t.node(t.num_nodes() - 1);
  CHECK(n.kind == OpKind::BatchNorm);
  CHECK(n.inputs.size() == 5);
  CHECK(n.has_params);
}

TEST_CASE("batchnorm: gradcheck for [N,C], [N,C,L], [N,C,H,W]") {
  std::mt19937_64 rng(kSeed);
  const Shape shapes[] = {{4, 3}, {2, 3, 5}, {2, 3, 4, 5}};
  for (const Shape& s : shapes) {
    CAPTURE(s);
    const Shape c{s[1]};
    // All five inputs, the running statistics included (var kept away from 0).
    gradcheck([](const std::vector<Var>& v) { return batchnorm(v[0], v[1], v[2], v[3], v[4], 1e-3f); },
              {randn(s, rng), randn(c, rng), randn(c, rng), randn(c, rng), uniform(c, rng, 0.5f, 1.5f)});
  }
}

TEST_CASE("batchnorm: without weight and bias it normalises, and stats as buffers get no gradient") {
  std::mt19937_64 rng(kSeed);
  Tape t;
  const Tensor xs = randn({2, 3, 4, 4}, rng);
  const Tensor mean = randn({3}, rng), var = uniform({3}, rng, 0.5f, 2.0f);
  Var x = t.input(xs);
  Var y = batchnorm(x, Var(), Var(), t.buffer(mean, "m"), t.buffer(var, "v"), 1e-5f, "bn");
  Tensor expected = Tensor::empty(xs.shape());
  for (int64_t i = 0; i < xs.numel(); ++i) {
    const int64_t c = (i / 16) % 3;
    expected.data()[i] = (xs.data()[i] - mean.data()[c]) / std::sqrt(var.data()[c] + 1e-5f);
  }
  BL_CHECK_CLOSE(y.value(), expected, 1e-5, 1e-5);
  CHECK(t.node(t.num_nodes() - 1).inputs.size() == 5);
  // d(sum y)/dx = 1/sqrt(var + eps) per channel.
  const Tensor g = grad(y, Tensor::full(y.shape(), 1.0f), x);
  for (int64_t i = 0; i < xs.numel(); ++i) {
    const int64_t c = (i / 16) % 3;
    REQUIRE(g.data()[i] == doctest::Approx(1.0f / std::sqrt(var.data()[c] + 1e-5f)).epsilon(1e-5));
  }
}

TEST_CASE("batchnorm: bad shapes name the expectation") {
  Tape t;
  Var x = t.input(Tensor::zeros({2, 3, 4, 4}));
  Var c3 = t.param(Tensor::zeros({3}), "c3");
  Var c4 = t.param(Tensor::zeros({4}), "c4");
  CHECK_THROWS_WITH_AS(batchnorm(x, c4, c3, c3, c3),
                       doctest::Contains("expected weight [3] for input [2,3,4,4], got [4]"), ShapeError);
  CHECK_THROWS_WITH_AS(batchnorm(x, c3, c3, c3, c4), doctest::Contains("expected running_var [3]"), ShapeError);
  Var x5 = t.input(Tensor::zeros({1, 3, 2, 2, 2}));
  CHECK_THROWS_WITH_AS(batchnorm(x5, c3, c3, c3, c3),
                       doctest::Contains("expected input [N,C], [N,C,L] or [N,C,H,W], got [1,3,2,2,2]"), ShapeError);
}

TEST_CASE("softmax: matches a naive reference on every axis and is stable for large logits") {
  std::mt19937_64 rng(kSeed);
  const Tensor xs = randn({3, 4, 70}, rng, 3.0f);  // 70 > one block of lanes on axes 0 and 1
  Tape t;
  Var x = t.input(xs);
  for (int axis : {0, 1, 2, -1, -3}) {
    CAPTURE(axis);
    BL_CHECK_CLOSE(softmax(x, axis).value(), softmax_ref(xs, axis, false), 1e-6, 1e-5);
    BL_CHECK_CLOSE(log_softmax(x, axis).value(), softmax_ref(xs, axis, true), 1e-5, 1e-5);
  }
  // torch.softmax / log_softmax of [1000, 1001, 1002]: no overflow.
  Var big = t.input(Tensor::from({3}, {1000.0f, 1001.0f, 1002.0f}));
  BL_CHECK_CLOSE(softmax(big, 0).value(), Tensor::from({3}, {0.09003057f, 0.24472848f, 0.66524094f}), 1e-6, 1e-5);
  BL_CHECK_CLOSE(log_softmax(big, 0).value(), Tensor::from({3}, {-2.4076059f, -1.4076059f, -0.4076059f}), 1e-5,
                 1e-5);
  // The same along a leading axis (the blocked path): columns of +-1000 logits.
  Var cols = t.input(Tensor::from({2, 3}, {1000.0f, -1000.0f, 5.0f, 1001.0f, -999.0f, 5.0f}));
  BL_CHECK_CLOSE(softmax(cols, 0).value(),
                 Tensor::from({2, 3}, {0.26894142f, 0.26894142f, 0.5f, 0.73105858f, 0.73105858f, 0.5f}), 1e-6, 1e-5);
}

TEST_CASE("softmax / log_softmax: gradcheck on axes 0, 1, -1 of a 3-d tensor") {
  std::mt19937_64 rng(kSeed);
  for (int axis : {0, 1, -1}) {
    CAPTURE(axis);
    gradcheck([axis](const std::vector<Var>& v) { return softmax(v[0], axis); }, {randn({3, 4, 5}, rng)});
    gradcheck([axis](const std::vector<Var>& v) { return log_softmax(v[0], axis); }, {randn({3, 4, 5}, rng)});
  }
}

TEST_CASE("softmax: bad axis names the expectation") {
  Tape t;
  Var x = t.input(Tensor::zeros({2, 3}));
  CHECK_THROWS_WITH_AS(softmax(x, 2), doctest::Contains("softmax: axis 2 out of range for input [2,3]"), ShapeError);
  CHECK_THROWS_WITH_AS(log_softmax(x, -3), doctest::Contains("log_softmax: axis -3 out of range"), ShapeError);
}

TEST_CASE("layernorm: values match torch.nn.functional.layer_norm and a naive reference") {
  Tape t;
  // torch: layer_norm([[1,2,3,4]], (4,)) and layer_norm([[[1,2],[3,5]]], (2,2)); biased variance.
  BL_CHECK_CLOSE(layernorm(t.input(Tensor::from({1, 4}, {1, 2, 3, 4})), Var(), Var()).value(),
                 Tensor::from({1, 4}, {-1.3416355f, -0.4472119f, 0.4472118f, 1.3416355f}), 1e-5, 1e-5);
  BL_CHECK_CLOSE(layernorm(t.input(Tensor::from({1, 2, 2}, {1, 2, 3, 5})), Var(), Var(), 2).value(),
                 Tensor::from({1, 2, 2}, {-1.1832132f, -0.5070914f, 0.1690304f, 1.5212741f}), 1e-5, 1e-5);
  std::mt19937_64 rng(kSeed);
  const Tensor xs = randn({3, 4, 5}, rng, 2.0f);
  const Tensor w = randn({4, 5}, rng), b = randn({4, 5}, rng);
  BL_CHECK_CLOSE(layernorm(t.input(xs), t.param(w, "w"), t.param(b, "b"), 2, 1e-5f).value(),
                 layernorm_ref(xs, 20, w, b, 1e-5), 1e-5, 1e-4);
}

TEST_CASE("layernorm: gradcheck with 1 and 2 normalized dims, with and without affine") {
  std::mt19937_64 rng(kSeed);
  SUBCASE("1 dim, weight and bias") {
    gradcheck([](const std::vector<Var>& v) { return layernorm(v[0], v[1], v[2], 1); },
              {randn({3, 4, 5}, rng), randn({5}, rng), randn({5}, rng)});
  }
  SUBCASE("2 dims, weight and bias") {
    gradcheck([](const std::vector<Var>& v) { return layernorm(v[0], v[1], v[2], 2); },
              {randn({3, 4, 5}, rng), randn({4, 5}, rng), randn({4, 5}, rng)});
  }
  SUBCASE("weight only, bias only, none") {
    gradcheck([](const std::vector<Var>& v) { return layernorm(v[0], v[1], Var(), 1); },
              {randn({6, 7}, rng), randn({7}, rng)});
    gradcheck([](const std::vector<Var>& v) { return layernorm(v[0], Var(), v[1], 2); },
              {randn({2, 3, 4}, rng), randn({3, 4}, rng)});
    gradcheck([](const std::vector<Var>& v) { return layernorm(v[0], Var(), Var(), 1); }, {randn({4, 9}, rng)});
  }
}

TEST_CASE("layernorm: bad shapes name the expectation") {
  Tape t;
  Var x = t.input(Tensor::zeros({2, 4, 5}));
  CHECK_THROWS_WITH_AS(layernorm(x, t.param(Tensor::zeros({5}), "w"), Var(), 2),
                       doctest::Contains("expected weight [4,5] (the trailing 2 dims of input [2,4,5]), got [5]"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(layernorm(x, Var(), t.param(Tensor::zeros({4}), "b"), 1),
                       doctest::Contains("layernorm: expected bias [5]"), ShapeError);
  CHECK_THROWS_WITH_AS(layernorm(x, Var(), Var(), 4),
                       doctest::Contains("expected normalized_dims in [1, 3] for input [2,4,5], got 4"), ShapeError);
}

}  // TEST_SUITE
