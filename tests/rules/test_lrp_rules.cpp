// LRP rules vs. float64 dense references on linear and conv nodes, and conservation.
#include "engine/rules/builtin_sets.h"
#include "engine/rules/builtin.h"
#include "tests/helpers.h"
#include "tests/rules/lrp_dense_ref.h"

using namespace backlight;
using namespace backlight::test;

namespace {

struct NamedRule {
  const char* name;
  RulePtr rule;
  std::vector<RefGroup> ref;
  double eps;
};

std::vector<NamedRule> rules_under_test(const std::vector<double>& x) {
  auto X = [x](int i) { return x[i]; };
  auto Xp = [x](int i) { return pos(x[i]); };
  auto Xn = [x](int i) { return neg(x[i]); };
  auto one = [](int) { return 1.0; };
  auto id = [](double v) { return v; };
  auto zero = [](double) { return 0.0; };
  const double g = 0.25;
  auto gp = [g](double v) { return v + g * pos(v); };
  auto gn = [g](double v) { return v + g * neg(v); };
  auto cnst = [](double c) { return [c](int) { return c; }; };
  return {
      {"epsilon", epsilon(1e-3f), {{1, 0, {{1, X, id, id}}}}, 1e-3},
      {"zplus", zplus(), {{1, 0, {{1, Xp, pos, pos}, {1, Xn, neg, zero}}}}, 1e-6},
      {"alpha2_beta1",
       alpha_beta(2, 1),
       {{2, 0, {{1, Xp, pos, pos}, {1, Xn, neg, zero}}}, {-1, 0, {{1, Xp, neg, neg}, {1, Xn, pos, zero}}}},
       1e-6},
      {"gamma",
       gamma(0.25f),
       {{1, 1, {{1, Xp, gp, gp}, {1, Xn, gn, zero}}}, {1, -1, {{1, Xp, gn, gn}, {1, Xn, gp, zero}}}},
       1e-6},
      {"zbox", zbox(-2.0f, 3.0f), {{1, 0, {{1, X, id, id}, {-1, cnst(-2), pos, pos}, {-1, cnst(3), neg, neg}}}}, 1e-6},
      {"flat", flat(), {{1, 0, {{1, one, [](double v) { return v != 0 ? 1.0 : 0.0; }, zero}}}}, 1e-6},
      {"wsquare", wsquare(), {{1, 0, {{1, one, [](double v) { return v * v; }, [](double v) { return v * v; }}}}}, 1e-6},
      {"norm", norm(), {{1, 0, {{1, X, id, id}}}}, 1e-6},
  };
}

std::vector<double> to_double(const Tensor& t) { return {t.data(), t.data() + t.numel()}; }

Tensor relevance_through(const Tensor& x, const std::function<Var(Tape&, const Var&)>& layer, const Tensor& rel,
                         const RulePtr& rule, OpKind k) {
  Tape tape;
  Var xv = tape.input(x);
  Var y = layer(tape, xv);
  return backward(y, rel, xv, RuleSet().when(kind(k), rule));
}

// Dense Jacobian of a conv (weight w, no bias) by probing unit inputs.
Dense conv_as_dense(const Shape& xs, const Tensor& w, const Tensor& b, const Conv2dAttrs& a) {
  Tape t(TapeOptions{.record = false});
  const int64_t in = xs.numel();
  Dense d{0, static_cast<int>(in), {}, {}};
  std::vector<std::vector<double>> cols;
  for (int64_t i = 0; i < in; ++i) {
    Tensor e = Tensor::zeros(xs);
    e.data()[i] = 1.0f;
    Tensor y = conv2d(t.input(e), t.input(w), Var(), a).value();
    cols.push_back(to_double(y));
    if (i == 0) {
      d.out = static_cast<int>(y.numel());
      const int64_t hw = y.numel() / y.size(1);
      for (int64_t j = 0; j < y.numel(); ++j) d.b.push_back(b.data()[(j / hw) % y.size(1)]);
    }
  }
  d.w.resize(static_cast<size_t>(d.out) * d.in);
  for (int i = 0; i < d.in; ++i)
    for (int j = 0; j < d.out; ++j) d.w[static_cast<size_t>(j) * d.in + i] = cols[i][j];
  return d;
}

}  // namespace

