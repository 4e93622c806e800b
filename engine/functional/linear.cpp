#include "engine/functional/linear.h"

#include <algorithm>
#include <cmath>

#include "engine/eigen.h"
#include "engine/error.h"
#include "engine/functional/cuda_ops.h"
#include "engine/functional/dispatch.h"
#include "engine/functional/elementwise.h"
#include "engine/functional/gemm.h"
#include "engine/functional/shape.h"
#include "engine/parallel.h"

#if defined(__AVX2__) && defined(__FMA__)
#include <immintrin.h>
#endif

namespace backlight::fn {

namespace {

// Eigen fallback (builds without the AVX2 kernel). Below this many rows a product is
// matrix-vector shaped: Eigen runs such products on one thread and they are bound by reading W,
// so the output features (or input features, for dx) are split across threads instead; each
// thread streams its share of W.
constexpr int64_t kGemvRows = 8;
constexpr int64_t kGemvGrain = 64;  // features per thread at least

using ConstStrided = Eigen::Map<const RowMatrix, Eigen::Unaligned, Eigen::OuterStride<>>;
using Strided = Eigen::Map<RowMatrix, Eigen::Unaligned, Eigen::OuterStride<>>;

// Linear runs on backlight's own GEMM kernel (gemm.h) where it is the AVX2 one, at every rank
// and row count (below 8 rows on the loops few_rows_*, which keep its arithmetic): ConvNeXt's
// MLP Linears ([N, H, W, C] x W^T, thousands of rows) ran on Eigen's GEMM, which on the AVX-512
// bench VM is slower than that kernel (gemm.h, issue 16).
//
// Batch invariance. Every path below (few_rows_* under 8 rows, features_times, rows_times; the
// choice follows the row count) computes every output element as one chain of FMAs over the
// depth, in order, from 0 (c = fma(a_p, b_p, c) for p = 0, 1, ...; fn::gemm's K blocks store and
// reload C exactly, so they do not cut the chain), then add the bias once: the same float
// whatever the row count, the row's position, the path or the thread count
// (tests/engine/test_linear_batch_invariance.cpp). Eigen's products are not: below kGemvRows
// rows linear ran Eigen's matrix-vector product, from there on its GEMM, with other summation
// orders, and Eigen 3.4's GEMM alone depends on the batch too (X[m, k] W^T on this AVX-512
// machine, k = 32 or 300: with n = 3 or 97 output columns, at 263-294 of the batch sizes m in
// 8..401 some row differs from the same row computed at m = 401; n = 32: none). That is what
// broke the token-occlusion test (tests/cli/test_explain_inputs.cpp: occluding a padding token by
// itself must give exactly 0) when only rank-3 linears moved to fn::gemm: every encoder node
// stayed bit-identical per row, but the text encoder's head, a rank-2 Linear [N, 32] -> [N, 3]
// still on Eigen, ran the matrix-vector product for the unoccluded input (N = 1) and the GEMM for
// the batch of 16 occluded copies: -3e-8 in the logit. On Eigen-computed encoder outputs the two
// happened to round alike at N = 16 (not at N = 2..13): the test had passed by luck of the data.
bool own_gemm() { return gemm::packed_a_pays(); }

// Below this many rows a product is matrix-vector shaped: few_rows_* below.
constexpr int64_t kFewRows = 8;
// Rows are cut into blocks of kRowBlock in rows_times so C stays in cache across K blocks.
constexpr int64_t kRowBlock = 192;

// C[rows, n] = A[rows, k] (row-major, row stride k) B[k, n] (+ bias[j] on column j, added after
// the products), B given by fill and packed once per call; row blocks split across threads.
void rows_times(int64_t rows, int64_t n, int64_t k, const float* a, const gemm::FillRows& fill, float* c,
                const float* bias, const Workspace* ws) {
  const int64_t blocks = (rows + kRowBlock - 1) / kRowBlock;
  const int slots = static_cast<int>(std::min<int64_t>(num_threads(), blocks));
  const int64_t per_slot = (gemm::scratch_floats(n, k) + 15) / 16 * 16;
  const int64_t packed_floats = (gemm::packed_floats(n, k) + 15) / 16 * 16;
  Tensor scratch = Tensor::empty(Shape{packed_floats + slots * per_slot + gemm::pack_scratch_floats(n, k)}, ws);
  float* packed = scratch.data();
  float* staging = packed + packed_floats + slots * per_slot;
  for (int64_t b = 0; b < gemm::num_blocks(k); ++b) gemm::pack_block(fill, b, n, k, packed, staging);
  const int64_t per_range = (blocks + slots - 1) / slots;
  parallel_for(slots, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t s = lo; s < hi; ++s) {
      float* sc = packed + packed_floats + s * per_slot;
      for (int64_t b = s * per_range; b < std::min(blocks, (s + 1) * per_range); ++b) {
        const int64_t r0 = b * kRowBlock, r1 = std::min(rows, r0 + kRowBlock);
        float* cb = c + r0 * n;
        gemm::gemm_packed(r1 - r0, n, k, gemm::MatrixA{a + r0 * k, k}, packed, cb, n, nullptr, false, sc);
        if (bias)
          for (int64_t i = 0; i < r1 - r0; ++i)
            for (int64_t j = 0; j < n; ++j) cb[i * n + j] += bias[j];
      }
    }
  });
}

