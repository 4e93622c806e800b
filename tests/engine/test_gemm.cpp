// fn::gemm (the conv/dense GEMM kernel) and the dense linear paths against double-accumulating
// references: every micro-kernel edge (rows mod 6, columns mod 16 and <= 8, K across blocks of
// 256), transposed A, bias, accumulate; linear's few-rows (< 8) and row-blocked paths.
#include <array>
#include <random>
#include <vector>

#include "engine/functional/gemm.h"
#include "engine/functional/linear.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

// C = A B (+ bias) in double; A given row-major [m, k].
Tensor gemm_ref(const Tensor& a, const Tensor& b, const float* bias) {
  const int64_t m = a.size(0), k = a.size(1), n = b.size(1);
  Tensor c = Tensor::empty({m, n});
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      double s = bias ? bias[i] : 0.0;
      for (int64_t p = 0; p < k; ++p) s += static_cast<double>(a.data()[i * k + p]) * b.data()[p * n + j];
      c.data()[i * n + j] = static_cast<float>(s);
    }
  return c;
}

Tensor transpose(const Tensor& a) {
  const int64_t r = a.size(0), c = a.size(1);
  Tensor t = Tensor::empty({c, r});
  for (int64_t i = 0; i < r; ++i)
    for (int64_t j = 0; j < c; ++j) t.data()[j * r + i] = a.data()[i * c + j];
  return t;
}

}  // namespace

