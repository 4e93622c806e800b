// Winograd F(2x2, 3x3): the three transforms against their matrix definitions, and
// forward_winograd / backward_input_winograd against the double-accumulating reference
// (conv_ref.h) over odd and even maps, maps smaller than one tile, paddings 0-3, channel counts
// that are not multiples of 6 or 16, batch 1 and 3, blocks that span rows and images, and more
// threads than blocks; then the dispatcher's choice on an eligible shape.
#include <cmath>
#include <random>

#include "engine/functional/conv_paths.h"
#include "engine/functional/conv_ref.h"
#include "engine/functional/winograd_math.h"
#include "engine/parallel.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;
namespace cp = backlight::fn::conv_paths;
namespace wg = backlight::fn::winograd;

namespace {

// The matrices of winograd_math.h, written out (double).
const double kBt[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
const double kG[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
const double kAt[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};

// L [r x k] X [k x k] R^T [k x c] in double (R given as [c x k]).
template <int R, int K, int C>
void sandwich(const double (&l)[R][K], const double (&x)[K][K], const double (&r)[C][K], double (&out)[R][C]) {
  for (int i = 0; i < R; ++i)
    for (int j = 0; j < C; ++j) {
      double s = 0;
      for (int a = 0; a < K; ++a)
        for (int b = 0; b < K; ++b) s += l[i][a] * x[a][b] * r[j][b];
      out[i][j] = s;
    }
}

float draw(std::mt19937_64& rng) { return std::normal_distribution<float>(0.0f, 1.0f)(rng); }

struct Case {
  const char* name;
  Shape x, w;
  Conv2dAttrs a;
};

// C and O avoid multiples of 6 (GEMM row panels) and 16 (column panels) except where noted.
const Case kCases[] = {
    {"2x2 map, pad 1 (one partial tile)", {1, 5, 2, 2}, {7, 5, 3, 3}, {.pad_h = 1, .pad_w = 1}},
    {"3x3 map, pad 0 (1x1 output)", {3, 17, 3, 3}, {5, 17, 3, 3}, {}},
    {"5x7, pad 1", {3, 5, 5, 7}, {17, 5, 3, 3}, {.pad_h = 1, .pad_w = 1}},
    {"5x7, pad 2", {1, 17, 5, 7}, {5, 17, 3, 3}, {.pad_h = 2, .pad_w = 2}},
    {"5x7, pad 0", {3, 5, 5, 7}, {17, 5, 3, 3}, {}},
    {"13x13, pad 1, O = 70", {3, 17, 13, 13}, {70, 17, 3, 3}, {.pad_h = 1, .pad_w = 1}},
    {"14x14, pad 1, C = 70", {1, 70, 14, 14}, {17, 70, 3, 3}, {.pad_h = 1, .pad_w = 1}},
    {"14x14, pad 1, batch 3, C = O = 32", {3, 32, 14, 14}, {32, 32, 3, 3}, {.pad_h = 1, .pad_w = 1}},
    {"56x9, pad 2", {1, 5, 56, 9}, {7, 5, 3, 3}, {.pad_h = 2, .pad_w = 2}},
    {"asymmetric pads 0x2", {3, 5, 6, 9}, {7, 5, 3, 3}, {.pad_h = 0, .pad_w = 2}},
    {"pad 3 (gradient crops)", {1, 5, 5, 6}, {7, 5, 3, 3}, {.pad_h = 3, .pad_w = 3}},
    {"wide row, 40 tiles per row", {1, 3, 7, 80}, {4, 3, 3, 3}, {.pad_h = 1, .pad_w = 1}},
};

using Schedule = cp::WinogradTiling::Schedule;
const cp::WinogradTiling kTilings[] = {
    {},                                                          // the plan's own choice
    {.schedule = Schedule::TileBlocks, .tiles_per_block = 5},    // blocks split rows and span images
    {.schedule = Schedule::TileBlocks, .tiles_per_block = 1000}, // one block: threads beyond it idle
    {.schedule = Schedule::WeightChunks},
    {.schedule = Schedule::WeightChunks, .chunk_rows = 6},       // many chunks, some of them short
};

// Tolerance relative to max |reference|. Each output is a sum of 9C products; the Winograd
// form adds them through 16 transformed products per channel pair, each term bounded by
// 4 |d| x 2.25 |g| (row sums of B^T and G), then 9 terms in the output transform. Float32
// rounding grows like sqrt(terms) for random signs: 1e-6 * sqrt(9C) of max |y| is 20x the
// largest error measured on these cases (4.5e-8 * sqrt(9C), the 2x2 map), and orders of
// magnitude below the effect of a wrong tap or a missing channel (~ 1/sqrt(C) of max |y|).
double tolerance(const Tensor& ref, int64_t c) {
  double m = 0;
  for (float v : ref.span()) m = std::max<double>(m, std::fabs(v));
  return 1e-6 * std::sqrt(9.0 * static_cast<double>(c)) * std::max(m, 1.0);
}

void check_case(const Case& c, int threads) {
  const std::string case_name = c.name;
  CAPTURE(case_name);
  CAPTURE(threads);
  std::mt19937_64 rng(kSeed);
  const fn::ConvGeometry g = fn::conv2d_geometry(c.x, c.w, c.a);
  REQUIRE(cp::winograd_applies(g));
  const Tensor x = randn(c.x, rng), w = randn(c.w, rng), b = randn({g.o}, rng);
  const Tensor gy = randn({g.n, g.o, g.oh, g.ow}, rng);
  const Tensor y_ref = fn::ref::conv2d_ref_forward(x, w, b, c.a);
  const Tensor y_ref_nobias = fn::ref::conv2d_ref_forward(x, w, Tensor(), c.a);
  const Tensor dx_ref = fn::ref::conv2d_ref_backward_input(gy, w, c.x, c.a);
  const double tol_y = tolerance(y_ref, g.c), tol_dx = tolerance(dx_ref, g.o);
  Workspace ws;
  const int saved = num_threads();
  set_num_threads(threads);
  for (const cp::WinogradTiling& t : kTilings) {
    CAPTURE(static_cast<int>(t.schedule));
    CAPTURE(t.tiles_per_block);
    CAPTURE(t.chunk_rows);
    Tensor y = Tensor::full(y_ref.shape(), 7.0f), dx = Tensor::full(c.x, 7.0f);  // overwritten fully
    cp::forward_winograd(x.data(), w.data(), b.data(), g, y.data(), &ws, t);
    BL_CHECK_CLOSE(y, y_ref, tol_y, 0.0);
    cp::forward_winograd(x.data(), w.data(), nullptr, g, y.data(), &ws, t);
    BL_CHECK_CLOSE(y, y_ref_nobias, tol_y, 0.0);
    cp::backward_input_winograd(gy.data(), w.data(), g, dx.data(), &ws, t);
    BL_CHECK_CLOSE(dx, dx_ref, tol_dx, 0.0);
  }
  set_num_threads(saved);
}

}  // namespace

TEST_SUITE("engine") {

TEST_CASE("winograd math: input transform is B^T d B") {
  std::mt19937_64 rng(kSeed);
  float d[4][4];
  double dd[4][4], want[4][4];
  for (int i = 0; i < 16; ++i) dd[i / 4][i % 4] = d[i / 4][i % 4] = draw(rng);
  float v[4][4];
  wg::input_transform(d, v);
  sandwich(kBt, dd, kBt, want);
  for (int i = 0; i < 16; ++i) CHECK(v[i / 4][i % 4] == doctest::Approx(want[i / 4][i % 4]).epsilon(1e-6));
}

TEST_CASE("winograd math: weight transform is G g G^T") {
  std::mt19937_64 rng(kSeed);
  float g[3][3];
  double gg[3][3], want[4][4];
  for (int i = 0; i < 9; ++i) gg[i / 3][i % 3] = g[i / 3][i % 3] = draw(rng);
  float u[4][4];
  wg::weight_transform(g, u);
  sandwich(kG, gg, kG, want);
  for (int i = 0; i < 16; ++i) CHECK(u[i / 4][i % 4] == doctest::Approx(want[i / 4][i % 4]).epsilon(1e-6));
}

TEST_CASE("winograd math: output transform is A^T m A") {
  std::mt19937_64 rng(kSeed);
  float m[4][4];
  double mm[4][4], want[2][2];
  for (int i = 0; i < 16; ++i) mm[i / 4][i % 4] = m[i / 4][i % 4] = draw(rng);
  float y[2][2];
  wg::output_transform(m, y);
  sandwich(kAt, mm, kAt, want);
  for (int i = 0; i < 4; ++i) CHECK(y[i / 2][i % 2] == doctest::Approx(want[i / 2][i % 2]).epsilon(1e-6));
}

TEST_CASE("winograd math: the three transforms compute a 2x2 block of the cross-correlation") {
  std::mt19937_64 rng(kSeed);
  float d[4][4], g[3][3];
  for (int i = 0; i < 16; ++i) d[i / 4][i % 4] = draw(rng);
  for (int i = 0; i < 9; ++i) g[i / 3][i % 3] = draw(rng);
  float v[4][4], u[4][4], m[4][4], y[2][2];
  wg::input_transform(d, v);
  wg::weight_transform(g, u);
  for (int i = 0; i < 16; ++i) m[i / 4][i % 4] = u[i / 4][i % 4] * v[i / 4][i % 4];
  wg::output_transform(m, y);
  for (int r = 0; r < 2; ++r)
    for (int s = 0; s < 2; ++s) {
      double want = 0;
      for (int i = 0; i < 3; ++i)
        for (int j = 0; j < 3; ++j) want += static_cast<double>(d[r + i][s + j]) * g[i][j];
      CAPTURE(r);
      CAPTURE(s);
      CHECK(y[r][s] == doctest::Approx(want).epsilon(1e-5).scale(10));
    }
}

TEST_CASE("conv2d winograd: forward and input gradient match the reference") {
  for (const Case& c : kCases)
    for (int threads : {1, 2, 3}) check_case(c, threads);
}

TEST_CASE("conv2d winograd: which geometries it takes") {
  const auto geo = [](Shape x, Shape w, Conv2dAttrs a) { return fn::conv2d_geometry(x, w, a); };
  CHECK(cp::winograd_applies(geo({1, 4, 5, 5}, {2, 4, 3, 3}, {.pad_h = 1, .pad_w = 1})));
  CHECK(cp::winograd_applies(geo({1, 4, 3, 3}, {2, 4, 3, 3}, {})));
  CHECK_FALSE(cp::winograd_applies(geo({1, 4, 5, 5}, {2, 4, 3, 3}, {.stride_h = 2, .pad_h = 1})));
  CHECK_FALSE(cp::winograd_applies(geo({1, 4, 9, 9}, {2, 4, 3, 3}, {.dilation_w = 2})));
  CHECK_FALSE(cp::winograd_applies(geo({1, 4, 5, 5}, {4, 2, 3, 3}, {.groups = 2})));
  CHECK_FALSE(cp::winograd_applies(geo({1, 4, 5, 5}, {2, 4, 1, 1}, {})));
  CHECK_FALSE(cp::winograd_applies(geo({1, 4, 5, 5}, {2, 4, 3, 5}, {})));
  CHECK_THROWS_WITH_AS(cp::forward_winograd(nullptr, nullptr, nullptr, geo({1, 4, 5, 5}, {2, 4, 1, 1}, {}), nullptr,
                                            nullptr),
                       doctest::Contains("needs a 3x3 kernel"), Error);
  CHECK_THROWS_WITH_AS(cp::backward_input_winograd(nullptr, nullptr, geo({1, 4, 5, 5}, {2, 4, 3, 3}, {.stride_h = 2}),
                                                   nullptr, nullptr),
                       doctest::Contains("needs a 3x3 kernel"), Error);
}

TEST_CASE("conv2d winograd: the dispatcher runs it on an eligible layer") {
  // 64 channels in and out, 3x3 stride 1: the public entry points must give the Winograd path's
  // own result, bit for bit, and match the reference.
  std::mt19937_64 rng(kSeed);
  const Conv2dAttrs a{.pad_h = 1, .pad_w = 1};
  const Tensor x = randn({2, 64, 10, 9}, rng), w = randn({64, 64, 3, 3}, rng), b = randn({64}, rng);
  const fn::ConvGeometry g = fn::conv2d_geometry(x.shape(), w.shape(), a);
  const Tensor gy = randn({g.n, g.o, g.oh, g.ow}, rng);
  Workspace ws;
  Tensor y_path = Tensor::empty({g.n, g.o, g.oh, g.ow}), dx_path = Tensor::empty(x.shape());
  cp::forward_winograd(x.data(), w.data(), b.data(), g, y_path.data(), &ws);
  cp::backward_input_winograd(gy.data(), w.data(), g, dx_path.data(), &ws);
  const Tensor y = fn::conv2d_forward(x, w, b, a, &ws);
  const Tensor dx = fn::conv2d_backward_input(gy, w, x.shape(), a, &ws);
  BL_CHECK_CLOSE(y, y_path, 0.0, 0.0);
  BL_CHECK_CLOSE(dx, dx_path, 0.0, 0.0);
  const Tensor y_ref = fn::ref::conv2d_ref_forward(x, w, b, a);
  const Tensor dx_ref = fn::ref::conv2d_ref_backward_input(gy, w, x.shape(), a);
  BL_CHECK_CLOSE(y, y_ref, tolerance(y_ref, g.c), 0.0);
  BL_CHECK_CLOSE(dx, dx_ref, tolerance(dx_ref, g.o), 0.0);
}

TEST_CASE("conv2d winograd: calls from inside a parallel region run on the calling thread") {
  std::mt19937_64 rng(kSeed);
  const Conv2dAttrs a{.pad_h = 1, .pad_w = 1};
  const Tensor x = randn({2, 20, 9, 9}, rng), w = randn({18, 20, 3, 3}, rng), gy = randn({2, 18, 9, 9}, rng);
  const fn::ConvGeometry g = fn::conv2d_geometry(x.shape(), w.shape(), a);
  const Tensor y_ref = fn::ref::conv2d_ref_forward(x, w, Tensor(), a);
  const Tensor dx_ref = fn::ref::conv2d_ref_backward_input(gy, w, x.shape(), a);
  Tensor y[2], dx[2];
#pragma omp parallel for num_threads(2)
  for (int i = 0; i < 2; ++i) {
    Workspace ws;
    y[i] = Tensor::empty(y_ref.shape());
    dx[i] = Tensor::empty(x.shape());
    cp::forward_winograd(x.data(), w.data(), nullptr, g, y[i].data(), &ws,
                         {.schedule = Schedule::TileBlocks, .tiles_per_block = 4});
    cp::backward_input_winograd(gy.data(), w.data(), g, dx[i].data(), &ws, {.schedule = Schedule::WeightChunks});
  }
  for (int i = 0; i < 2; ++i) {
    BL_CHECK_CLOSE(y[i], y_ref, tolerance(y_ref, g.c), 0.0);
    BL_CHECK_CLOSE(dx[i], dx_ref, tolerance(dx_ref, g.o), 0.0);
  }
}

}  // TEST_SUITE
