#include "engine/functional/linear.h"

#include "engine/eigen.h"
#include "engine/error.h"
#include "engine/functional/cuda_ops.h"
#include "engine/functional/dispatch.h"
#include "engine/functional/elementwise.h"
#include "engine/functional/gemm.h"
#include "engine/functional/shape.h"
#include "engine/parallel.h"

namespace backlight::fn {

namespace {

// Below this many rows a product is matrix-vector shaped: Eigen runs such products on one thread
// and they are bound by reading W (VGG-16's classifier.0 is 411 MB), so the output features (or
// input features, for dx) are split across threads instead; each thread streams its share of W.
constexpr int64_t kGemvRows = 8;
constexpr int64_t kGemvGrain = 64;  // features per thread at least

using ConstStrided = Eigen::Map<const RowMatrix, Eigen::Unaligned, Eigen::OuterStride<>>;
using Strided = Eigen::Map<RowMatrix, Eigen::Unaligned, Eigen::OuterStride<>>;

// Matrix-matrix products run on backlight's own GEMM kernel (gemm.h) where it is the AVX2 one:
// ConvNeXt's MLP Linears ([N, H, W, C] x W^T, thousands of rows) ran on Eigen's GEMM, which on
// the AVX-512 bench VM is slower than that kernel (gemm.h, issue 16). B (the weight) is packed
// once per call; rows are cut into blocks of kRowBlock so C stays in cache across K blocks.
constexpr int64_t kRowBlock = 192;

// Only for inputs of rank >= 4 ([N, H, W, C]: ConvNeXt's MLPs), and then at every row count, so a
// row's output does not change with the batch size. Rank 3 ([N, T, C]) is left on Eigen: with it
// here the token-id occlusion test (tests/cli/test_explain_inputs.cpp: occluding a padding token
// by itself gives exactly 0) got -3e-8; not yet understood, fn::gemm's per-element FMA order
// depends on k alone. Rank-2 inputs keep the Eigen paths (matrix-vector split below 8 rows).
bool own_gemm(int rank) { return rank >= 4 && gemm::packed_a_pays(); }

// C[rows, n] = A[rows, k] (row-major, row stride k) B[k, n] (+ bias[j] on column j), B given by
// fill; row blocks split across threads.
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
  if (own_gemm(x.dim())) {
    // B = W^T: rows [k0, k1) of B are columns of W.
    const float* pw = w.data();
    const gemm::FillRows fill = [pw, in, out](int64_t k0, int64_t k1, float* dst, int64_t ld) {
      // Blocked SIMD transpose (a scalar strided loop here cost ConvNeXt-T ~50 ms of a 310 ms row).
      transpose_2d(pw + k0, out, k1 - k0, in, dst, ld);
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
  if (own_gemm(x_shape.rank())) {
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
