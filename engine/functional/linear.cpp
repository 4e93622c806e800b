#include "engine/functional/linear.h"

#include <algorithm>
#include <functional>

#include "engine/eigen.h"
#include "engine/error.h"
#include "engine/functional/cuda_ops.h"
#include "engine/functional/dispatch.h"
#include "engine/functional/elementwise.h"
#include "engine/functional/gemm.h"
#include "engine/parallel.h"

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
// and row count: ConvNeXt's MLP Linears ([N, H, W, C] x W^T, thousands of rows) ran on Eigen's
// GEMM, which on the AVX-512 bench VM is slower than that kernel (gemm.h, issue 16).
//
// Batch invariance. Both paths below compute every output element as one chain of FMAs over the
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

// Below this many rows a product is matrix-vector shaped and bound by reading W (VGG-16's
// classifier.0 is 411 MB): features_times reads W once, in place; rows_times would pack a copy.
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

// The same product for few rows, transposed: C^T[n, rows] = At[n, k] X^T[k, rows] with the
// weight read in place as A (at_rows(i0): A from its row i0 on), 6-row panels of it split across
// threads so each streams its share of the weight once; then C = (C^T)^T (+ bias, added after).
// Per element the FMA chain of rows_times (fma is symmetric in its factors): bit-identical.
void features_times(int64_t rows, int64_t n, int64_t k, const float* x, const std::function<gemm::MatrixA(int64_t)>& at_rows,
                    float* c, const float* bias, const Workspace* ws) {
  const gemm::FillRows fill_xt = [x, k, rows](int64_t k0, int64_t k1, float* dst, int64_t ld) {
    for (int64_t p = k0; p < k1; ++p)
      for (int64_t r = 0; r < rows; ++r) dst[(p - k0) * ld + r] = x[r * k + p];
  };
  const int64_t panels = (n + 5) / 6;
  const int slots = static_cast<int>(std::min<int64_t>(in_parallel_region() ? 1 : num_threads(), panels));
  const int64_t per_slot = (gemm::scratch_floats(rows, k) + 15) / 16 * 16;
  Tensor scratch = Tensor::empty(Shape{n * rows + slots * per_slot}, ws);
  float* ct = scratch.data() + slots * per_slot;
  parallel_for(slots, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t s = lo; s < hi; ++s) {
      const int64_t i0 = std::min(n, 6 * (panels * s / slots)), i1 = std::min(n, 6 * (panels * (s + 1) / slots));
      if (i1 > i0)
        gemm::gemm(i1 - i0, rows, k, at_rows(i0), fill_xt, ct + i0 * rows, rows, nullptr, false,
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
  if (own_gemm() && rows < kFewRows) {
    features_times(rows, out, in, x.data(), [pw, in](int64_t i0) { return gemm::MatrixA{pw + i0 * in, in}; },
                   y.data(), bias.defined() ? bias.data() : nullptr, ws);
    return y;
  }
  if (own_gemm()) {
    // B = W^T: rows [k0, k1) of B are columns of W.
    const gemm::FillRows fill = [pw, in, out](int64_t k0, int64_t k1, float* dst, int64_t ld) {
      for (int64_t p = k0; p < k1; ++p)
        for (int64_t j = 0; j < out; ++j) dst[(p - k0) * ld + j] = pw[j * in + p];
    };
    rows_times(rows, out, in, x.data(), fill, y.data(), bias.defined() ? bias.data() : nullptr, ws);
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
    // A = W^T read in place: element (i, j) at pw[j * in + i].
    features_times(rows, in, out, g.data(), [pw, in](int64_t i0) { return gemm::MatrixA{pw + i0, in, true}; },
                   dx.data(), nullptr, ws);
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
