// Every CPU convolution path (engine/functional/conv_paths.h) against the naive double-accumulating
// reference (engine/functional/conv_ref.h): pointwise, depthwise, grouped, strided, dilated,
// asymmetric padding, tiles that split an image or span several images, 1 and 2 threads.
#include <algorithm>
#include <cmath>
#include <limits>
#include <random>

#include "engine/functional/conv_paths.h"
#include "engine/functional/conv_ref.h"
#include "engine/parallel.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;
namespace cp = backlight::fn::conv_paths;

namespace {

struct ConvCase {
  const char* name;
  Shape x, w;
  Conv2dAttrs a;
};

// Shapes chosen so that default tiles, forced small tiles and multi-image tiles all occur.
const ConvCase kCases[] = {
    {"3x3 s1 p1", {2, 5, 9, 11}, {7, 5, 3, 3}, {.pad_h = 1, .pad_w = 1}},
    {"3x3 s1 p0 (valid)", {3, 4, 8, 7}, {6, 4, 3, 3}, {}},
    {"pointwise", {3, 6, 5, 7}, {4, 6, 1, 1}, {}},
    {"pointwise s2 (downsample)", {2, 6, 9, 8}, {5, 6, 1, 1}, {.stride_h = 2, .stride_w = 2}},
    {"7x7 s2 p3 (stem)", {2, 3, 17, 15}, {8, 3, 7, 7}, {.stride_h = 2, .stride_w = 2, .pad_h = 3, .pad_w = 3}},
    {"3x3 s2 p1", {3, 4, 10, 9}, {6, 4, 3, 3}, {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1}},
    {"strides 2x3, pads 1x2", {1, 2, 8, 7}, {3, 2, 3, 2}, {.stride_h = 2, .stride_w = 3, .pad_h = 1, .pad_w = 2}},
    {"dilated 2x3", {2, 2, 9, 9}, {3, 2, 3, 3}, {.pad_h = 2, .pad_w = 1, .dilation_h = 2, .dilation_w = 3}},
    {"dilated, pad > dil*(k-1)", {1, 2, 6, 6}, {3, 2, 2, 2}, {.pad_h = 3, .pad_w = 2, .dilation_h = 2}},
    {"grouped 2", {2, 4, 6, 6}, {6, 2, 3, 3}, {.pad_h = 1, .pad_w = 1, .groups = 2}},
    {"grouped 3, strided", {2, 6, 7, 8}, {9, 2, 3, 3}, {.stride_h = 2, .stride_w = 2, .pad_h = 1, .groups = 3}},
    {"depthwise", {2, 3, 7, 6}, {3, 1, 3, 3}, {.pad_h = 1, .pad_w = 1, .groups = 3}},
    {"depthwise x2 s2", {1, 3, 8, 8}, {6, 1, 3, 3}, {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .groups = 3}},
    {"depthwise 7x7 p3 (ConvNeXt)", {2, 4, 9, 11}, {4, 1, 7, 7}, {.pad_h = 3, .pad_w = 3, .groups = 4}},
    {"depthwise 5x5 s2 p2 (EfficientNet)", {1, 5, 11, 12}, {5, 1, 5, 5},
     {.stride_h = 2, .stride_w = 2, .pad_h = 2, .pad_w = 2, .groups = 5}},
    {"depthwise dilated, strides 1x3, pads 0x4", {1, 2, 9, 10}, {4, 1, 3, 2},
     {.stride_w = 3, .pad_w = 4, .dilation_h = 2, .dilation_w = 3, .groups = 2}},
    {"depthwise, kernel wider than the map", {1, 3, 3, 2}, {3, 1, 5, 5}, {.pad_h = 2, .pad_w = 2, .groups = 3}},
    // Maps wider than two SIMD packets (tails, several blocks per row), strides 2 and 3, 3x3 / 5x5 / 7x7.
    {"depthwise 3x3 p1 on 37x45", {2, 3, 37, 45}, {3, 1, 3, 3}, {.pad_h = 1, .pad_w = 1, .groups = 3}},
    {"depthwise 3x3 s2 p1 on 40x41", {1, 4, 40, 41}, {4, 1, 3, 3},
     {.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1, .groups = 4}},
    {"depthwise 5x5 s2 p2 on 35x70, x2", {1, 2, 35, 70}, {4, 1, 5, 5},
     {.stride_h = 2, .stride_w = 2, .pad_h = 2, .pad_w = 2, .groups = 2}},
    {"depthwise 7x7 p3 on 20x33", {2, 3, 20, 33}, {3, 1, 7, 7}, {.pad_h = 3, .pad_w = 3, .groups = 3}},
    // ConvNeXt's stages: rows in groups of 8 or 4 plus a smaller last group, half-width packets
    // on narrow maps (7 wide), channel multiplier with accumulation in the backward pass.
    {"depthwise 7x7 p3 on 7x7", {2, 3, 7, 7}, {3, 1, 7, 7}, {.pad_h = 3, .pad_w = 3, .groups = 3}},
    {"depthwise 7x7 p3 on 14x14", {1, 2, 14, 14}, {2, 1, 7, 7}, {.pad_h = 3, .pad_w = 3, .groups = 2}},
    {"depthwise 7x7 p3 on 19x3, x2", {1, 2, 19, 3}, {4, 1, 7, 7}, {.pad_h = 3, .pad_w = 3, .groups = 2}},
    {"depthwise 3x3 p1 on 11x5, x3", {1, 2, 11, 5}, {6, 1, 3, 3}, {.pad_h = 1, .pad_w = 1, .groups = 2}},
    {"depthwise 7x7 p3 on 30x28", {1, 2, 30, 28}, {2, 1, 7, 7}, {.pad_h = 3, .pad_w = 3, .groups = 2}},
    {"depthwise 3x3 s3 p0, 2x1 dilation on 31x50", {1, 2, 31, 50}, {2, 1, 3, 3},
     {.stride_h = 3, .stride_w = 3, .dilation_h = 2, .groups = 2}},
    {"batch 5, 3x3 on 4x4", {5, 8, 4, 4}, {8, 8, 3, 3}, {.pad_h = 1, .pad_w = 1}},
    // One image, 3 channels: col2im splits output columns over threads into private dx copies.
    {"stem, batch 1", {1, 3, 30, 30}, {8, 3, 7, 7}, {.stride_h = 2, .stride_w = 2, .pad_h = 3, .pad_w = 3}},
    {"RGB 3x3, batch 1 (col2im preferred)", {1, 3, 20, 20}, {16, 3, 3, 3}, {.pad_h = 1, .pad_w = 1}},
    // One image, one tile: threads share the packed B and split the output channels.
    {"batch 1, 7x7 map, K > 256", {1, 32, 7, 7}, {30, 32, 3, 3}, {.pad_h = 1, .pad_w = 1}},
    {"batch 1, pointwise, 40 channels", {1, 40, 6, 6}, {40, 40, 1, 1}, {}},
};

const cp::GemmTiling kTilings[] = {
    {},                                             // the dispatcher's choice
    {.target_cols = 5, .max_images_per_tile = 1},   // tiles split images mid-row
    {.target_cols = 1000},                          // whole images, several per tile
    {.target_cols = 40, .max_images_per_tile = 2},  // at most two images per tile
};

Tensor rand_like_shape(const Shape& s, std::mt19937_64& rng) { return randn(s, rng); }

void check_paths(const ConvCase& c, int threads) {
  const std::string case_name = c.name;
  CAPTURE(case_name);
  CAPTURE(threads);
  std::mt19937_64 rng(kSeed);
  const fn::ConvGeometry g = fn::conv2d_geometry(c.x, c.w, c.a);
  const Tensor x = rand_like_shape(c.x, rng), w = rand_like_shape(c.w, rng), b = rand_like_shape({g.o}, rng);
  const Tensor gy = rand_like_shape({g.n, g.o, g.oh, g.ow}, rng);
  const Tensor y_ref = fn::ref::conv2d_ref_forward(x, w, b, c.a);
  const Tensor y_ref_nobias = fn::ref::conv2d_ref_forward(x, w, Tensor(), c.a);
  const Tensor dx_ref = fn::ref::conv2d_ref_backward_input(gy, w, c.x, c.a);
  const Tensor dw_ref = fn::ref::conv2d_ref_backward_weight(gy, x, c.w, c.a);
  const double atol = 1e-4, rtol = 1e-4;
  Workspace ws;
  const int saved = num_threads();
  set_num_threads(threads);

  // Public entry points (whatever path the dispatcher picks).
  BL_CHECK_CLOSE(fn::conv2d_forward(x, w, b, c.a, &ws), y_ref, atol, rtol);
  BL_CHECK_CLOSE(fn::conv2d_backward_input(gy, w, c.x, c.a, &ws), dx_ref, atol, rtol);
  BL_CHECK_CLOSE(fn::conv2d_backward_weight(gy, x, c.w, c.a, &ws), dw_ref, 1e-3, 1e-4);

  if (cp::is_depthwise(g)) {
    Tensor y = Tensor::full(y_ref.shape(), 7.0f), dx = Tensor::full(c.x, 7.0f);  // overwritten fully
    cp::forward_depthwise(x.data(), w.data(), b.data(), g, y.data());
    BL_CHECK_CLOSE(y, y_ref, atol, rtol);
    cp::backward_input_depthwise(gy.data(), w.data(), g, dx.data());
    BL_CHECK_CLOSE(dx, dx_ref, atol, rtol);
    for (const bool simd : {false, true}) {
      CAPTURE(simd);
      std::fill(y.span().begin(), y.span().end(), 7.0f);
      std::fill(dx.span().begin(), dx.span().end(), 7.0f);
      if (simd) cp::forward_depthwise_simd(x.data(), w.data(), b.data(), g, y.data());
      else cp::forward_depthwise_direct(x.data(), w.data(), b.data(), g, y.data());
      BL_CHECK_CLOSE(y, y_ref, atol, rtol);
      if (simd && !cp::depthwise_simd_applies(g, w.data(), true)) continue;
      if (simd) cp::backward_input_depthwise_simd(gy.data(), w.data(), g, dx.data());
      else cp::backward_input_depthwise_direct(gy.data(), w.data(), g, dx.data());
      BL_CHECK_CLOSE(dx, dx_ref, atol, rtol);
    }
  } else {
    for (const cp::GemmTiling& t : kTilings) {
      CAPTURE(t.target_cols);
      CAPTURE(t.max_images_per_tile);
      Tensor y = Tensor::full(y_ref.shape(), 7.0f);
      cp::forward_gemm(x.data(), w.data(), b.data(), g, y.data(), &ws, t);
      BL_CHECK_CLOSE(y, y_ref, atol, rtol);
      cp::forward_gemm(x.data(), w.data(), nullptr, g, y.data(), &ws, t);
      BL_CHECK_CLOSE(y, y_ref_nobias, atol, rtol);
      if (cp::flipped_backward_applies(g)) {
        Tensor dx = Tensor::full(c.x, 7.0f);
        cp::backward_input_flipped(gy.data(), w.data(), g, dx.data(), &ws, t);
        BL_CHECK_CLOSE(dx, dx_ref, atol, rtol);
      }
    }
    Tensor dx = Tensor::full(c.x, 7.0f);
    cp::backward_input_col2im(gy.data(), w.data(), g, dx.data(), &ws);
    BL_CHECK_CLOSE(dx, dx_ref, atol, rtol);
  }
  set_num_threads(saved);
}

}  // namespace