TEST_SUITE("engine") {

TEST_CASE("gemm: matches the reference on every edge of the blocking") {
  std::mt19937_64 rng(kSeed);
  const int64_t ms[] = {1, 5, 6, 7, 13, 64};
  const int64_t ns[] = {1, 8, 9, 16, 17, 49, 70, 100};
  const int64_t ks[] = {1, 3, 256, 300, 600};
  for (int64_t m : ms)
    for (int64_t n : ns)
      for (int64_t k : ks) {
        CAPTURE(m);
        CAPTURE(n);
        CAPTURE(k);
        const Tensor a = randn({m, k}, rng), b = randn({k, n}, rng), bias = randn({m}, rng);
        const Tensor at = transpose(a);
        Tensor scratch = Tensor::empty({fn::gemm::scratch_floats(n, k)});
        // C embedded in a wider matrix (ldc = n + 3) to check that nothing outside is written.
        const int64_t ldc = n + 3;
        for (const bool trans : {false, true}) {
          CAPTURE(trans);
          const fn::gemm::MatrixA A = trans ? fn::gemm::MatrixA{at.data(), m, true} : fn::gemm::MatrixA{a.data(), k};
          Tensor c = Tensor::full({m, ldc}, 9.0f);
          fn::gemm::gemm(m, n, k, A, fn::gemm::rows_of(b.data(), n, n), c.data(), ldc, bias.data(), false,
                         scratch.data());
          Tensor want = gemm_ref(a, b, bias.data());
          Tensor got = Tensor::empty({m, n});
          bool outside_untouched = true;
          for (int64_t i = 0; i < m; ++i) {
            for (int64_t j = 0; j < n; ++j) got.data()[i * n + j] = c.data()[i * ldc + j];
            for (int64_t j = n; j < ldc; ++j) outside_untouched &= c.data()[i * ldc + j] == 9.0f;
          }
          CHECK(outside_untouched);
          const double tol = 1e-5 * std::sqrt(static_cast<double>(k));
          BL_CHECK_CLOSE(got, want, tol, 1e-5);
          // accumulate: C += A B (bias ignored)
          fn::gemm::gemm(m, n, k, A, fn::gemm::rows_of(b.data(), n, n), c.data(), ldc, bias.data(), true,
                         scratch.data());
          const Tensor ab = gemm_ref(a, b, nullptr);
          for (int64_t i = 0; i < m; ++i)
            for (int64_t j = 0; j < n; ++j) {
              got.data()[i * n + j] = c.data()[i * ldc + j];
              want.data()[i * n + j] += ab.data()[i * n + j];
            }
          BL_CHECK_CLOSE(got, want, 2 * tol, 1e-5);
        }
      }
}

TEST_CASE("gemm: blocked A (a conv weight read as A[c, (o, tap)])") {
  std::mt19937_64 rng(kSeed);
  for (const int64_t blk : {1, 4, 9, 49})
    for (const int64_t n : {7, 40, 100})  // in place (n <= 64) and packed
      for (const int64_t o : {3, 40}) {
        const int64_t m = 7, k = o * blk;  // k crosses the 256-deep blocks off the tap boundary
        CAPTURE(blk);
        CAPTURE(n);
        CAPTURE(o);
        const Tensor w = randn({o, m, blk}, rng), b = randn({k, n}, rng);
        Tensor a = Tensor::empty({m, k});  // a[i, q*blk + r] = w[q, i, r]
        for (int64_t i = 0; i < m; ++i)
          for (int64_t q = 0; q < o; ++q)
            for (int64_t r = 0; r < blk; ++r) a.data()[i * k + q * blk + r] = w.data()[(q * m + i) * blk + r];
        Tensor scratch = Tensor::empty({fn::gemm::scratch_floats(n, k)});
        Tensor c = Tensor::empty({m, n});
        fn::gemm::gemm(m, n, k, fn::gemm::MatrixA{w.data(), m * blk, false, blk}, fn::gemm::rows_of(b.data(), n, n),
                       c.data(), n, nullptr, false, scratch.data());
        BL_CHECK_CLOSE(c, gemm_ref(a, b, nullptr), 1e-5 * std::sqrt(static_cast<double>(k)), 1e-5);
      }
}

TEST_CASE("gemm: pre-packed A equals A read in place (all layouts)") {
  std::mt19937_64 rng(kSeed);
  const int64_t m = 13, k = 300, n = 70, blk = 3;  // k = 100 blocks of 3
  const Tensor a = randn({m, k}, rng), b = randn({k, n}, rng);
  const Tensor at = transpose(a);
  Tensor wblk = Tensor::empty({k / blk, m, blk});  // blocked layout of the same A
  for (int64_t i = 0; i < m; ++i)
    for (int64_t p = 0; p < k; ++p) wblk.data()[((p / blk) * m + i) * blk + p % blk] = a.data()[i * k + p];
  const Tensor want = gemm_ref(a, b, nullptr);
  const fn::gemm::MatrixA layouts[] = {{a.data(), k}, {at.data(), m, true}, {wblk.data(), m * blk, false, blk}};
  Tensor scratch = Tensor::empty({fn::gemm::scratch_floats(n, k)});
  for (const fn::gemm::MatrixA& src : layouts) {
    Tensor packed = Tensor::empty({fn::gemm::packed_a_floats(m, k)});
    fn::gemm::pack_a_panels(src, m, k, 0, 1, packed.data());  // two calls: panel ranges compose
    fn::gemm::pack_a_panels(src, m, k, 1, (m + 5) / 6, packed.data());
    Tensor c = Tensor::empty({m, n});
    fn::gemm::gemm(m, n, k, fn::gemm::MatrixA{packed.data(), k, false, 0, true}, fn::gemm::rows_of(b.data(), n, n),
                   c.data(), n, nullptr, false, scratch.data());
    BL_CHECK_CLOSE(c, want, 1e-4, 1e-5);
    // rows from 6 on: the packed operand offset by one panel
    Tensor c6 = Tensor::empty({m - 6, n});
    fn::gemm::gemm(m - 6, n, k, fn::gemm::MatrixA{packed.data() + k * 6, k, false, 0, true},
                   fn::gemm::rows_of(b.data(), n, n), c6.data(), n, nullptr, false, scratch.data());
    BL_CHECK_CLOSE(c6, Tensor::from({m - 6, n}, std::span<const float>(want.data() + 6 * n, (m - 6) * n)), 1e-4, 1e-5);
  }
}

TEST_CASE("linear: matrix-vector and matrix-matrix paths match the reference") {
  std::mt19937_64 rng(kSeed);
  // Rows past 192 cross the row blocks of the GEMM path (ConvNeXt's MLP: thousands of rows).
  for (const auto& d : std::vector<std::array<int64_t, 3>>{
           {1, 300, 500}, {3, 300, 500}, {7, 300, 500}, {8, 300, 500}, {20, 300, 500}, {401, 96, 384},
           {1001, 385, 97}, {193, 17, 5}}) {
    const int64_t rows = d[0], in = d[1], out = d[2];
    CAPTURE(rows);
    CAPTURE(in);
    const Tensor x = randn({rows, in}, rng), w = randn({out, in}, rng), b = randn({out}, rng);
    const Tensor g = randn({rows, out}, rng);
    // y = x W^T + b ; dx = g W
    const Tensor y_ref = transpose(gemm_ref(w, transpose(x), b.data()));
    const Tensor dx_ref = gemm_ref(g, w, nullptr);
    Workspace ws;
    BL_CHECK_CLOSE(fn::linear_forward(x, w, b, &ws), y_ref, 1e-4, 1e-4);
    BL_CHECK_CLOSE(fn::linear_backward_input(g, w, x.shape(), &ws), dx_ref, 1e-4, 1e-4);
    // Rank 4 ([N, H, W, C]): the same paths (the rank does not choose one).
    const Shape x4{1, 1, rows, in};
    BL_CHECK_CLOSE(fn::linear_forward(x.reshape(x4), w, b, &ws).reshape({rows, out}), y_ref, 1e-4, 1e-4);
    BL_CHECK_CLOSE(fn::linear_backward_input(g.reshape({1, 1, rows, out}), w, x4, &ws).reshape({rows, in}), dx_ref,
                   1e-4, 1e-4);
  }
}

}  // TEST_SUITE
