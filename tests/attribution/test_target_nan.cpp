// Target::top1 on non-finite outputs selects as torch.argmax: NaN is the maximum (first NaN wins),
// +Inf beats every finite value (issue 14: select-like ops must not turn NaN into a number).
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "attribution/core/target.h"

using namespace backlight;

TEST_SUITE("attribution") {

TEST_CASE("target top1: NaN and Inf select as torch.argmax") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = INFINITY;
  Tensor out = Tensor::empty({4, 3});
  const float rows[4][3] = {{nan, 5, 1}, {1, nan, nan}, {1, inf, 3}, {-inf, -inf, -2}};
  for (int i = 0; i < 4; ++i)
    for (int j = 0; j < 3; ++j) out.data()[i * 3 + j] = rows[i][j];
  // torch.tensor(rows).argmax(1) == [0, 1, 1, 2]
  CHECK(Target::top1().resolve(out) == std::vector<int64_t>{0, 1, 1, 2});
}

}  // TEST_SUITE