TEST_SUITE("engine") {

TEST_CASE("conv2d paths: every path matches the double-accumulating reference") {
  for (const ConvCase& c : kCases)
    for (int threads : {1, 2}) check_paths(c, threads);
}

TEST_CASE("conv2d paths: depthwise with a non-finite weight keeps the direct loops (no 0 x Inf in the padding)") {
  std::mt19937_64 rng(kSeed);
  const Conv2dAttrs a{.pad_h = 1, .pad_w = 1, .groups = 3};
  const Tensor x = randn({1, 3, 6, 40}, rng), b = randn({3}, rng), gy = randn({1, 3, 6, 40}, rng);
  Tensor w = randn({3, 1, 3, 3}, rng);
  const fn::ConvGeometry g = fn::conv2d_geometry(x.shape(), w.shape(), a);
  CHECK(cp::depthwise_simd_applies(g, w.data(), false));
  CHECK(cp::depthwise_simd_applies(g, w.data(), true));
  w.data()[0] = std::numeric_limits<float>::infinity();  // channel 0, tap (0, 0)
  CHECK_FALSE(cp::depthwise_simd_applies(g, w.data(), false));
  CHECK_FALSE(cp::depthwise_simd_applies(g, w.data(), true));
  CHECK_THROWS_WITH_AS(cp::forward_depthwise_simd(x.data(), w.data(), b.data(), g, nullptr),
                       doctest::Contains("finite weights"), Error);
  Tensor y = Tensor::empty({1, 3, 6, 40}), y_direct = Tensor::empty({1, 3, 6, 40});
  cp::forward_depthwise(x.data(), w.data(), b.data(), g, y.data());
  cp::forward_depthwise_direct(x.data(), w.data(), b.data(), g, y_direct.data());
  // Output row 0 never reads input row -1 through the Inf tap: finite, as in PyTorch.
  for (int64_t ox = 0; ox < 40; ++ox) CHECK(std::isfinite(y.data()[ox]));
  for (int64_t i = 0; i < y.numel(); ++i)
    CHECK((y.data()[i] == y_direct.data()[i] || (std::isnan(y.data()[i]) && std::isnan(y_direct.data()[i]))));
  // Backward: a padding wider than (k-1)*d has no SIMD form either.
  const Tensor w2 = randn({3, 1, 3, 3}, rng);
  CHECK_FALSE(cp::depthwise_simd_applies(fn::conv2d_geometry({1, 3, 6, 6}, w2.shape(), {.pad_h = 3, .groups = 3}),
                                         w2.data(), true));
}

TEST_CASE("conv2d paths: which path the dispatcher may take") {
  const auto geo = [](Shape x, Shape w, Conv2dAttrs a) { return fn::conv2d_geometry(x, w, a); };
  CHECK(cp::is_pointwise(geo({1, 4, 5, 5}, {2, 4, 1, 1}, {})));
  CHECK_FALSE(cp::is_pointwise(geo({1, 4, 5, 5}, {2, 4, 1, 1}, {.stride_h = 2, .stride_w = 2})));
  CHECK(cp::is_depthwise(geo({1, 4, 5, 5}, {8, 1, 3, 3}, {.groups = 4})));
  CHECK(cp::flipped_backward_applies(geo({1, 4, 5, 5}, {2, 4, 3, 3}, {.pad_h = 1, .pad_w = 1})));
  CHECK_FALSE(cp::flipped_backward_applies(geo({1, 4, 5, 5}, {2, 4, 3, 3}, {.stride_h = 2, .pad_h = 1})));
  CHECK(cp::flipped_backward_applies(geo({1, 4, 5, 5}, {2, 4, 1, 1}, {.pad_h = 1})));  // any padding
  CHECK_FALSE(cp::flipped_backward_applies(geo({1, 4, 5, 5}, {4, 1, 3, 3}, {.groups = 4})));
  CHECK_THROWS_WITH_AS(cp::backward_input_flipped(nullptr, nullptr, geo({1, 4, 5, 5}, {2, 4, 3, 3}, {.stride_h = 2}),
                                                  nullptr, nullptr),
                       doctest::Contains("needs stride 1"), Error);
}

TEST_CASE("conv2d paths: calls from inside a parallel region run on the calling thread") {
  // Attribution code may run several tapes in threads; nested convs must stay correct.
  std::mt19937_64 rng(kSeed);
  const Conv2dAttrs a{.stride_h = 2, .stride_w = 2, .pad_h = 1, .pad_w = 1};
  const Tensor x = randn({2, 4, 9, 9}, rng), w = randn({6, 4, 3, 3}, rng), gy = randn({2, 6, 5, 5}, rng);
  const Tensor y_ref = fn::ref::conv2d_ref_forward(x, w, Tensor(), a);
  const Tensor dx_ref = fn::ref::conv2d_ref_backward_input(gy, w, x.shape(), a);
  Tensor y[2], dx[2];
#pragma omp parallel for num_threads(2)
  for (int i = 0; i < 2; ++i) {
    Workspace ws;
    y[i] = fn::conv2d_forward(x, w, Tensor(), a, &ws);
    dx[i] = fn::conv2d_backward_input(gy, w, x.shape(), a, &ws);
  }
  for (int i = 0; i < 2; ++i) {
    BL_CHECK_CLOSE(y[i], y_ref, 1e-4, 1e-4);
    BL_CHECK_CLOSE(dx[i], dx_ref, 1e-4, 1e-4);
  }
}

TEST_CASE("conv2d paths: bias gradient sums over batch and positions") {
  std::mt19937_64 rng(kSeed);
  const Tensor gy = randn({3, 4, 5, 6}, rng);
  Tensor want = Tensor::zeros({4});
  for (int64_t n = 0; n < 3; ++n)
    for (int64_t o = 0; o < 4; ++o)
      for (int64_t k = 0; k < 30; ++k) want.data()[o] += gy.data()[(n * 4 + o) * 30 + k];
  BL_CHECK_CLOSE(fn::conv2d_backward_bias(gy, nullptr), want, 1e-4, 1e-5);
}

}  // TEST_SUITE

