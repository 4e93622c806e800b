// group_norm (one node for torch's GroupNorm, fused by the ONNX importer) and pow_tensor (Pow of two
// activations): PyTorch parity of forward and gradients including NaN/+-Inf
// (tools/reference/make_onnx_numerics_fixtures.py), finite-difference gradients, shape errors, and
// their rule behaviour (LRP: layernorm identity / gated product; DeepLIFT: the gradient).
#include <doctest/doctest.h>

#include <cmath>

#include "engine/backward.h"
#include "engine/ops/ops.h"
#include "engine/rules/builtin.h"
#include "engine/rules/builtin_sets.h"
#include "engine/rules/gate.h"
#include "engine/rules/rule_set.h"
#include "tests/engine/torch_parity.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

const std::map<std::string, CaseBuilder>& builders() {
  static const std::map<std::string, CaseBuilder> table = {
      {"group_norm",
       [](const ParityCase& c, const CaseInputs& in) {
         return group_norm(in.at("x"), c.attrs.at("groups").get<int64_t>(), in.opt("weight"), in.opt("bias"),
                           c.attrs.at("eps").get<float>());
       }},
      {"pow_tensor", [](const ParityCase&, const CaseInputs& in) { return backlight::pow(in.at("a"), in.at("b")); }},
  };
  return table;
}

// LRP relevance at x of one node built by f on a fresh tape.
Tensor relevance(const std::function<Var(Tape&, const Var&)>& f, const Tensor& x, const Tensor& rel,
                 const RuleSet& rules) {
  Tape t;
  const Var xv = t.input(x);
  return backward(f(t, xv), rel, xv, rules);
}

double sum(const Tensor& t) {
  double s = 0;
  for (float v : t.span()) s += v;
  return s;
}

}  // namespace

