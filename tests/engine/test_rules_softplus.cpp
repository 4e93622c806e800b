// softplus_gradient(beta) (engine/rules/modified_relu.cpp): on a relu node the backward is
// g * sigmoid(beta z) at the forward input z; other kinds and beta <= 0 are refused.
#include <doctest/doctest.h>

#include <cmath>

#include "engine/backward.h"
#include "engine/ops/ops.h"
#include "engine/rules/builtin.h"
#include "engine/rules/rule_set.h"

using namespace backlight;

TEST_SUITE("engine") {

TEST_CASE("rules/softplus_gradient: g * sigmoid(beta z) on relu, refuses other kinds") {
  const Tensor zs = Tensor::from(Shape{1, 5}, {-2.0f, -0.1f, 0.0f, 0.1f, 3.0f});
  const Tensor gs = Tensor::from(Shape{1, 5}, {1.0f, -2.0f, 0.5f, 1.5f, -1.0f});
  const std::vector<Tensor> seeds{gs};
  for (const float beta : {1.0f, 10.0f}) {
    CAPTURE(beta);
    Tape tape;
    const Var z = tape.input(zs);
    const std::vector<Var> outs{relu(z)}, wrt{z};
    const Tensor g = backward(tape, outs, seeds, wrt, RuleSet().when(kind(OpKind::Relu), softplus_gradient(beta)))[0];
    for (int i = 0; i < 5; ++i)
      CHECK(g.data()[i] == doctest::Approx(gs.data()[i] / (1.0 + std::exp(-beta * zs.data()[i]))).epsilon(1e-6));
  }
  Tape tape;
  const Var a = tape.input(zs);
  const std::vector<Var> outs{clip(a, 0.0f, 1.0f)}, wrt{a};
  CHECK_THROWS_WITH_AS(backward(tape, outs, seeds, wrt, RuleSet().otherwise(softplus_gradient())),
                       doctest::Contains("softplus_gradient: applies to relu nodes"), RuleError);
  CHECK_THROWS_WITH_AS(softplus_gradient(-1.0f), doctest::Contains("expected beta > 0"), RuleError);
  CHECK(softplus_gradient(10.0f)->name().rfind("softplus_gradient(", 0) == 0);
}

}  // TEST_SUITE
