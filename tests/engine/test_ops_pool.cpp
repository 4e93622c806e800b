// Max, average and adaptive average pooling: PyTorch output sizes and values, gradchecks, errors.
#include <algorithm>
#include <limits>
#include <numeric>

#include "engine/functional/pool.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

// Distinct values (a scaled random permutation) spaced 0.05 apart: no two elements of a window
// are within 2h of each other, so finite differences never cross a tie.
Tensor distinct(const Shape& s, std::mt19937_64& rng) {
  std::vector<int64_t> perm(s.numel());
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  Tensor t = Tensor::empty(s);
  for (int64_t i = 0; i < s.numel(); ++i)
    t.data()[i] = 0.05f * static_cast<float>(perm[i] - s.numel() / 2);
  return t;
}

Tensor plane(int64_t h, int64_t w, std::initializer_list<float> v) { return Tensor::from({1, 1, h, w}, v); }

Tensor arange_plane(int64_t h, int64_t w) {
  Tensor t = Tensor::empty({1, 1, h, w});
  for (int64_t i = 0; i < h * w; ++i) t.data()[i] = static_cast<float>(i + 1);
  return t;
}

struct PoolCase {
  Shape x;
  Pool2dAttrs a;
};

// Odd sizes, strides, padding, dilation, ceil_mode windows that hang over the edge.
const PoolCase kPoolCases[] = {
    {{2, 3, 7, 7}, {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}},
    {{1, 2, 9, 8}, {.kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2, .ceil_mode = true}},
    {{1, 2, 5, 5}, {.kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1,
                    .ceil_mode = true}},
    {{2, 2, 6, 7}, {.kernel_h = 3, .kernel_w = 2, .stride_h = 1, .stride_w = 2, .pad_h = 1, .pad_w = 1,
                    .ceil_mode = true}},
    {{1, 2, 6, 6}, {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1,
                    .ceil_mode = true}},
    {{1, 2, 5, 6}, {.kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1}},
    {{2, 1, 5, 6}, {.kernel_h = 2, .kernel_w = 2, .stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1}},
    {{1, 2, 8, 9}, {.kernel_h = 2, .kernel_w = 3, .stride_h = 3, .stride_w = 2}},
};

}  // namespace

