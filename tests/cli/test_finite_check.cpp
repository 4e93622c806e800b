// Refusing NaN and Inf before a picture is drawn from them (issue 14).
#include <doctest/doctest.h>

#include <limits>

#include "engine/error.h"
#include "tools/cli/finite_check.h"

using namespace backlight;
using namespace backlight::cli;

TEST_SUITE("cli") {

TEST_CASE("finite_check: the first NaN or Inf is named with its index") {
  Tensor t = Tensor::zeros({2, 3});
  CHECK_FALSE(first_non_finite(t).has_value());
  check_finite(t, "x");
  t.data()[4] = std::numeric_limits<float>::quiet_NaN();
  t.data()[5] = std::numeric_limits<float>::infinity();
  CHECK(first_non_finite(t) == 4);
  CHECK_THROWS_WITH_AS(check_finite(t, "the logits"), doctest::Contains("the logits holds NaN at index [1,1] (flat 4 of [2,3])"),
                       Error);
  t.data()[4] = 0;
  CHECK_THROWS_WITH_AS(check_finite(t, "y"), doctest::Contains("+Inf at index [1,2]"), Error);
  // Past the first block of the fast scan, and the largest finite values are not flagged.
  Tensor big = Tensor::full({3, 100, 100}, std::numeric_limits<float>::max());
  CHECK_FALSE(first_non_finite(big).has_value());
  big.data()[29999] = -std::numeric_limits<float>::infinity();
  big.data()[29998] = std::numeric_limits<float>::denorm_min();
  CHECK(first_non_finite(big) == 29999);
  CHECK_THROWS_WITH_AS(check_finite(big, "z"), doctest::Contains("-Inf at index [2,99,99]"), Error);
}

}  // TEST_SUITE
