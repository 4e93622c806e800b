// Resize refuses absurd output sizes before allocating (a fuzzed ONNX Resize scale once asked
// for terabytes): the error names the size and the limit, and the largest allowed side works.
#include <doctest/doctest.h>

#include "engine/functional/resize.h"
#include "tests/helpers.h"

using namespace backlight;

TEST_SUITE("engine") {

TEST_CASE("resize: outputs above 65536 per side are refused with the size and the limit") {
  const Tensor x = Tensor::zeros({1, 1, 2, 2});
  ResizeAttrs a;
  a.out_h = 70000;
  a.out_w = 4;
  a.inv_scale_h = 2.0f / 70000.0f;
  a.inv_scale_w = 0.5f;
  CHECK_THROWS_WITH_AS(fn::resize_forward(x, a, nullptr), doctest::Contains("70000x4 exceeds 65536 per side"),
                       Error);
  a.out_h = 4;
  a.out_w = int64_t{1} << 40;  // would be 4 TiB of floats
  CHECK_THROWS_WITH_AS(fn::resize_forward(x, a, nullptr), doctest::Contains("exceeds 65536"), Error);
  CHECK_THROWS_WITH_AS(fn::resize_backward(Tensor::zeros({1, 1, 4, 4}), x.shape(), a, nullptr),
                       doctest::Contains("exceeds 65536"), Error);
  a.out_w = 65536;  // the limit itself is allowed
  a.inv_scale_w = 2.0f / 65536.0f;
  const Tensor y = fn::resize_forward(x, a, nullptr);
  CHECK(y.shape() == Shape{1, 1, 4, 65536});
}

}  // TEST_SUITE