TEST_SUITE("engine") {

TEST_CASE("pool2d: output sizes match PyTorch, including ceil_mode") {
  // Expected sizes come from torch.nn.functional.max_pool2d / avg_pool2d (torch 1.13).
  struct Size {
    int64_t in, k, s, p, d;
    bool ceil;
    int64_t expected;
  };
  const Size sizes[] = {
      {7, 2, 2, 0, 1, true, 4},  {7, 2, 2, 0, 1, false, 3}, {5, 2, 2, 1, 1, true, 3},  {5, 2, 2, 1, 1, false, 3},
      {6, 3, 2, 1, 1, true, 4},  {6, 3, 2, 1, 1, false, 3}, {9, 3, 2, 1, 2, true, 4},  {9, 3, 2, 1, 2, false, 4},
      {10, 3, 3, 1, 1, true, 4}, {13, 3, 2, 0, 1, true, 6}, {1, 2, 2, 1, 1, true, 1},  {4, 3, 2, 1, 1, true, 3},
      {112, 3, 2, 1, 1, false, 56}, {224, 2, 2, 0, 1, false, 112},
  };
  for (const Size& c : sizes) {
    CAPTURE(c.in);
    CAPTURE(c.k);
    CAPTURE(c.s);
    CAPTURE(c.p);
    CAPTURE(c.d);
    CAPTURE(c.ceil);
    CHECK(fn::pool_output_size(c.in, c.k, c.p, c.s, c.d, c.ceil) == c.expected);
  }
  // Non-square through the ops: torch gives [2,3,4,4] for both.
  Tape t;
  Var x = t.input(Tensor::zeros({2, 3, 7, 10}));
  const Pool2dAttrs a{.kernel_h = 3, .kernel_w = 2, .stride_h = 2, .stride_w = 3, .pad_h = 1, .pad_w = 1,
                      .dilation_h = 1, .dilation_w = 2, .ceil_mode = true};
  CHECK(maxpool2d(x, a).shape() == Shape({2, 3, 4, 4}));
  Pool2dAttrs avg = a;
  avg.dilation_w = 1;
  CHECK(avgpool2d(x, avg).shape() == Shape({2, 3, 4, 4}));
}

TEST_CASE("maxpool2d: gradcheck over kernel, stride, padding, dilation, ceil_mode") {
  std::mt19937_64 rng(kSeed);
  for (const PoolCase& c : kPoolCases) {
    CAPTURE(c.x);
    const Pool2dAttrs a = c.a;
    gradcheck([a](const std::vector<Var>& v) { return maxpool2d(v[0], a); }, {distinct(c.x, rng)});
  }
  const Pool2dAttrs dilated{.kernel_h = 3, .kernel_w = 2, .stride_h = 2, .stride_w = 1, .pad_h = 1, .pad_w = 1,
                            .dilation_h = 2, .dilation_w = 3, .ceil_mode = true};
  gradcheck([dilated](const std::vector<Var>& v) { return maxpool2d(v[0], dilated); }, {distinct({2, 2, 9, 8}, rng)});
}

TEST_CASE("maxpool2d: ties send the gradient to the first maximum, as PyTorch") {
  // Values and expected gradients from torch.nn.functional.max_pool2d(...).sum().backward().
  const Tensor x = plane(4, 4, {1, 2, 2, 0, 2, 0, 2, 1, 0, 2, 1, 2, 1, 1, 2, 0});
  Tape t;
  Var xv = t.input(x);
  Var y = maxpool2d(xv, {.kernel_h = 3, .kernel_w = 3, .stride_h = 1, .stride_w = 1, .pad_h = 1, .pad_w = 1});
  CHECK(grad(y, Tensor::full(y.shape(), 1.0f), xv).to_vector() ==
        std::vector<float>{0, 6, 2, 0, 2, 0, 2, 0, 0, 3, 0, 1, 0, 0, 0, 0});
  const Pool2dAttrs dil{.kernel_h = 2, .kernel_w = 2, .dilation_h = 2, .dilation_w = 2};
  Var yd = maxpool2d(xv, dil);
  CHECK(grad(yd, Tensor::full(yd.shape(), 1.0f), xv).to_vector() ==
        std::vector<float>{0, 1, 1, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0});
  // The argmax map holds torch's return_indices.
  const fn::MaxPool2dResult r = fn::maxpool2d_forward(x, dil, nullptr, true);
  CHECK(r.y.to_vector() == std::vector<float>{2, 2, 2, 1});
  CHECK(r.argmax.to_vector() == std::vector<float>{2, 1, 4, 7});
}

TEST_CASE("maxpool2d: NaN wins and the last NaN of a window is the argmax, as PyTorch") {
  // Indices and values from torch.nn.functional.max_pool2d(..., return_indices=True).
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const Tensor x = plane(4, 4, {1, nan, 3, 0, 2, 5, -inf, -inf, 0, 2, -inf, -inf, 1, 1, nan, nan});
  struct Case {
    int k, s;
    std::vector<float> y, argmax;  // y: NaN where torch gives nan
  };
  const Case cases[] = {
      {2, 2, {nan, 3, 2, nan}, {1, 2, 9, 15}},
      {2, 1, {nan, nan, 3, 5, 5, -inf, 2, nan, nan}, {1, 1, 2, 5, 5, 6, 9, 14, 15}},
      {3, 1, {nan, nan, nan, nan}, {1, 1, 14, 15}},
  };
  for (const Case& c : cases) {
    CAPTURE(c.k);
    CAPTURE(c.s);
    const Pool2dAttrs a{.kernel_h = c.k, .kernel_w = c.k, .stride_h = c.s, .stride_w = c.s};
    const fn::MaxPool2dResult r = fn::maxpool2d_forward(x, a, nullptr, true);
    CHECK(r.argmax.to_vector() == c.argmax);
    const std::vector<float> y = r.y.to_vector();
    REQUIRE(y.size() == c.y.size());
    for (size_t i = 0; i < y.size(); ++i) {
      CAPTURE(i);
      CHECK(std::isnan(y[i]) == std::isnan(c.y[i]));
      if (!std::isnan(c.y[i])) CHECK(y[i] == c.y[i]);
    }
  }
}

TEST_CASE("maxpool2d: backward from the argmax map equals the recomputing backward") {
  std::mt19937_64 rng(kSeed);
  for (const PoolCase& c : kPoolCases) {
    CAPTURE(c.x);
    Tensor x = uniform(c.x, rng, 0.0f, 4.0f);
    for (float& v : x.span()) v = std::round(v);  // many ties
    const fn::MaxPool2dResult r = fn::maxpool2d_forward(x, c.a, nullptr, true);
    const Tensor g = randn(r.y.shape(), rng);
    const Tensor with_map = fn::maxpool2d_backward(g, x, r.argmax, c.a, nullptr);
    const Tensor recomputed = fn::maxpool2d_backward(g, x, Tensor(), c.a, nullptr);
    CHECK(with_map.to_vector() == recomputed.to_vector());
    CHECK(fn::maxpool2d_forward(x, c.a, nullptr).y.to_vector() == r.y.to_vector());
  }
}

TEST_CASE("maxpool2d: padding acts as -inf") {
  // torch.nn.functional.max_pool2d(-arange(1,17).view(1,1,4,4), 3, 2, 1, ceil_mode=True).
  Tensor x = arange_plane(4, 4);
  for (float& v : x.span()) v = -v;
  Tape t;
  Var y = maxpool2d(t.input(x), {.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1,
                                 .pad_w = 1, .ceil_mode = true});
  CHECK(y.value().to_vector() == std::vector<float>{-1, -2, -4, -5, -6, -8, -13, -14, -16});
}

TEST_CASE("avgpool2d: divisors match PyTorch for ceil_mode windows past the padded edge") {
  // Expected values from torch.nn.functional.avg_pool2d on arange(1, h*w+1).
  const Pool2dAttrs k3{.kernel_h = 3, .kernel_w = 3, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1,
                       .ceil_mode = true};
  const Pool2dAttrs k2{.kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1,
                       .ceil_mode = true};
  Tape t;
  Var x6 = t.input(arange_plane(6, 6));
  Var x5 = t.input(arange_plane(5, 5));
  SUBCASE("count_include_pad") {
    BL_CHECK_CLOSE(avgpool2d(x6, k3).value(),
                   Tensor::from({1, 1, 4, 4}, {2.0f, 4.0f, 5.333333f, 3.0f, 9.0f, 15.0f, 17.0f, 9.0f, 17.0f, 27.0f,
                                               29.0f, 15.0f, 10.5f, 16.5f, 17.5f, 9.0f}),
                   1e-5, 1e-6);
    BL_CHECK_CLOSE(avgpool2d(x5, k2).value(),
                   Tensor::from({1, 1, 3, 3}, {0.25f, 1.25f, 2.25f, 4.25f, 10.0f, 12.0f, 9.25f, 20.0f, 22.0f}), 1e-5,
                   1e-6);
  }
  SUBCASE("exclude padding") {
    Pool2dAttrs a3 = k3, a2 = k2;
    a3.count_include_pad = a2.count_include_pad = false;
    BL_CHECK_CLOSE(avgpool2d(x6, a3).value(),
                   Tensor::from({1, 1, 4, 4}, {4.5f, 6.0f, 8.0f, 9.0f, 13.5f, 15.0f, 17.0f, 18.0f, 25.5f, 27.0f,
                                               29.0f, 30.0f, 31.5f, 33.0f, 35.0f, 36.0f}),
                   1e-5, 1e-6);
    BL_CHECK_CLOSE(avgpool2d(x5, a2).value(),
                   Tensor::from({1, 1, 3, 3}, {1.0f, 2.5f, 4.5f, 8.5f, 10.0f, 12.0f, 18.5f, 20.0f, 22.0f}), 1e-5,
                   1e-6);
  }
}

TEST_CASE("avgpool2d: gradcheck over kernel, stride, padding, ceil_mode, count_include_pad") {
  std::mt19937_64 rng(kSeed);
  for (bool include_pad : {true, false}) {
    for (const PoolCase& c : kPoolCases) {
      CAPTURE(c.x);
      CAPTURE(include_pad);
      Pool2dAttrs a = c.a;
      a.count_include_pad = include_pad;
      gradcheck([a](const std::vector<Var>& v) { return avgpool2d(v[0], a); }, {randn(c.x, rng)});
    }
  }
}

TEST_CASE("adaptive_avgpool2d: PyTorch bins, values and gradcheck") {
  // Expected values from torch.nn.functional.adaptive_avg_pool2d on arange(1, 16).view(1,1,3,5).
  Tape t;
  Var x = t.input(arange_plane(3, 5));
  BL_CHECK_CLOSE(adaptive_avgpool2d(x, 2, 3).value(),
                 Tensor::from({1, 1, 2, 3}, {4.0f, 5.5f, 7.0f, 9.0f, 10.5f, 12.0f}), 1e-6, 1e-6);
  BL_CHECK_CLOSE(adaptive_avgpool2d(x, 4, 7).value(),
                 Tensor::from({1, 1, 4, 7}, {1.0f,  1.5f,  2.5f,  3.0f,  3.5f,  4.5f,  5.0f,  3.5f,  4.0f,  5.0f,
                                             5.5f,  6.0f,  7.0f,  7.5f,  8.5f,  9.0f,  10.0f, 10.5f, 11.0f, 12.0f,
                                             12.5f, 11.0f, 11.5f, 12.5f, 13.0f, 13.5f, 14.5f, 15.0f}),
                 1e-6, 1e-6);
  std::mt19937_64 rng(kSeed);
  struct Case {
    Shape x;
    int64_t oh, ow;
  };
  const Case cases[] = {{{2, 3, 7, 7}, 3, 3}, {{1, 2, 5, 5}, 7, 7}, {{2, 2, 6, 6}, 1, 1}, {{1, 2, 7, 5}, 3, 7}};
  for (const Case& c : cases) {
    CAPTURE(c.x);
    CAPTURE(c.oh);
    const int64_t oh = c.oh, ow = c.ow;
    gradcheck([oh, ow](const std::vector<Var>& v) { return adaptive_avgpool2d(v[0], oh, ow); }, {randn(c.x, rng)});
  }
}

TEST_CASE("pool2d: bad shapes and attributes name the expectation") {
  Tape t;
  Var x3 = t.input(Tensor::zeros({3, 8, 8}));
  Var x = t.input(Tensor::zeros({1, 2, 4, 4}));
  const Pool2dAttrs k2{.kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2};
  CHECK_THROWS_WITH_AS(maxpool2d(x3, k2), doctest::Contains("maxpool2d: expected input [N,C,H,W], got [3,8,8]"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(avgpool2d(x3, k2), doctest::Contains("avgpool2d: expected input [N,C,H,W]"), ShapeError);
  CHECK_THROWS_WITH_AS(adaptive_avgpool2d(x3, 2, 2), doctest::Contains("adaptive_avgpool2d: expected input [N,C,H,W]"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(maxpool2d(x, {.kernel_h = 3, .kernel_w = 3, .pad_h = 2, .pad_w = 1}),
                       doctest::Contains("expected padding between 0 and half the kernel size, got padding 2x1"),
                       Error);
  CHECK_THROWS_WITH_AS(maxpool2d(x, {.kernel_h = 5, .kernel_w = 5}),
                       doctest::Contains("input [1,2,4,4] is too small for kernel 5x5"), ShapeError);
  CHECK_THROWS_WITH_AS(maxpool2d(x, {.kernel_h = 2, .kernel_w = 2, .stride_h = 0}),
                       doctest::Contains("expected stride >= 1, got 0x1"), Error);
  CHECK_THROWS_WITH_AS(avgpool2d(x, {.kernel_h = 2, .kernel_w = 2, .dilation_h = 2}),
                       doctest::Contains("avgpool2d: dilation is not supported"), Error);
  CHECK_THROWS_WITH_AS(adaptive_avgpool2d(x, 0, 3), doctest::Contains("expected output size >= 1x1, got 0x3"), Error);
  const Tensor g = Tensor::zeros({1, 2, 3, 3});
  CHECK_THROWS_WITH_AS(fn::avgpool2d_backward(g, x.shape(), k2, nullptr),
                       doctest::Contains("expected gradient [1,2,2,2], got [1,2,3,3]"), ShapeError);
}

}  // TEST_SUITE