TEST_SUITE("engine") {

TEST_CASE("group_norm, pow_tensor: torch parity of forward and gradients (NaN, +-Inf, zero variance, zero bases)") {
  run_fixture("ops_onnx_numerics.safetensors", builders());
}

TEST_CASE("group_norm, pow_tensor: gradcheck") {
  std::mt19937_64 rng(kSeed);
  const Tensor x = randn({2, 6, 3, 2}, rng, 2.0f), w = uniform({6}, rng, 0.5f, 1.5f), b = randn({6}, rng);
  for (int64_t groups : {1, 2, 3, 6})
    gradcheck([groups](const std::vector<Var>& v) { return group_norm(v[0], groups, v[1], v[2], 1e-5f); }, {x, w, b});
  gradcheck([](const std::vector<Var>& v) { return group_norm(v[0], 2, Var(), Var(), 1e-5f); }, {randn({2, 4, 5}, rng)});
  const Tensor base = uniform({2, 3, 4}, rng, 0.3f, 2.0f), ex = uniform({3, 1}, rng, -1.5f, 1.5f);
  gradcheck([](const std::vector<Var>& v) { return backlight::pow(v[0], v[1]); }, {base, ex});
  gradcheck([](const std::vector<Var>& v) { return backlight::pow(v[1], v[0]); }, {ex, base});
}

TEST_CASE("group_norm: one node; shape errors name the groups and channels") {
  Tape t;
  const Var x = t.input(Tensor::full({1, 6, 2, 2}, 1.0f));
  const Var y = group_norm(x, 3, Var(), Var(), 1e-5f, "gn");
  CHECK(t.node(t.num_nodes() - 1).kind == OpKind::GroupNorm);
  CHECK(t.node(t.num_nodes() - 1).inputs.size() == 3);  // absent affine: constant buffers
  CHECK(y.shape() == x.shape());
  CHECK_THROWS_WITH_AS(group_norm(x, 4, Var(), Var()), doctest::Contains("4 groups do not divide the 6 channels"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(group_norm(x, 3, t.param(Tensor::full({3}, 1.0f), "w"), Var()),
                       doctest::Contains("expected weight [6]"), ShapeError);
  CHECK_THROWS_WITH_AS(backlight::pow(x, t.input(Tensor::full({4}, 1.0f))), doctest::Contains("pow"), ShapeError);
}

TEST_CASE("group_norm under LRP: the layernorm identity rule per (image, group), conserving with zero bias") {
  std::mt19937_64 rng(kSeed + 5);
  const int64_t n = 2, c = 6, groups = 3, hw = 4, d = c / groups * hw;
  const Tensor x = randn({n, c, 2, 2}, rng), rel = randn({n, c, 2, 2}, rng);
  // Weights that repeat every C / groups channels, so each group equals a layernorm row of d elements
  // with weight v[j / hw]: the group_norm rule must give exactly the layernorm rule's relevance.
  const Tensor v = uniform({c / groups}, rng, 0.5f, 1.5f), bv = randn({c / groups}, rng, 0.1f);
  Tensor w = Tensor::empty({c}), b = Tensor::empty({c}), wl = Tensor::empty({d}), bl = Tensor::empty({d});
  for (int64_t k = 0; k < c; ++k) w.data()[k] = v.data()[k % (c / groups)], b.data()[k] = bv.data()[k % (c / groups)];
  for (int64_t j = 0; j < d; ++j) wl.data()[j] = v.data()[j / hw], bl.data()[j] = bv.data()[j / hw];
  const RuleSet rules = RuleSet().when(any_kind({OpKind::LayerNorm, OpKind::GroupNorm}), lrp_layernorm_identity());
  const Tensor got = relevance(
      [&](Tape& t, const Var& xv) { return group_norm(xv, groups, t.param(w, "gn.weight"), t.param(b, "gn.bias")); },
      x, rel, rules);
  const Tensor want = relevance(
      [&](Tape& t, const Var& xv) {
        return reshape(layernorm(reshape(xv, std::vector<int64_t>{n, groups, d}), t.param(wl, "ln.weight"), t.param(bl, "ln.bias"), 1),
                       std::vector<int64_t>{n, c, 2, 2});
      },
      x, rel, rules);
  BL_CHECK_CLOSE(got, want, 1e-6, 1e-5);
  // With a zero bias every output is the linear map of x alone: sum R_in = sum R_out (up to the
  // 1e-6 stabiliser); the plain gradient x * dy/dx sums to ~0 here (y has zero mean per group).
  const Tensor r0 = relevance([&](Tape& t, const Var& xv) { return group_norm(xv, groups, t.param(w, "gn.weight"), Var()); },
                              x, rel, rules);
  CHECK(sum(r0) == doctest::Approx(sum(rel)).epsilon(1e-4));
  // Every built-in LRP set and the attention sets route group_norm to the identity rule.
  for (const char* set : {"lrp_epsilon", "cp_lrp", "attnlrp"}) {
    CAPTURE(set);
    const Tensor r = relevance(
        [&](Tape& t, const Var& xv) { return group_norm(xv, groups, t.param(w, "gn.weight"), Var()); }, x, rel,
        make_rule_set(set));
    BL_CHECK_CLOSE(r, r0, 1e-6, 1e-5);
  }
}

TEST_CASE("group_norm and pow_tensor under DeepLIFT: the gradient is the multiplier (as Captum's unhooked ops)") {
  CHECK(facts_of(OpKind::GroupNorm).nonlinearity == Nonlinearity::None);
  CHECK(facts_of(OpKind::PowTensor).nonlinearity == Nonlinearity::None);
}

TEST_CASE("pow_tensor under LRP: the exponent is the constant; a constant base sends R to the exponent") {
  std::mt19937_64 rng(kSeed + 6);
  const Tensor a = uniform({2, 5}, rng, 0.5f, 2.0f), e = uniform({2, 5}, rng, -1.0f, 1.0f), rel = randn({2, 5}, rng);
  Tape t;
  const Var av = t.input(a, "a"), ev = t.input(e, "e");
  const Var y = backlight::pow(av, ev, "p");
  CHECK(gate_operand(t, t.num_nodes() - 1) == GateChoice::Operand1);
  const RuleSet rules = make_rule_set("lrp_epsilon");
  const std::vector<Var> outs{y};
  const std::vector<Tensor> seeds{rel};
  const std::vector<Var> wrt{av, ev};
  const std::vector<Tensor> r = backward(t, outs, seeds, wrt, rules);
  BL_CHECK_CLOSE(r[0], rel, 0.0, 0.0);
  CHECK(sum(r[1]) == 0.0);
  Tape t2;
  const Var ev2 = t2.input(e, "e");
  backlight::pow(t2.buffer(Tensor::full({1}, 2.0f), "two"), ev2, "p");
  CHECK(gate_operand(t2, t2.num_nodes() - 1) == GateChoice::Operand0);
}

}  // TEST_SUITE