// Fewer than kFewRows rows (matrix-vector shaped, bound by reading W: VGG-16's classifier.0 is
// 411 MB): loops that stream W once, in place, with each element's FMA chain in depth order as
// the GEMM kernel runs it (one rounding per step, like its vfmadd). Forward: y[r, o] = chain
// over p of x[r, p] W[o, p] for output features [o0, o1): 8 rows of W are read along p and
// transposed in registers (8x8 blocks), so the FMAs run along output features.
#if defined(__AVX2__) && defined(__FMA__)
inline void transpose8(__m256 v[8]) {
  const __m256 t0 = _mm256_unpacklo_ps(v[0], v[1]), t1 = _mm256_unpackhi_ps(v[0], v[1]);
  const __m256 t2 = _mm256_unpacklo_ps(v[2], v[3]), t3 = _mm256_unpackhi_ps(v[2], v[3]);
  const __m256 t4 = _mm256_unpacklo_ps(v[4], v[5]), t5 = _mm256_unpackhi_ps(v[4], v[5]);
  const __m256 t6 = _mm256_unpacklo_ps(v[6], v[7]), t7 = _mm256_unpackhi_ps(v[6], v[7]);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, 0x44), s1 = _mm256_shuffle_ps(t0, t2, 0xEE);
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, 0x44), s3 = _mm256_shuffle_ps(t1, t3, 0xEE);
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, 0x44), s5 = _mm256_shuffle_ps(t4, t6, 0xEE);
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, 0x44), s7 = _mm256_shuffle_ps(t5, t7, 0xEE);
  v[0] = _mm256_permute2f128_ps(s0, s4, 0x20);
  v[1] = _mm256_permute2f128_ps(s1, s5, 0x20);
  v[2] = _mm256_permute2f128_ps(s2, s6, 0x20);
  v[3] = _mm256_permute2f128_ps(s3, s7, 0x20);
  v[4] = _mm256_permute2f128_ps(s0, s4, 0x31);
  v[5] = _mm256_permute2f128_ps(s1, s5, 0x31);
  v[6] = _mm256_permute2f128_ps(s2, s6, 0x31);
  v[7] = _mm256_permute2f128_ps(s3, s7, 0x31);
}

