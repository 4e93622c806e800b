// Shape::numel never overflows silently (fuzz finding through an empty .npy with huge dimensions).
#include <doctest/doctest.h>

#include "engine/error.h"
#include "engine/shape.h"

using namespace backlight;

TEST_SUITE("engine") {

TEST_CASE("shape: a zero dimension gives 0 elements whatever the others; an overflowing product throws") {
  CHECK(Shape{int64_t{1} << 40, int64_t{1} << 40, 0}.numel() == 0);
  CHECK(Shape{0, int64_t{1} << 40, int64_t{1} << 40}.numel() == 0);
  CHECK(Shape{int64_t{1} << 31, int64_t{1} << 31}.numel() == int64_t{1} << 62);
  CHECK_THROWS_WITH(Shape({int64_t{1} << 40, int64_t{1} << 40}).numel(), doctest::Contains("more than 2^63"));
}

}  // TEST_SUITE
