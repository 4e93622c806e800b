// attribution/core/pass.h: require_finite names the first bad element and its value (the check runs
// through kernels/dispatch.h, on the tensor's device); forward_pass refuses bad inputs.
#include <cmath>
#include <limits>

#include "attribution/gradient/gradient_methods.h"
#include "attribution/core/pass.h"
#include "tests/attribution/perturbation_fixture.h"

using namespace backlight;
using namespace backlight::test;

TEST_SUITE("attribution") {

TEST_CASE("require_finite: names the first NaN or infinity, its value and the shape") {
  Tensor t = Tensor::full({2, 4}, 1.0f);
  CHECK_NOTHROW(require_finite(t, "x"));
  t.data()[6] = -std::numeric_limits<float>::infinity();
  CHECK_THROWS_WITH_AS(require_finite(t, "x"), "x: element 6 is -inf; expected finite values (shape [2,4])", Error);
  t.data()[5] = std::nanf("");
  CHECK_THROWS_WITH_AS(require_finite(t, "x"), "x: element 5 is nan; expected finite values (shape [2,4])", Error);
  // A view: indices count from the view's first element.
  CHECK_THROWS_WITH_AS(require_finite(t.slice_batch(1, 2), "row"),
                       "row: element 1 is nan; expected finite values (shape [1,4])", Error);
  CHECK_NOTHROW(require_finite(t.slice_batch(0, 1), "row"));
}

TEST_CASE("forward_pass: a non-finite input is refused before the model runs") {
  const ModulePtr m = perturbation_cnn();
  Tensor x = Tensor::full({1, 3, 10, 9}, 0.5f);
  x.data()[100] = std::nanf("");
  CHECK_THROWS_WITH_AS(saliency(*m, x, Target::top1()), doctest::Contains("attribution input: element 100 is nan"),
                       Error);
}

}  // TEST_SUITE
