// Batch invariance of the CPU linear (engine/functional/linear.cpp): a row's output and its
// input gradient are bit-identical (memcmp) whether the row is computed alone or at any position
// of a batch of any size, at any thread count. Occlusion and ablation subtract a batched forward
// from the unperturbed one, so an unchanged row has to give exactly 0 (the CLI's token-occlusion
// test: occluding a padding token by itself). Shapes are odd on purpose: rows 1..13 (6-row panels
// with edges, below and above the old 8-row matrix-vector switch), in-features across K blocks
// and not multiples of 8/16, out-features with 8-wide and masked tails, bias on and off, ranks
// 2, 3 and 4, and batches past the 192-row blocks that threads split.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "engine/functional/linear.h"
#include "engine/parallel.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

// Shape of `rows` rows of `features` at rank 2, 3 or 4: the rows sit in the first dimension, the
// others are 1 (how the row is spread over the leading dims does not matter to linear).
Shape rows_shape(int rank, int64_t rows, int64_t features) {
  std::vector<int64_t> d(static_cast<size_t>(rank), 1);
  d.front() = rows;
  d.back() = features;
  return Shape(d);
}

// Rows [0, rows) of a [max_rows, f] tensor, reshaped to rank `rank`.
Tensor first_rows(const Tensor& t, int rank, int64_t rows) {
  return t.slice_batch(0, rows).clone().reshape(rows_shape(rank, rows, t.size(1)));
}

// Empty when row r of `batched` ([rows, f] after reshape) has the bytes of `alone` ([1, f]).
bool same_row(const Tensor& batched, int64_t r, const Tensor& alone) {
  const int64_t f = alone.numel();
  return std::memcmp(batched.data() + r * f, alone.data(), sizeof(float) * static_cast<size_t>(f)) == 0;
}

// Largest |difference| of row r against the row alone, for the failure message.
double row_diff(const Tensor& batched, int64_t r, const Tensor& alone) {
  double worst = 0;
  for (int64_t j = 0; j < alone.numel(); ++j)
    worst = std::max(worst, std::fabs(static_cast<double>(batched.data()[r * alone.numel() + j]) - alone.data()[j]));
  return worst;
}

// Restores the caller's OpenMP thread count.
struct ThreadsGuard {
  int saved = num_threads();
  ~ThreadsGuard() { set_num_threads(saved); }
};

// Every row of a batch of `rows` (x, g: [>= rows, f]) against the rows alone (y1, dx1: computed
// one row at a time at rank `rank`).
void check_batch(const Tensor& x, const Tensor& g, const Tensor& w, const Tensor& b, int rank, int64_t rows,
                 const std::vector<Tensor>& y1, const std::vector<Tensor>& dx1, Workspace& ws) {
  const Tensor xb = first_rows(x, rank, rows), gb = first_rows(g, rank, rows);
  const Tensor y = fn::linear_forward(xb, w, b, &ws);
  const Tensor dx = fn::linear_backward_input(gb, w, xb.shape(), &ws);
  for (int64_t r = 0; r < rows; ++r) {
    CAPTURE(r);
    CHECK_MESSAGE(same_row(y, r, y1[r]), "forward row differs from the row alone by ", row_diff(y, r, y1[r]));
    CHECK_MESSAGE(same_row(dx, r, dx1[r]), "input gradient row differs from the row alone by ",
                  row_diff(dx, r, dx1[r]));
  }
}

// Each row of x / g computed alone, on one thread: the reference check_batch compares against.
void rows_alone(const Tensor& x, const Tensor& g, const Tensor& w, const Tensor& b, int rank, const Workspace& ws,
                std::vector<Tensor>& y1, std::vector<Tensor>& dx1) {
  set_num_threads(1);
  const int64_t in = x.size(1), out = g.size(1);
  for (int64_t r = 0; r < x.size(0); ++r) {
    const Tensor xr = x.slice_batch(r, r + 1).clone().reshape(rows_shape(rank, 1, in));
    const Tensor gr = g.slice_batch(r, r + 1).clone().reshape(rows_shape(rank, 1, out));
    y1.push_back(fn::linear_forward(xr, w, b, &ws));
    dx1.push_back(fn::linear_backward_input(gr, w, xr.shape(), &ws));
  }
}
}  // namespace

TEST_SUITE("engine") {

TEST_CASE("linear: a row's output and input gradient are bit-identical alone and in any batch, any thread count") {
  const ThreadsGuard guard;
  std::mt19937_64 rng(kSeed);
  constexpr int64_t kRows = 13;
  // in: 1, below a vector, odd, one K block past 256 (two blocks of 132 + 125), three blocks;
  // out: 1, < 8 (masked 8-wide kernel), 8, 13, 16 + 8 tail, 16 + 13, 4 panels + 6.
  for (const int64_t in : {1, 3, 17, 37, 257, 600})
    for (const int64_t out : {1, 5, 8, 13, 24, 29, 70})
      for (const bool with_bias : {false, true}) {
        CAPTURE(in);
        CAPTURE(out);
        CAPTURE(with_bias);
        const Tensor w = randn({out, in}, rng), b = with_bias ? randn({out}, rng) : Tensor();
        const Tensor x = randn({kRows, in}, rng), g = randn({kRows, out}, rng);
        Workspace ws;
        for (const int rank : {2, 3, 4}) {
          CAPTURE(rank);
          std::vector<Tensor> y1, dx1;
          rows_alone(x, g, w, b, rank, ws, y1, dx1);
          for (const int threads : {1, 2, 3}) {
            CAPTURE(threads);
            set_num_threads(threads);
            for (int64_t rows = 1; rows <= kRows; ++rows) {
              CAPTURE(rows);
              check_batch(x, g, w, b, rank, rows, y1, dx1, ws);
            }
          }
        }
      }
}

TEST_CASE("linear: batch invariance across the 192-row blocks that threads split") {
  const ThreadsGuard guard;
  std::mt19937_64 rng(kSeed + 1);
  constexpr int64_t kRows = 401;  // 3 row blocks, the last one partial
  const int64_t in = 385, out = 97;
  const Tensor w = randn({out, in}, rng), b = randn({out}, rng);
  const Tensor x = randn({kRows, in}, rng), g = randn({kRows, out}, rng);
  Workspace ws;
  for (const int rank : {2, 3, 4}) {
    CAPTURE(rank);
    std::vector<Tensor> y1, dx1;
    rows_alone(x, g, w, b, rank, ws, y1, dx1);
    for (const int threads : {1, 2, 4}) {
      CAPTURE(threads);
      set_num_threads(threads);
      for (const int64_t rows : {int64_t{193}, kRows}) {
        CAPTURE(rows);
        check_batch(x, g, w, b, rank, rows, y1, dx1, ws);
      }
    }
  }
}

}  // TEST_SUITE