template <int R>
void few_rows_forward_avx2(int64_t in, int64_t out, const float* x, const float* w, int64_t o0, int64_t o1, float* y) {
  for (int64_t ob = o0; ob < o1; ob += 8) {
    const int nw = static_cast<int>(std::min<int64_t>(8, o1 - ob));
    const float* wr[8];
    for (int i = 0; i < 8; ++i) wr[i] = w + (ob + std::min(i, nw - 1)) * in;  // tail: repeats, not stored
    __m256 acc[R];
    for (int r = 0; r < R; ++r) acc[r] = _mm256_setzero_ps();
    int64_t p = 0;
    for (; p + 8 <= in; p += 8) {
      __m256 v[8];
      for (int i = 0; i < 8; ++i) v[i] = _mm256_loadu_ps(wr[i] + p);
      transpose8(v);
      for (int q = 0; q < 8; ++q)
        for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(x + r * in + p + q), v[q], acc[r]);
    }
    for (; p < in; ++p) {
      const __m256 col = _mm256_setr_ps(wr[0][p], wr[1][p], wr[2][p], wr[3][p], wr[4][p], wr[5][p], wr[6][p], wr[7][p]);
      for (int r = 0; r < R; ++r) acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(x + r * in + p), col, acc[r]);
    }
    alignas(32) float tmp[8];
    for (int r = 0; r < R; ++r) {
      _mm256_store_ps(tmp, acc[r]);
      std::copy(tmp, tmp + nw, y + r * out + ob);
    }
  }
}
#endif

void few_rows_forward(int64_t rows, int64_t in, int64_t out, const float* x, const float* w, int64_t o0, int64_t o1,
                      float* y) {
#if defined(__AVX2__) && defined(__FMA__)
  switch (rows) {
    case 1: return few_rows_forward_avx2<1>(in, out, x, w, o0, o1, y);
    case 2: return few_rows_forward_avx2<2>(in, out, x, w, o0, o1, y);
    case 3: return few_rows_forward_avx2<3>(in, out, x, w, o0, o1, y);
    case 4: return few_rows_forward_avx2<4>(in, out, x, w, o0, o1, y);
    case 5: return few_rows_forward_avx2<5>(in, out, x, w, o0, o1, y);
    case 6: return few_rows_forward_avx2<6>(in, out, x, w, o0, o1, y);
    case 7: return few_rows_forward_avx2<7>(in, out, x, w, o0, o1, y);
    default: break;
  }
#endif
  for (int64_t o = o0; o < o1; ++o)
    for (int64_t r = 0; r < rows; ++r) {
      float acc = 0.0f;
      for (int64_t p = 0; p < in; ++p) acc = std::fma(x[r * in + p], w[o * in + p], acc);
      y[r * out + o] = acc;
    }
}

// Input gradient: dx[r, p] = chain over o of g[r, o] W[o, p] for input features [p0, p1),
// accumulated in dx (rows x range floats, cache-resident) while W's rows stream along p, four
// rows of W per pass over dx (the chain's steps o, o+1, o+2, o+3 in order).
void few_rows_backward(int64_t rows, int64_t in, int64_t out, const float* g, const float* w, int64_t p0, int64_t p1,
                       float* dx) {
  for (int64_t r = 0; r < rows; ++r) std::fill(dx + r * in + p0, dx + r * in + p1, 0.0f);
  int64_t o = 0;
#if defined(__AVX2__) && defined(__FMA__)
  for (; o + 4 <= out; o += 4) {
    const float *w0 = w + o * in, *w1 = w0 + in, *w2 = w1 + in, *w3 = w2 + in;
    for (int64_t r = 0; r < rows; ++r) {
      const float* gr = g + r * out + o;
      const __m256 g0 = _mm256_set1_ps(gr[0]), g1 = _mm256_set1_ps(gr[1]), g2 = _mm256_set1_ps(gr[2]),
                   g3 = _mm256_set1_ps(gr[3]);
      float* d = dx + r * in;
      int64_t i = p0;
      for (; i + 8 <= p1; i += 8) {
        __m256 acc = _mm256_loadu_ps(d + i);
        acc = _mm256_fmadd_ps(g0, _mm256_loadu_ps(w0 + i), acc);
        acc = _mm256_fmadd_ps(g1, _mm256_loadu_ps(w1 + i), acc);
        acc = _mm256_fmadd_ps(g2, _mm256_loadu_ps(w2 + i), acc);
        acc = _mm256_fmadd_ps(g3, _mm256_loadu_ps(w3 + i), acc);
        _mm256_storeu_ps(d + i, acc);
      }
      for (; i < p1; ++i)
        d[i] = std::fma(gr[3], w3[i], std::fma(gr[2], w2[i], std::fma(gr[1], w1[i], std::fma(gr[0], w0[i], d[i]))));
    }
  }
#endif
  for (; o < out; ++o) {
    const float* wo = w + o * in;
    for (int64_t r = 0; r < rows; ++r) {
      const float gv = g[r * out + o];
      float* d = dx + r * in;
      for (int64_t i = p0; i < p1; ++i) d[i] = std::fma(gv, wo[i], d[i]);
    }
  }
}

