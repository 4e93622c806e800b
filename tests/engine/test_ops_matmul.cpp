// Batched matmul with broadcast batch dims.
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

TEST_SUITE("engine") {

TEST_CASE("matmul: exact forward with a broadcast batch") {
  Tape t;
  Var a = t.input(Tensor::from({2, 2, 2}, {1, 2, 3, 4, 0, 1, 1, 0}));
  Var b = t.input(Tensor::from({2, 3}, {1, 0, 2, 0, 1, -1}));
  Var y = matmul(a, b);
  REQUIRE(y.shape() == Shape{2, 2, 3});
  // [[1,2],[3,4]] b = [[1,2,0],[3,4,2]]; [[0,1],[1,0]] b swaps b's rows.
  CHECK(y.value().to_vector() == std::vector<float>{1, 2, 0, 3, 4, 2, 0, 1, -1, 1, 0, 2});
  CHECK(t.node(0).kind == OpKind::MatMul);
}

TEST_CASE("matmul: gradcheck with broadcast batch dims") {
  std::mt19937_64 rng(kSeed);
  const std::pair<Shape, Shape> shapes[] = {
      {{3, 4}, {4, 2}},       {{2, 1, 3, 4}, {5, 4, 2}}, {{4, 2, 3}, {3, 5}},
      {{3, 4}, {2, 4, 5}},    {{2, 1, 3, 4}, {1, 2, 4, 3}}, {{1, 5}, {5, 1}},
  };
  for (const auto& [sa, sb] : shapes) {
    CAPTURE(sa);
    CAPTURE(sb);
    gradcheck([](const std::vector<Var>& v) { return matmul(v[0], v[1]); }, {randn(sa, rng), randn(sb, rng)});
  }
}

TEST_CASE("matmul: bad shapes name the expectation") {
  Tape t;
  Var a = t.input(Tensor::zeros({2, 3, 4}));
  CHECK_THROWS_WITH_AS(matmul(a, t.input(Tensor::zeros({3, 2}))),
                       doctest::Contains("matmul: inner dimensions differ: [2,3,4] x [3,2]"), ShapeError);
  CHECK_THROWS_WITH_AS(matmul(a, t.input(Tensor::zeros({4}))),
                       doctest::Contains("matmul: expected tensors with >= 2 dims"), ShapeError);
  CHECK_THROWS_WITH_AS(matmul(a, t.input(Tensor::zeros({3, 4, 2}))), doctest::Contains("cannot be broadcast"),
                       ShapeError);
}

}  // TEST_SUITE
