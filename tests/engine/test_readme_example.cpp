// The C++ example in README.md: the code between the markers is the README's (after its
// #include lines), so the README cannot rot. Wrapped in a namespace to keep its names local.
#include <doctest/doctest.h>

#include "engine/backward.h"
#include "engine/ops/ops.h"
#include "engine/rules/builtin.h"

namespace readme_example {
// --- README example begin
using namespace backlight;

struct Result { Tensor logits, relevance, gradient; };

Result run() {
  Tape tape;  // records one node per op
  Var x = tape.input(Tensor::from({1, 4}, {0.5f, -1.0f, 2.0f, 3.0f}));
  Var w1 = tape.param(Tensor::from({3, 4}, {1, 0, 1, 0, 0, -1, 0, 1, 1, 1, -1, 0.5f}), "fc1.weight");
  Var w2 = tape.param(Tensor::from({2, 3}, {1, 2, -1, 0.5f, -1, 1}), "fc2.weight");
  Var y = linear(relu(linear(x, w1, {}, "fc1"), "act"), w2, {}, "fc2");  // logits [1,2]

  RuleSet lrp = RuleSet("my_lrp").when(kind(OpKind::Linear), epsilon())  // LRP-epsilon
                                 .when(kind(OpKind::Relu), pass());
  Tensor seed = Tensor::from({1, 2}, {1, 0});     // relevance 1 on logit 0
  Tensor relevance = backward(y, seed, x, lrp);   // [1,4], sums to 1
  Tensor gradient = grad(y, seed, x);             // same tape, plain gradient
  return {y.value(), relevance, gradient};
}
// --- README example end
}  // namespace readme_example

using namespace backlight;

TEST_SUITE("engine") {

TEST_CASE("readme: the README example runs; LRP-epsilon conserves the seeded relevance") {
  const readme_example::Result r = readme_example::run();
  // fc1 = [2.5, 4, -1] -> relu [2.5, 4, 0] -> logit 0 = 2.5 + 8 = 10.5.
  CHECK(r.logits.at({0, 0}) == doctest::Approx(10.5f));
  const float x[] = {0.5f, -1.0f, 2.0f, 3.0f};
  float total = 0;
  for (int i = 0; i < 4; ++i) {
    total += r.relevance.data()[i];
    // No biases, ReLU net: epsilon-LRP (eps -> 0) is gradient x input, scaled so that the
    // relevance sums to the seed (1) instead of the logit.
    CHECK(r.relevance.data()[i] == doctest::Approx(x[i] * r.gradient.data()[i] / 10.5f).epsilon(1e-4));
  }
  CHECK(total == doctest::Approx(1.0f).epsilon(1e-4));
}

}  // TEST_SUITE