// GEMM-shaped forwards whose weight is larger than the rows' data (VGG-16's classifier.0 at 16
// rows, a BERT-base FFN at one sequence of 128), where rows_times would transpose all of W into
// its packed B on every call: the transposed product C^T[n, rows] = W[n, k] X^T[k, rows] with W
// read in place as A, 6-row panels of it split across
// threads; then C = (C^T)^T (+ bias, added after). Per element the FMA chain of rows_times (fma
// is symmetric in its factors): bit-identical.
void features_times(int64_t rows, int64_t n, int64_t k, const float* x, const float* w, float* c, const float* bias,
                    const Workspace* ws) {
  const gemm::FillRows fill_xt = [x, k, rows](int64_t k0, int64_t k1, float* dst, int64_t ld) {
    for (int64_t p = k0; p < k1; ++p)
      for (int64_t r = 0; r < rows; ++r) dst[(p - k0) * ld + r] = x[r * k + p];
  };
  const int64_t panels = (n + 5) / 6;
  // Threads only for products worth a parallel region (a text encoder's 16 x 32 x 96 is not).
  const int64_t worth = std::max<int64_t>(1, rows * n * k / (int64_t{1} << 17));
  const int slots = static_cast<int>(std::min({int64_t{in_parallel_region() ? 1 : num_threads()}, panels, worth}));
  const int64_t per_slot = (gemm::scratch_floats(rows, k) + 15) / 16 * 16;
  Tensor scratch = Tensor::empty(Shape{n * rows + slots * per_slot}, ws);
  float* ct = scratch.data() + slots * per_slot;
  parallel_for(slots, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t s = lo; s < hi; ++s) {
      const int64_t i0 = std::min(n, 6 * (panels * s / slots)), i1 = std::min(n, 6 * (panels * (s + 1) / slots));
      if (i1 > i0)
        gemm::gemm(i1 - i0, rows, k, gemm::MatrixA{w + i0 * k, k}, fill_xt, ct + i0 * rows, rows, nullptr, false,
                   scratch.data() + s * per_slot);
    }
  });
  parallel_for(rows, 16, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r)
      for (int64_t j = 0; j < n; ++j) c[r * n + j] = bias ? ct[j * rows + r] + bias[j] : ct[j * rows + r];
  });
}

}  // namespace

