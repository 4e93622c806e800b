// Gated products under LRP (engine/rules/gate.h): which operand is the gate, what each operand
// receives, and that the LRP sets conserve through SiLU, squeeze-excitation and hard-swish.
#include <cmath>

#include "engine/backward.h"
#include "engine/rules/builtin.h"
#include "engine/rules/builtin_sets.h"
#include "engine/rules/gate.h"
#include "engine/functional/elementwise.h"
#include "engine/ops/ops.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

int node_of(const Var& v) { return v.tape().value(v.id()).producer; }

double total(const Tensor& t) {
  double s = 0;
  for (int64_t i = 0; i < t.numel(); ++i) s += t.data()[i];
  return s;
}

// relu6(x + 3) / 6 as the ONNX importer composes HardSigmoid.
Var hard_sigmoid(Tape& t, const Var& x) {
  return scale(relu6(add(x, t.buffer(Tensor::full(Shape{1}, 3.0f), "three"))), 1.0f / 6.0f);
}

}  // namespace

TEST_SUITE("rules") {

TEST_CASE("gate: the operand from a sigmoid / hard sigmoid / softmax, a constant or the broadcast one is the gate") {
  std::mt19937_64 rng(kSeed);
  Tape t;
  const Var x = t.input(uniform({1, 2, 3, 3}, rng, -1.0f, 1.0f));
  SUBCASE("SiLU as Sigmoid then Mul, either order") {
    CHECK(gate_operand(t, node_of(mul(x, sigmoid(x)))) == GateChoice::Operand1);
    CHECK(gate_operand(t, node_of(mul(sigmoid(x), x))) == GateChoice::Operand0);
  }
  SUBCASE("hard-swish with the gate composed as relu6(x + 3) / 6, reshaped") {
    const std::vector<int64_t> flat{1, 18}, back{1, 2, 3, 3};
    CHECK(gate_operand(t, node_of(mul(x, reshape(reshape(hard_sigmoid(t, x), flat), back)))) == GateChoice::Operand1);
  }
  SUBCASE("squeeze-excitation: the pooled branch broadcasts") {
    const std::vector<int> hw{2, 3};
    const Var pooled = mean(x, hw, true);  // [1, 2, 1, 1], not from a gate op
    CHECK(gate_operand(t, node_of(mul(x, pooled))) == GateChoice::Operand1);
    CHECK(gate_operand(t, node_of(mul(pooled, x))) == GateChoice::Operand0);
  }
  SUBCASE("a constant factor (layer scale) is the gate even when it broadcasts the other way") {
    const Var w = t.buffer(uniform({1, 2, 3, 3}, rng, 0.5f, 1.0f), "gamma");
    const std::vector<int> hw{2, 3};
    CHECK(gate_operand(t, node_of(mul(mean(x, hw, true), w))) == GateChoice::Operand1);
  }
  SUBCASE("two plain activations of one shape: uniform") {
    CHECK(gate_operand(t, node_of(mul(relu(x), tanh(x)))) == GateChoice::Uniform);
  }
  SUBCASE("both from gates: falls through to the broadcast test") {
    CHECK(gate_operand(t, node_of(mul(sigmoid(x), sigmoid(x)))) == GateChoice::Uniform);
  }
  SUBCASE("other kinds are refused") {
    CHECK_THROWS_WITH_AS(gate_operand(t, node_of(add(x, x))), doctest::Contains("applies to mul, div and pow_tensor nodes"),
                         RuleError);
  }
}

TEST_CASE("gate: the signal receives the whole relevance, the gate none; uniform halves") {
  std::mt19937_64 rng(kSeed + 1);
  Tape t;
  const Var x = t.input(uniform({1, 2, 3, 3}, rng, -1.0f, 1.0f));
  const Var g = sigmoid(scale(x, 2.0f));
  const Var y = mul(x, g);
  const Tensor rel = uniform({1, 2, 3, 3}, rng, -1.0f, 1.0f);
  const RuleSet rs = RuleSet("gate_only").when(kind(OpKind::Mul), gated_product());
  // The gate branch gets nothing, so the only relevance at x is the product's.
  const Var wrt[] = {x, g};
  const Tensor seeds[] = {rel};
  const Var outs[] = {y};
  const std::vector<Tensor> r = backward(t, outs, seeds, wrt, rs);
  BL_CHECK_CLOSE(r[0], rel, 0.0, 0.0);
  for (int64_t i = 0; i < r[1].numel(); ++i) REQUIRE(r[1].data()[i] == 0.0f);

  const Var z = mul(relu(x), tanh(x));
  const Var outs2[] = {z};
  const Var wrt2[] = {x};
  const Tensor half = fn::scale(rel, 0.5f, nullptr);
  // x receives the half through relu (plain gradient) and the half through tanh (plain gradient).
  const Tensor rx = backward(t, outs2, seeds, wrt2, rs)[0];
  for (int64_t i = 0; i < rx.numel(); ++i) {
    const float xi = x.value().data()[i];
    const float expect = half.data()[i] * (xi > 0 ? 1.0f : 0.0f) + half.data()[i] * (1 - std::tanh(xi) * std::tanh(xi));
    CHECK(rx.data()[i] == doctest::Approx(expect).epsilon(1e-5));
  }
}

TEST_CASE("gate: LRP sets conserve through SiLU, squeeze-excitation, hard-swish and sub; the gradient does not") {
  std::mt19937_64 rng(kSeed + 2);
  Tape t;
  const Var x = t.input(uniform({1, 3, 6, 6}, rng, -1.0f, 1.0f));
  Conv2dAttrs same;
  same.pad_h = same.pad_w = 1;
  auto conv = [&](const Var& in, int64_t cin, int64_t cout, std::string name) {
    return conv2d(in, t.param(uniform({cout, cin, 3, 3}, rng, -0.5f, 0.5f), name + ".weight"), Var(), same, name);
  };
  const Var h = conv(x, 3, 4, "c1");
  const Var silu = mul(h, sigmoid(h));
  const std::vector<int> hw{2, 3};
  // Squeeze-excitation: the map times sigmoid(1x1 conv of its spatial mean), [1, 4, 1, 1].
  const Var squeeze = conv2d(mean(silu, hw, true), t.param(uniform({4, 4, 1, 1}, rng, -1.0f, 1.0f), "se.weight"),
                             Var(), Conv2dAttrs{}, "se");
  const Var se = mul(silu, sigmoid(squeeze));
  const Var h2 = conv(se, 4, 4, "c2");
  const Var hs = mul(h2, hard_sigmoid(t, h2));
  const Var d = sub(hs, scale(h2, 0.5f));
  const std::vector<int> all{1, 2, 3};
  const Var out = reshape(sum(d, all, true), std::vector<int64_t>{1, 1});
  const Tensor seed = Tensor::full(Shape{1, 1}, 1.0f);
  const Tensor rel = backward(out, seed, x, make_rule_set("lrp_epsilon"));
  CAPTURE(total(rel));
  CHECK(std::fabs(total(rel) - 1.0) < 1e-3);
  // Without the gate rules (plain gradient on mul and sub), the same graph does not conserve.
  RuleSet no_gates("no_gates");
  no_gates.when(kind(OpKind::Conv2d), epsilon()).when(any_kind({OpKind::Sigmoid, OpKind::Relu6}), pass());
  no_gates.when(any_kind({OpKind::Sum, OpKind::Mean}), norm());
  const Tensor bad = backward(out, seed, x, no_gates);
  CAPTURE(total(bad));
  CHECK(std::fabs(total(bad) - 1.0) > 0.05);
}

}  // TEST_SUITE