TEST_SUITE("engine") {

// Every convolution of torchvision's wide_resnet50_2 at a 64x64 input (batch 1): the dense 3x3
// layers with 128-1024 channels that no other test reaches, through the dispatcher (measured:
// forward and input gradient within 5e-7 of max |reference| on every shape). Written while
// chasing the model's 5e-3 saliency gap in docs/models.md's sweep, which turned out to be one
// ReLU gate within float32 rounding of zero, not a kernel.
TEST_CASE("conv2d paths: wide_resnet50_2 layers at 64x64 match the reference") {
  struct Layer {
    int64_t c, o, hw;
    int k, stride;
  };
  const Layer layers[] = {
      {128, 128, 16, 3, 1}, {256, 256, 16, 3, 2}, {256, 256, 8, 3, 1},   {512, 512, 8, 3, 2},
      {512, 512, 4, 3, 1},  {1024, 1024, 4, 3, 2}, {1024, 1024, 2, 3, 1}, {2048, 1024, 2, 1, 1},
      {1024, 2048, 2, 1, 1}, {1024, 2048, 4, 1, 2},
  };
  for (const Layer& l : layers)
    for (int threads : {1, 2}) {
      CAPTURE(l.c);
      CAPTURE(l.o);
      CAPTURE(l.hw);
      CAPTURE(l.stride);
      CAPTURE(threads);
      std::mt19937_64 rng(kSeed);
      const Conv2dAttrs a{.stride_h = l.stride, .stride_w = l.stride, .pad_h = l.k / 2, .pad_w = l.k / 2};
      const Shape xs{1, l.c, l.hw, l.hw}, ws_shape{l.o, l.c, l.k, l.k};
      const fn::ConvGeometry g = fn::conv2d_geometry(xs, ws_shape, a);
      const Tensor x = randn(xs, rng), w = randn(ws_shape, rng), gy = randn({1, l.o, g.oh, g.ow}, rng);
      const Tensor y_ref = fn::ref::conv2d_ref_forward(x, w, Tensor(), a);
      const Tensor dx_ref = fn::ref::conv2d_ref_backward_input(gy, w, xs, a);
      Workspace ws;
      const int saved = num_threads();
      set_num_threads(threads);
      const Tensor y = fn::conv2d_forward(x, w, Tensor(), a, &ws);
      const Tensor dx = fn::conv2d_backward_input(gy, w, xs, a, &ws);
      set_num_threads(saved);
      auto rel = [](const Tensor& got, const Tensor& want) {
        double e = 0;
        for (int64_t i = 0; i < got.numel(); ++i)
          e = std::max(e, std::fabs(static_cast<double>(got.data()[i]) - want.data()[i]));
        return e / max_abs(want);
      };
      CHECK(rel(y, y_ref) < 1e-5);
      CHECK(rel(dx, dx_ref) < 1e-5);
    }
}

}  // TEST_SUITE