Tensor linear_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Workspace* ws) {
  BL_CHECK_SHAPE(w.dim() == 2, "linear: expected weight [out,in], got ", w.shape());
  BL_CHECK_SHAPE(x.dim() >= 1 && x.size(-1) == w.size(1), "linear: expected input [...,", w.size(1),
                 "] for weight ", w.shape(), ", got ", x.shape());
  const int64_t in = w.size(1), out = w.size(0), rows = x.numel() / std::max<int64_t>(in, 1);
  Shape ys = x.shape();
  ys[-1] = out;
  if (bias.defined())
    BL_CHECK_SHAPE(bias.dim() == 1 && bias.size(0) == out, "linear: expected bias [", out, "], got ", bias.shape());
  BL_ON_CUDA("linear", ws, x, w, bias) return cuda_ops::linear_forward(x, w, bias, ys);
  Tensor y = Tensor::empty(ys, ws);
  const float* pw = w.data();
  const float* pb = bias.defined() ? bias.data() : nullptr;
  if (own_gemm() && rows < kFewRows) {
    float* py = y.data();
    const float* px = x.data();
    parallel_for(out, kGemvGrain, [&](int64_t lo, int64_t hi) {
      // Ranges of whole 32-feature tiles, so each range streams its own rows of W.
      const int64_t o0 = std::min(out, (lo + 31) / 32 * 32), o1 = hi == out ? out : std::min(out, (hi + 31) / 32 * 32);
      few_rows_forward(rows, in, out, px, pw, o0, o1, py);
      if (pb)
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t o = o0; o < o1; ++o) py[r * out + o] += pb[o];
    });
    return y;
  }
  if (own_gemm() && rows * (in + out) < in * out) {
    features_times(rows, out, in, x.data(), pw, y.data(), pb, ws);
    return y;
  }
  if (own_gemm()) {
    // B = W^T: rows [k0, k1) of B are columns of W.
    const gemm::FillRows fill = [pw, in, out](int64_t k0, int64_t k1, float* dst, int64_t ld) {
      // Blocked SIMD transpose (a scalar strided loop here cost ConvNeXt-T ~50 ms of a 310 ms row).
      transpose_2d(pw + k0, out, k1 - k0, in, dst, ld);
    };
    rows_times(rows, out, in, x.data(), fill, y.data(), pb, ws);
    return y;
  }
  const auto X = mat(x.data(), rows, in);
  if (rows < kGemvRows) {
    float* py = y.data();
    parallel_for(out, kGemvGrain, [&](int64_t lo, int64_t hi) {
      Strided Y(py + lo, rows, hi - lo, Eigen::OuterStride<>(out));
      Y.noalias() = X * mat(w.data() + lo * in, hi - lo, in).transpose();
      if (bias.defined()) Y.rowwise() += ConstVecMap(bias.data() + lo, hi - lo).transpose();
    });
    return y;
  }
  auto Y = mat(y.data(), rows, out);
  Y.noalias() = X * mat(w.data(), out, in).transpose();
  if (bias.defined()) Y.rowwise() += ConstVecMap(bias.data(), out).transpose();
  return y;
}

Tensor linear_backward_input(const Tensor& g, const Tensor& w, const Shape& x_shape, const Workspace* ws) {
  const int64_t in = w.size(1), out = w.size(0), rows = g.numel() / std::max<int64_t>(out, 1);
  BL_ON_CUDA("linear backward", ws, g, w) return cuda_ops::linear_backward_input(g, w, x_shape);
  Tensor dx = Tensor::empty(x_shape, ws);
  const float* pw = w.data();
  if (own_gemm() && rows < kFewRows) {
    const float* pg = g.data();
    float* pdx = dx.data();
    parallel_for(in, kGemvGrain,
                 [&](int64_t lo, int64_t hi) { few_rows_backward(rows, in, out, pg, pw, lo, hi, pdx); });
    return dx;
  }
  if (own_gemm()) {
    rows_times(rows, in, out, g.data(), gemm::rows_of(w.data(), in, in), dx.data(), nullptr, ws);
    return dx;
  }
  const auto G = mat(g.data(), rows, out);
  if (rows < kGemvRows) {
    float* pdx = dx.data();
    parallel_for(in, kGemvGrain, [&](int64_t lo, int64_t hi) {
      Strided D(pdx + lo, rows, hi - lo, Eigen::OuterStride<>(in));
      D.noalias() = G * ConstStrided(w.data() + lo, out, hi - lo, Eigen::OuterStride<>(in));
    });
    return dx;
  }
  mat(dx.data(), rows, in).noalias() = G * mat(w.data(), out, in);
  return dx;
}

