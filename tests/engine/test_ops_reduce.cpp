// sum and mean over axes.
#include <numeric>

#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

// Naive double-precision reduction by full index decoding (the reference for both fast paths).
Tensor reduce_ref(const Tensor& x, const std::vector<int>& axes, bool keepdim, bool mean) {
  const Shape& s = x.shape();
  std::vector<bool> red(s.rank(), axes.empty());
  for (int a : axes) red[a < 0 ? a + s.rank() : a] = true;
  Shape ys;
  int64_t count = 1;
  for (int d = 0; d < s.rank(); ++d) {
    if (!red[d]) ys.push_back(s[d]);
    else {
      count *= s[d];
      if (keepdim) ys.push_back(1);
    }
  }
  std::vector<double> acc(ys.numel(), 0.0);
  for (int64_t i = 0; i < x.numel(); ++i) {
    int64_t rem = i, out = 0, mul = 1;
    for (int d = s.rank() - 1; d >= 0; --d) {
      const int64_t idx = rem % s[d];
      rem /= s[d];
      if (!red[d]) {
        out += idx * mul;
        mul *= s[d];
      }
    }
    acc[out] += x.data()[i];
  }
  Tensor y = Tensor::empty(ys);
  for (int64_t i = 0; i < y.numel(); ++i) y.data()[i] = static_cast<float>(mean ? acc[i] / count : acc[i]);
  return y;
}

}  // namespace

TEST_SUITE("engine") {

TEST_CASE("sum/mean: exact forward on a small case") {
  Tape t;
  Tensor v = Tensor::from({2, 3}, {1, 2, 3, 4, 5, 6});
  Var x = t.input(v);
  CHECK(sum(x, std::vector<int>{0}).value().to_vector() == std::vector<float>{5, 7, 9});
  Var r = sum(x, std::vector<int>{-1}, true);
  CHECK(r.shape() == Shape{2, 1});
  CHECK(r.value().to_vector() == std::vector<float>{6, 15});
  Var all = sum(x, std::vector<int>{});
  CHECK(all.shape() == Shape{});
  CHECK(all.value().item() == 21.0f);
  CHECK(sum(x, std::vector<int>{}, true).shape() == Shape{1, 1});
  CHECK(mean(x, std::vector<int>{1}).value().to_vector() == std::vector<float>{2, 5});
  CHECK(mean(x, std::vector<int>{0, 1}, true).value().to_vector() == std::vector<float>{3.5f});
  const ReduceAttrs& a = std::get<ReduceAttrs>(t.node(1).attrs);
  CHECK((a.axes_mask == 2u && a.keepdim));
  CHECK(t.node(0).kind == OpKind::Sum);
  CHECK(t.node(t.num_nodes() - 1).kind == OpKind::Mean);
}

TEST_CASE("sum/mean: every axis set matches the naive reference") {
  std::mt19937_64 rng(kSeed);
  const Tensor x = randn({3, 4, 1, 5, 6}, rng);
  const std::vector<int> sets[] = {{},        {0},    {1},     {2},       {4},    {-1, 0}, {1, 3},
                                   {0, 2, 3}, {1, -2}, {3, 4}, {0, 1, 3}, {2, 4}, {0, 1, 2, 3, 4}};
  for (const auto& axes : sets) {
    for (bool keepdim : {false, true}) {
      CAPTURE(keepdim);
      CAPTURE(axes.size());
      Tape t;
      Var v = t.input(x);
      BL_CHECK_CLOSE(sum(v, axes, keepdim).value(), reduce_ref(x, axes, keepdim, false), 1e-5, 1e-5);
      BL_CHECK_CLOSE(mean(v, axes, keepdim).value(), reduce_ref(x, axes, keepdim, true), 1e-6, 1e-5);
    }
  }
}

TEST_CASE("sum/mean: wide kept inner dims split into partial column blocks") {
  std::mt19937_64 rng(kSeed);
  const std::pair<Shape, std::vector<int>> cases[] = {
      {{3, 700}, {0}}, {{3, 5000}, {0}}, {{2, 3, 2100}, {1}}, {{5, 2, 300}, {0}}};
  for (const auto& [s, axes] : cases) {
    CAPTURE(s);
    const Tensor x = randn(s, rng);
    Tape t;
    Var v = t.input(x);
    BL_CHECK_CLOSE(sum(v, axes).value(), reduce_ref(x, axes, false, false), 1e-5, 1e-5);
    BL_CHECK_CLOSE(mean(v, axes, true).value(), reduce_ref(x, axes, true, true), 1e-6, 1e-5);
  }
}

TEST_CASE("sum: accumulates in double over a million elements") {
  // 1 + i*1e-6 summed: float accumulation drifts by ~1e-3 relative; double keeps ~1e-7.
  Tensor x = Tensor::empty({1000, 1000});
  for (int64_t i = 0; i < x.numel(); ++i) x.data()[i] = 1.0f + static_cast<float>(i % 1000) * 1e-3f;
  double want = 0;
  for (float f : x.span()) want += f;
  Tape t;
  Var v = t.input(x);
  CHECK(sum(v, std::vector<int>{}).value().item() == doctest::Approx(want).epsilon(1e-6));
  // Along the outer axis (column accumulators) and the inner axis (row sums).
  Tensor cols = sum(v, std::vector<int>{0}).value();
  Tensor rows = sum(v, std::vector<int>{1}).value();
  CHECK(cols.at({7}) == doctest::Approx(1000.0 * (1.0 + 7e-3)).epsilon(1e-6));
  CHECK(rows.at({5}) == doctest::Approx(want / 1000).epsilon(1e-6));
}

TEST_CASE("sum/mean: gradcheck over axes, negative axes, keepdim both ways") {
  std::mt19937_64 rng(kSeed);
  const std::vector<int> sets[] = {{}, {0}, {-1}, {1, 3}, {0, 2}, {-3, -2}, {1, 2, 3}};
  for (const auto& axes : sets) {
    for (bool keepdim : {false, true}) {
      CAPTURE(keepdim);
      gradcheck([axes, keepdim](const std::vector<Var>& v) { return sum(v[0], axes, keepdim); },
                {randn({2, 3, 1, 5}, rng)});
      gradcheck([axes, keepdim](const std::vector<Var>& v) { return mean(v[0], axes, keepdim); },
                {randn({2, 3, 1, 5}, rng)});
    }
  }
  gradcheck([](const std::vector<Var>& v) { return mean(v[0], std::vector<int>{}); }, {randn({}, rng)});
}

TEST_CASE("sum/mean: bad axes name the expectation") {
  Tape t;
  Var x = t.input(Tensor::zeros({2, 3}));
  CHECK_THROWS_WITH_AS(sum(x, std::vector<int>{2}), doctest::Contains("sum: axis 2 out of range for shape [2,3]"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(mean(x, std::vector<int>{1, -1}), doctest::Contains("mean: axis -1 given twice in axes (1,-1)"),
                       ShapeError);
}

}  // TEST_SUITE
