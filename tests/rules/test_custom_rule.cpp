// The user-defined rule examples of docs/rules.md, compiled and tested. Keep them in sync.
#include <cmath>
#include <thread>

#include "engine/parallel.h"
#include "engine/rules/builtin_sets.h"
#include "engine/rules/builtin.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

// --- docs/rules.md, example 1: a rule from scratch (ReLU with a softplus-smoothed gradient,
// Dombrowski et al. 2019): g_in = g * sigmoid(beta * x).
class ReluBetaSmooth final : public Rule {
 public:
  explicit ReluBetaSmooth(float beta) : beta_(beta) {}
  std::string name() const override { return "relu_beta_smooth(beta=" + std::to_string(beta_) + ")"; }
  std::vector<Tensor> backward(const RuleContext& ctx, const Tensor& g) const override {
    if (ctx.kind() != OpKind::Relu) throw RuleError("relu_beta_smooth: applies to relu nodes, got " + ctx.name());
    const Tensor& x = ctx.input(0);
    Tensor out = ctx.alloc(x.shape());  // from the tape's workspace
    for (int64_t i = 0; i < x.numel(); ++i)
      out.data()[i] = g.data()[i] / (1.0f + std::exp(-beta_ * x.data()[i]));
    return {out};
  }

 private:
  float beta_;  // rules hold parameters only: no state, safe to share across tapes and threads
};

// --- docs/rules.md, example 2: an LRP rule as data - epsilon on the positive weights only.
RulePtr epsilon_positive_weights(float eps) {
  LrpTerm t{1.0f, InputMod::keep(), ParamMod::positive(), ParamMod::positive()};
  return make_lrp_rule("epsilon_positive_weights", LrpSpec{{LrpGroup{1.0f, LrpGroup::Select::All, {t}}}, eps});
}

TEST_SUITE("rules") {

TEST_CASE("custom rule: relu_beta_smooth follows its definition and plugs into a rule set") {
  Tape t;
  Var x = t.input(Tensor::from({1, 3}, {-1.0f, 0.0f, 2.0f}));
  Var y = relu(x);
  const RuleSet rs = RuleSet("smooth").when(kind(OpKind::Relu), std::make_shared<ReluBetaSmooth>(2.0f));
  const Tensor g = backward(y, Tensor::full({1, 3}, 1.0f), x, rs);
  CHECK(g.data()[0] == doctest::Approx(1 / (1 + std::exp(2.0f))));
  CHECK(g.data()[1] == doctest::Approx(0.5f));
  CHECK(g.data()[2] == doctest::Approx(1 / (1 + std::exp(-4.0f))));
}

TEST_CASE("custom rule: an LrpSpec rule equals its hand formula") {
  Tape t;
  const Tensor x = Tensor::from({1, 2}, {1.0f, 2.0f});
  const Tensor w = Tensor::from({1, 2}, {3.0f, -1.0f});
  Var xv = t.input(x);
  Var y = linear(xv, t.param(w, "fc.weight"));
  const Tensor r = backward(y, Tensor::full({1, 1}, 6.0f), xv,
                            RuleSet().when(kind(OpKind::Linear), epsilon_positive_weights(0.0f)));
  // z = 1*3 + 2*0 = 3; R_i = x_i w+_i * 6 / 3.
  CHECK(r.data()[0] == doctest::Approx(6.0f));
  CHECK(r.data()[1] == doctest::Approx(0.0f));
}

TEST_CASE("rule sets are values: two threads, two tapes, one rule set give identical results") {
  std::mt19937_64 rng(kSeed);
  const Tensor w1 = randn({4, 3, 3, 3}, rng), w2 = randn({5, 4 * 6 * 6}, rng), x = randn({1, 3, 6, 6}, rng);
  const RuleSet rs = make_rule_set("lrp_epsilon_gamma_box");
  auto run = [&]() {
    Tape t;
    Var xv = t.input(x);
    Var h = relu(conv2d(xv, t.param(w1, "c.weight"), Var(), {.pad_h = 1, .pad_w = 1}, "c"));
    Var y = linear(flatten(h), t.param(w2, "fc.weight"), Var(), "fc");
    Tensor seed = Tensor::zeros(y.shape());
    seed.data()[1] = 1.0f;
    return backward(y, seed, xv, rs);
  };
  const Tensor ref = run();
  Tensor a, b;
  std::thread ta([&] { set_num_threads(1); for (int i = 0; i < 20; ++i) a = run(); });
  std::thread tb([&] { set_num_threads(1); for (int i = 0; i < 20; ++i) b = run(); });
  ta.join();
  tb.join();
  BL_CHECK_CLOSE(a, ref, 0, 0);
  BL_CHECK_CLOSE(b, ref, 0, 0);
}

TEST_CASE("a reused layer is two nodes; explain() shows which rule every node gets") {
  std::mt19937_64 rng(kSeed);
  const Tensor w = randn({3, 3}, rng);
  Tape t;
  Var x = t.input(randn({1, 3}, rng));
  Var wv = t.param(w, "shared.weight");
  Var y = linear(relu(linear(x, wv, Var(), "shared"), "act"), wv, Var(), "shared");
  REQUIRE(t.num_nodes() == 3);
  CHECK(t.node(0).name == "shared");
  CHECK(t.node(2).name == "shared");
  const std::string e = make_rule_set("lrp_epsilon_plus_flat").explain(t);
  CAPTURE(e);
  CHECK(e.find("0\tlinear\tshared\tflat(stabilizer=1e-06)") != std::string::npos);
  CHECK(e.find("1\trelu\tact\tpass") != std::string::npos);
  CHECK(e.find("2\tlinear\tshared\tepsilon(epsilon=1e-06)") != std::string::npos);
  // Both uses of the shared weight receive gradient (fan-in of a reused parameter sums).
  const Tensor g = grad(y, Tensor::full({1, 3}, 1.0f), wv);
  CHECK(max_abs(g) > 0);
}

}  // TEST_SUITE