TEST_SUITE("rules") {

TEST_CASE("lrp: every rule matches the dense float64 reference on a linear node") {
  std::mt19937_64 rng(kSeed);
  const Tensor x = randn({1, 7}, rng), w = randn({5, 7}, rng), b = randn({5}, rng), rel = randn({1, 5}, rng);
  const Dense d{5, 7, to_double(w), to_double(b)};
  for (const NamedRule& r : rules_under_test(to_double(x))) {
    CAPTURE(r.name);
    const Tensor got = relevance_through(
        x, [&](Tape& t, const Var& xv) { return linear(xv, t.param(w, "fc.weight"), t.param(b, "fc.bias")); }, rel,
        r.rule, OpKind::Linear);
    const std::vector<double> ref = lrp_dense(d, to_double(x), to_double(rel), r.ref, r.eps);
    const Tensor ref_t = Tensor::from(x.shape(), std::vector<float>(ref.begin(), ref.end()));
    BL_CHECK_CLOSE(got, ref_t, 1e-5 * max_abs(ref_t), 1e-4);
  }
}

TEST_CASE("lrp: every rule matches the dense reference on conv nodes (stride, padding, groups)") {
  std::mt19937_64 rng(kSeed + 1);
  struct Case {
    Shape x, w;
    Conv2dAttrs a;
  };
  const Case cases[] = {{{1, 2, 5, 5}, {3, 2, 3, 3}, {.pad_h = 1, .pad_w = 1}},
                        {{1, 2, 6, 5}, {2, 2, 2, 3}, {.stride_h = 2, .stride_w = 1, .pad_h = 1, .pad_w = 0}},
                        {{1, 4, 4, 4}, {4, 2, 3, 3}, {.pad_h = 1, .pad_w = 1, .groups = 2}}};
  for (const Case& c : cases) {
    CAPTURE(c.x);
    const Tensor x = randn(c.x, rng), w = randn(c.w, rng), b = randn({c.w[0]}, rng);
    const Dense d = conv_as_dense(c.x, w, b, c.a);
    const Tensor rel = randn(Shape{1, c.w[0], 1, 1}, rng);  // shape fixed below
    Tape probe(TapeOptions{.record = false});
    const Shape ys = conv2d(probe.input(x), probe.input(w), probe.input(b), c.a).shape();
    const Tensor r = randn(ys, rng);
    for (const NamedRule& nr : rules_under_test(to_double(x))) {
      CAPTURE(nr.name);
      const Conv2dAttrs a = c.a;
      const Tensor got = relevance_through(
          x, [&](Tape& t, const Var& xv) { return conv2d(xv, t.param(w, "conv.weight"), t.param(b, "conv.bias"), a); },
          r, nr.rule, OpKind::Conv2d);
      const std::vector<double> ref = lrp_dense(d, to_double(x), to_double(r), nr.ref, nr.eps);
      const Tensor ref_t = Tensor::from(x.shape(), std::vector<float>(ref.begin(), ref.end()));
      BL_CHECK_CLOSE(got, ref_t, 1e-5 * max_abs(ref_t), 1e-4);
    }
    (void)rel;
  }
}

TEST_CASE("lrp: z+ and epsilon conserve relevance layer by layer (zero bias, eps -> 0)") {
  std::mt19937_64 rng(kSeed + 2);
  const Tensor x = uniform({1, 3, 8, 8}, rng, 0.0f, 1.0f);
  const Tensor w1 = randn({4, 3, 3, 3}, rng), w2 = randn({6, 4 * 4 * 4}, rng);
  for (const auto& [name, rule] : std::vector<std::pair<const char*, RulePtr>>{{"zplus", zplus(1e-9f)},
                                                                               {"epsilon", epsilon(1e-9f)}}) {
    CAPTURE(name);
    Tape t;
    Var xv = t.input(x);
    Var c1 = conv2d(xv, t.param(w1, "c1.weight"), Var(), {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1});
    Var h = relu(c1);
    Var f = reshape(h, std::vector<int64_t>{1, -1});
    Var y = linear(f, t.param(w2, "fc.weight"));
    Tensor seed = Tensor::zeros(y.shape());
    seed.data()[2] = y.value().data()[2];  // relevance = the target logit
    const RuleSet rs = RuleSet().when(any_kind({OpKind::Conv2d, OpKind::Linear}), rule).when(kind(OpKind::Relu), pass());
    const std::vector<Var> wrt{xv, h, f};
    const std::vector<Var> outs{y};
    const std::vector<Tensor> seeds{seed};
    const auto rel = backward(t, outs, seeds, wrt, rs);
    double total_in = 0, total_h = 0;
    for (float v : rel[0].span()) total_in += v;
    for (float v : rel[1].span()) total_h += v;
    CHECK(total_h == doctest::Approx(seed.data()[2]).epsilon(1e-4));
    // z+ conserves exactly; epsilon conserves when no denominator is near zero (random weights).
    CHECK(total_in == doctest::Approx(seed.data()[2]).epsilon(1e-3));
  }
}

TEST_CASE("lrp: rule errors name the node and the rule") {
  Tape t;
  Var x = t.input(Tensor::full({1, 4}, 1.0f));
  Var y = relu(x, "act");
  CHECK_THROWS_WITH_AS(backward(y, Tensor::full({1, 4}, 1.0f), x, RuleSet().when(any_node(), epsilon())),
                       doctest::Contains("node 'act' (relu) is not affine"), RuleError);
  CHECK_THROWS_WITH_AS(alpha_beta(2, 2), doctest::Contains("alpha - beta must equal 1"), Error);
}

TEST_CASE("rule sets: built-ins by name with parameters; unknown names are errors") {
  for (const NamedRuleSet& n : builtin_rule_sets()) {
    CAPTURE(n.name);
    CHECK_NOTHROW(make_rule_set(n.name));
  }
  CHECK_THROWS_WITH_AS(make_rule_set("lrp_nonsense"), doctest::Contains("known: gradient"), RuleError);
  CHECK_THROWS_WITH_AS(make_rule_set("lrp_epsilon_gamma_box", {{"gama", 0.5f}}),
                       doctest::Contains("unknown parameter 'gama'"), RuleError);
  CHECK(parse_rule_param("gamma=0.5") == std::pair<std::string, float>{"gamma", 0.5f});
  CHECK_THROWS_WITH_AS(parse_rule_param("gamma"), doctest::Contains("expected key=value"), RuleError);
  CHECK_THROWS_WITH_AS(parse_rule_param("gamma=abc"), doctest::Contains("not a finite number"), RuleError);
}

}  // TEST_SUITE