Tensor linear_backward_weight(const Tensor& g, const Tensor& x, const Workspace* ws) {
  const int64_t out = g.size(-1), in = x.size(-1), rows = x.numel() / std::max<int64_t>(in, 1);
  BL_ON_CUDA("linear backward", ws, g, x) return cuda_ops::linear_backward_weight(g, x);
  Tensor dw = Tensor::empty(Shape{out, in}, ws);
  mat(dw.data(), out, in).noalias() = mat(g.data(), rows, out).transpose() * mat(x.data(), rows, in);
  return dw;
}

Tensor linear_backward_bias(const Tensor& g, const Workspace* ws) {
  const int64_t out = g.size(-1), rows = g.numel() / std::max<int64_t>(out, 1);
  BL_ON_CUDA("linear backward", ws, g) return cuda_ops::linear_backward_bias(g);
  Tensor db = Tensor::empty(Shape{out}, ws);
  VecMap(db.data(), out) = mat(g.data(), rows, out).colwise().sum().transpose();
  return db;
}

Tensor matmul(const Tensor& a, const Tensor& b, const Workspace* ws, bool transpose_a, bool transpose_b) {
  BL_CHECK_SHAPE(a.dim() >= 2 && b.dim() >= 2, "matmul: expected tensors with >= 2 dims, got ", a.shape(), " and ",
                 b.shape());
  const int64_t ar = a.size(-2), ac = a.size(-1), br = b.size(-2), bc = b.size(-1);
  const int64_t m = transpose_a ? ac : ar, k = transpose_a ? ar : ac;
  const int64_t kb = transpose_b ? bc : br, n = transpose_b ? br : bc;
  BL_CHECK_SHAPE(k == kb, "matmul: inner dimensions differ: ", a.shape(), (transpose_a ? "^T" : ""), " x ",
                 b.shape(), (transpose_b ? "^T" : ""));
  // Broadcast the batch dims.
  std::vector<int64_t> ab(a.shape().dims().begin(), a.shape().dims().end() - 2);
  std::vector<int64_t> bb(b.shape().dims().begin(), b.shape().dims().end() - 2);
  const Shape batch = broadcast_shape(Shape(ab), Shape(bb), "matmul");
  Shape os = batch;
  os.push_back(m);
  os.push_back(n);
  const Shape sa(ab), sb(bb);
  BL_ON_CUDA("matmul", ws, a, b) return cuda_ops::matmul(a, b, transpose_a, transpose_b, batch, sa, sb, m, n, k);
  Tensor out = Tensor::empty(os, ws);
  const int64_t nb = batch.numel();
  auto offset = [&](const Shape& s, int64_t bi) {
    int64_t off = 0, rem = bi;
    for (int d = batch.rank() - 1; d >= 0; --d) {
      const int64_t idx = rem % batch[d];
      rem /= batch[d];
      const int ds = s.rank() - batch.rank() + d;
      if (ds >= 0 && s[ds] != 1) off += idx * s.stride(ds);
    }
    return off;
  };
  auto one = [&](int64_t bi) {
    auto A = mat(a.data() + offset(sa, bi) * ar * ac, ar, ac);
    auto B = mat(b.data() + offset(sb, bi) * br * bc, br, bc);
    auto O = mat(out.data() + bi * m * n, m, n);
    if (!transpose_a && !transpose_b) O.noalias() = A * B;
    else if (transpose_a && !transpose_b) O.noalias() = A.transpose() * B;
    else if (!transpose_a && transpose_b) O.noalias() = A * B.transpose();
    else O.noalias() = A.transpose() * B.transpose();
  };
  // Many small products (attention heads): one per thread; few large ones: Eigen threads inside.
  if (nb >= num_threads() && m * n * k < (int64_t{1} << 21)) {
    parallel_for(nb, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t bi = lo; bi < hi; ++bi) one(bi);
    });
  } else {
    for (int64_t bi = 0; bi < nb; ++bi) one(bi);
  }
  return out;
}

}  // namespace backlight::fn
