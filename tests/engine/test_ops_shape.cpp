// Shape ops: reshape, flatten, permute, transpose, concat, slice, pad.
#include <numeric>

#include "engine/functional/shape.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

// 0, 1, 2, ... in row-major order: every element says where it came from.
Tensor arange(const Shape& s) {
  Tensor t = Tensor::empty(s);
  std::iota(t.span().begin(), t.span().end(), 0.0f);
  return t;
}

// Naive permute by full index decoding (the reference for the fast paths).
Tensor permute_ref(const Tensor& x, const std::vector<int>& perm) {
  const Shape& xs = x.shape();
  Shape ys;
  for (int p : perm) ys.push_back(xs[p]);
  Tensor y = Tensor::empty(ys);
  std::vector<int64_t> idx(ys.rank());
  for (int64_t o = 0; o < y.numel(); ++o) {
    int64_t rem = o;
    for (int d = ys.rank() - 1; d >= 0; --d) {
      idx[d] = rem % ys[d];
      rem /= ys[d];
    }
    int64_t src = 0;
    for (int d = 0; d < ys.rank(); ++d) src += idx[d] * xs.stride(perm[d]);
    y.data()[o] = x.data()[src];
  }
  return y;
}

}  // namespace

TEST_SUITE("engine") {

TEST_CASE("reshape: free view, -1 inferred, gradcheck") {
  Tape t;
  Var x = t.input(arange({2, 3, 4}));
  Var y = reshape(x, std::vector<int64_t>{4, -1});
  CHECK(y.shape() == Shape{4, 6});
  CHECK(y.value().shares_storage(x.value()));
  CHECK(t.node(t.num_nodes() - 1).kind == OpKind::Reshape);
  CHECK(y.value().at({2, 5}) == 17.0f);

  std::mt19937_64 rng(kSeed);
  gradcheck([](const std::vector<Var>& v) { return reshape(v[0], std::vector<int64_t>{-1, 5, 3}); },
            {randn({2, 5, 3, 1}, rng)});
  CHECK_THROWS_WITH_AS(reshape(x, std::vector<int64_t>{5, -1}), doctest::Contains("cannot infer -1 for 24 elements"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(reshape(x, std::vector<int64_t>{5, 5}), doctest::Contains("cannot view [2,3,4]"), ShapeError);
}

TEST_CASE("flatten: torch.flatten shapes, recorded as reshape, gradcheck") {
  Tape t;
  Var x = t.input(arange({2, 3, 4, 5}));
  CHECK(flatten(x).shape() == Shape{2, 60});
  CHECK(flatten(x, 0).shape() == Shape{120});
  CHECK(flatten(x, 1, 2).shape() == Shape{2, 12, 5});
  CHECK(flatten(x, -2, -1).shape() == Shape{2, 3, 20});
  CHECK(flatten(x, 2, 2).shape() == Shape{2, 3, 4, 5});
  CHECK(flatten(t.input(Tensor::full({}, 3.0f)), 0).shape() == Shape{1});
  CHECK(t.node(t.num_nodes() - 1).kind == OpKind::Reshape);
  CHECK_THROWS_WITH_AS(flatten(x, 3, 1), doctest::Contains("flatten: expected start_dim <= end_dim"), ShapeError);
  CHECK_THROWS_WITH_AS(flatten(x, 4), doctest::Contains("flatten: axis 4 out of range for shape [2,3,4,5]"),
                       ShapeError);

  std::mt19937_64 rng(kSeed);
  gradcheck([](const std::vector<Var>& v) { return flatten(v[0], 1, 2); }, {randn({2, 3, 2, 3}, rng)});
}

TEST_CASE("permute: exact forward on a small case") {
  Tape t;
  Var x = t.input(arange({2, 3, 4}));
  const int perm[] = {2, 0, 1};
  Var y = permute(x, perm);
  REQUIRE(y.shape() == Shape{4, 2, 3});
  // y[i,j,k] = x[j,k,i] = 12 j + 4 k + i.
  CHECK(y.value().at({0, 0, 0}) == 0.0f);
  CHECK(y.value().at({1, 0, 0}) == 1.0f);
  CHECK(y.value().at({0, 0, 1}) == 4.0f);
  CHECK(y.value().at({3, 1, 2}) == 23.0f);
  CHECK(y.value().at({2, 1, 0}) == 14.0f);
  const PermuteAttrs& a = std::get<PermuteAttrs>(t.node(0).attrs);
  CHECK(a.rank == 3);
  CHECK((a.perm[0] == 2 && a.perm[1] == 0 && a.perm[2] == 1));
}

TEST_CASE("permute: fast paths match the naive reference") {
  std::mt19937_64 rng(kSeed);
  struct Case {
    Shape s;
    std::vector<int> perm;
  };
  // Attention heads (inner dim kept), tiled transposes with sizes off the 32-tile grid,
  // unit dims, identity, full reversal, rank 1 and 0.
  const Case cases[] = {
      {{2, 7, 3, 5}, {0, 2, 1, 3}},   {{3, 37, 41}, {0, 2, 1}},     {{65, 33}, {1, 0}},
      {{2, 1, 5, 1, 3}, {4, 3, 2, 1, 0}}, {{4, 5, 6}, {0, 1, 2}}, {{2, 3, 4, 5}, {3, 1, 0, 2}},
      {{2, 3, 4, 5}, {1, 3, 2, 0}},   {{6, 40, 3}, {1, 2, 0}},      {{7}, {0}},
      {{}, {}},                       {{3, 0, 2}, {2, 0, 1}},
      // NCHW <-> NHWC (ConvNeXt): 8x8 SIMD blocks plus the edges of both dims, one and several
      // 32-tiles.
      {{2, 96, 7, 7}, {0, 2, 3, 1}},  {{2, 7, 7, 96}, {0, 3, 1, 2}}, {{1, 19, 9, 5}, {0, 2, 3, 1}},
      {{3, 9, 5, 19}, {0, 3, 1, 2}},  {{1, 64, 8, 9}, {0, 2, 3, 1}}, {{2, 8, 8, 70}, {0, 3, 1, 2}},
      {{5, 3, 16}, {2, 0, 1}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.s);
    const Tensor x = randn(c.s, rng);
    Tape t;
    Var y = permute(t.input(x), c.perm);
    const std::string r = allclose_report(y.value(), permute_ref(x, c.perm), 0, 0);
    CHECK_MESSAGE(r.empty(), r);
  }
}

TEST_CASE("transpose_2d: strided blocks match the naive loop") {
  std::mt19937_64 rng(kSeed);
  // On and off the 8x8 SIMD grid and the 32 tile, leading dims wider than the block.
  const int64_t dims[][4] = {{1, 1, 1, 1}, {8, 8, 8, 8}, {3, 5, 7, 9}, {37, 41, 50, 45}, {64, 60, 64, 80}, {96, 256, 300, 100}};
  for (const auto& d : dims) {
    const int64_t rows = d[0], cols = d[1], ld_src = d[2], ld_dst = d[3];
    CAPTURE(rows);
    CAPTURE(cols);
    const Tensor src = randn({rows, ld_src}, rng);
    Tensor got = Tensor::full({cols, ld_dst}, -7.0f), want = Tensor::full({cols, ld_dst}, -7.0f);
    fn::transpose_2d(src.data(), rows, cols, ld_src, got.data(), ld_dst);
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c) want.data()[c * ld_dst + r] = src.data()[r * ld_src + c];
    const std::string rep = allclose_report(got, want, 0, 0);  // padding columns untouched too
    CHECK_MESSAGE(rep.empty(), rep);
  }
}

TEST_CASE("permute: gradcheck, negative dims") {
  std::mt19937_64 rng(kSeed);
  const std::vector<int> perms[] = {{0, 2, 1, 3}, {3, 1, 0, 2}, {-1, -4, -2, -3}};
  for (const auto& p : perms) {
    gradcheck([p](const std::vector<Var>& v) { return permute(v[0], p); }, {randn({2, 3, 4, 5}, rng)});
  }
}

TEST_CASE("permute: bad permutations name the expectation") {
  Tape t;
  Var x = t.input(Tensor::zeros({2, 3, 4}));
  CHECK_THROWS_WITH_AS(permute(x, std::vector<int>{0, 1}),
                       doctest::Contains("permute: expected a permutation of 3 dims for a rank-3 tensor, got 2 entries (0,1)"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(permute(x, std::vector<int>{0, 2, -1}), doctest::Contains("dim -1 repeats in (0,2,-1)"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(permute(x, std::vector<int>{0, 3, 1}), doctest::Contains("dim 3 in permutation (0,3,1) out of range for rank 3"),
                       ShapeError);
}

TEST_CASE("transpose: forward, recorded as permute, gradcheck") {
  Tape t;
  Var x = t.input(arange({2, 3}));
  Var y = transpose(x, 0, -1);
  CHECK(y.shape() == Shape{3, 2});
  CHECK(y.value().to_vector() == std::vector<float>{0, 3, 1, 4, 2, 5});
  CHECK(t.node(0).kind == OpKind::Permute);
  CHECK_THROWS_WITH_AS(transpose(x, 0, 2), doctest::Contains("transpose: dims (0, 2) out of range for shape [2,3]"),
                       ShapeError);

  std::mt19937_64 rng(kSeed);
  gradcheck([](const std::vector<Var>& v) { return transpose(v[0], 1, 2); }, {randn({2, 3, 4, 2}, rng)});
  gradcheck([](const std::vector<Var>& v) { return transpose(v[0], -1, 0); }, {randn({3, 1, 5}, rng)});
}

TEST_CASE("concat: exact forward and gradcheck of 3 inputs on a middle axis") {
  Tape t;
  Var a = t.input(arange({2, 1, 2}));
  Var b = t.input(Tensor::full({2, 2, 2}, -1.0f));
  const Var ab[] = {a, b};
  Var y = concat(ab, 1);
  REQUIRE(y.shape() == Shape{2, 3, 2});
  CHECK(y.value().to_vector() == std::vector<float>{0, 1, -1, -1, -1, -1, 2, 3, -1, -1, -1, -1});
  CHECK(std::get<AxisAttrs>(t.node(0).attrs).axis == 1);
  const Var single[] = {b};
  CHECK(concat(single, -1).value().to_vector() == b.value().to_vector());

  std::mt19937_64 rng(kSeed);
  gradcheck(
      [](const std::vector<Var>& v) {
        const Var xs[] = {v[0], v[1], v[2]};
        return concat(xs, 1);
      },
      {randn({2, 3, 4}, rng), randn({2, 1, 4}, rng), randn({2, 5, 4}, rng)});
  gradcheck(
      [](const std::vector<Var>& v) {
        const Var xs[] = {v[0], v[1], v[2]};
        return concat(xs, -1);
      },
      {randn({3, 2}, rng), randn({3, 3}, rng), randn({3, 1}, rng)});
}

TEST_CASE("concat: gradient for one input only") {
  Tape t;
  Var a = t.input(arange({2, 2}));
  Var b = t.input(arange({2, 3}));
  const Var ab[] = {a, b};
  Var y = concat(ab, 1);
  const Tensor seed = arange({2, 5});
  const Tensor gb = grad(y, seed, b);
  CHECK(gb.to_vector() == std::vector<float>{2, 3, 4, 7, 8, 9});
}

TEST_CASE("concat: bad inputs name the expectation") {
  Tape t;
  Var a = t.input(Tensor::zeros({2, 3, 4}));
  Var b = t.input(Tensor::zeros({2, 5, 5}));
  const Var ab[] = {a, b};
  CHECK_THROWS_WITH_AS(concat(ab, 1),
                       doctest::Contains("concat: expected input 1 to match input 0 [2,3,4] in all dims but axis 1, got [2,5,5]"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(concat(ab, 3), doctest::Contains("concat: axis 3 out of range for shape [2,3,4]"), ShapeError);
  Var c = t.input(Tensor::zeros({2, 3}));
  const Var ac[] = {a, c};
  CHECK_THROWS_WITH_AS(concat(ac, 0), doctest::Contains("expected input 1 to match input 0 [2,3,4]"), ShapeError);
  CHECK_THROWS_WITH_AS(concat(std::span<const Var>(), 0), doctest::Contains("concat: expected at least one input"),
                       ShapeError);
}

TEST_CASE("slice: Python semantics for negative and clamped bounds") {
  Tape t;
  Var x = t.input(arange({10}));
  // Expected values are Python's list(range(10))[start:end:step].
  CHECK(slice(x, 0, -7, 9, 3).value().to_vector() == std::vector<float>{3, 6});
  CHECK(slice(x, 0, 2, 100).value().to_vector() == std::vector<float>{2, 3, 4, 5, 6, 7, 8, 9});
  CHECK(slice(x, 0, -100, 3).value().to_vector() == std::vector<float>{0, 1, 2});
  CHECK(slice(x, 0, 1, -1, 4).value().to_vector() == std::vector<float>{1, 5});
  CHECK(slice(x, 0, 7, 3).shape() == Shape{0});
  CHECK(slice(x, 0, 20, 30).shape() == Shape{0});
  const SliceAttrs& a = std::get<SliceAttrs>(t.node(0).attrs);
  CHECK((a.axis == 0 && a.start == 3 && a.end == 9 && a.step == 3));

  Var m = t.input(arange({3, 4}));
  CHECK(slice(m, -1, 1, 4, 2).value().to_vector() == std::vector<float>{1, 3, 5, 7, 9, 11});
  CHECK(slice(m, 0, -1, 3).value().to_vector() == std::vector<float>{8, 9, 10, 11});
}

TEST_CASE("slice: gradcheck with steps, negative bounds, empty result") {
  std::mt19937_64 rng(kSeed);
  gradcheck([](const std::vector<Var>& v) { return slice(v[0], 1, 1, 7, 2); }, {randn({2, 7, 3}, rng)});
  gradcheck([](const std::vector<Var>& v) { return slice(v[0], -1, -6, -1, 3); }, {randn({3, 2, 7}, rng)});
  gradcheck([](const std::vector<Var>& v) { return slice(v[0], 0, 1, 5); }, {randn({3, 5}, rng)});
  gradcheck([](const std::vector<Var>& v) { return slice(v[0], 0, 0, 2); }, {randn({4, 3}, rng)});

  // An empty slice passes zeros back.
  Tape t;
  Var x = t.input(randn({3, 4}, rng));
  Var y = slice(x, 1, 3, 1);
  CHECK(y.shape() == Shape{3, 0});
  CHECK(grad(y, Tensor::zeros({3, 0}), x).to_vector() == std::vector<float>(12, 0.0f));
}

TEST_CASE("slice: bad arguments name the expectation") {
  Tape t;
  Var x = t.input(Tensor::zeros({2, 3}));
  CHECK_THROWS_WITH_AS(slice(x, 0, 0, 2, 0), doctest::Contains("slice: expected step > 0, got 0"), Error);
  CHECK_THROWS_WITH_AS(slice(x, 0, 2, 0, -1), doctest::Contains("slice: expected step > 0, got -1"), Error);
  CHECK_THROWS_WITH_AS(slice(x, -3, 0, 1), doctest::Contains("slice: axis -3 out of range for shape [2,3]"),
                       ShapeError);
}

TEST_CASE("pad: exact forward in F.pad order") {
  Tape t;
  Var x = t.input(arange({2, 2}));
  Var y = pad(x, std::vector<int64_t>{1, 2}, -1.0f);
  REQUIRE(y.shape() == Shape{2, 5});
  CHECK(y.value().to_vector() == std::vector<float>{-1, 0, 1, -1, -1, -1, 2, 3, -1, -1});
  // (last before, last after, first before, first after).
  Var z = pad(x, std::vector<int64_t>{0, 1, 1, 0});
  REQUIRE(z.shape() == Shape{3, 3});
  CHECK(z.value().to_vector() == std::vector<float>{0, 0, 0, 0, 1, 0, 2, 3, 0});
  const PadAttrs& a = std::get<PadAttrs>(t.node(1).attrs);
  CHECK((a.pads[0] == 1 && a.pads[1] == 0 && a.pads[2] == 0 && a.pads[3] == 1));
}

TEST_CASE("pad: gradcheck on 4-d and 3-d inputs") {
  std::mt19937_64 rng(kSeed);
  gradcheck([](const std::vector<Var>& v) { return pad(v[0], std::vector<int64_t>{1, 2, 0, 3}, 0.5f); },
            {randn({2, 3, 4, 3}, rng)});
  gradcheck([](const std::vector<Var>& v) { return pad(v[0], std::vector<int64_t>{0, 0, 2, 1, 1, 1}); },
            {randn({2, 3, 2}, rng)});
  gradcheck([](const std::vector<Var>& v) { return pad(v[0], std::vector<int64_t>{}); }, {randn({3, 2}, rng)});
}

TEST_CASE("pad: bad pads name the expectation") {
  Tape t;
  Var x = t.input(Tensor::zeros({2, 3}));
  CHECK_THROWS_WITH_AS(pad(x, std::vector<int64_t>{1, 2, 3}), doctest::Contains("odd number of pads (3)"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(pad(x, std::vector<int64_t>{1, -1}),
                       doctest::Contains("pad: expected pads >= 0, got (1, -1) for dim 1 of shape [2,3]"), ShapeError);
  CHECK_THROWS_WITH_AS(pad(x, std::vector<int64_t>{0, 0, 0, 0, 1, 1}),
                       doctest::Contains("pad: expected at most 2 (before, after) pairs for shape [2,3], got 3"),
                       ShapeError);
}

}  // TEST_SUITE
