#include "engine/functional/linear.h"

#include "engine/eigen.h"
#include "engine/error.h"
#include "engine/functional/elementwise.h"
#include "engine/parallel.h"

namespace backlight::fn {

Tensor linear_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Workspace* ws) {
  BL_CHECK_SHAPE(w.dim() == 2, "linear: expected weight [out,in], got ", w.shape());
  BL_CHECK_SHAPE(x.dim() >= 1 && x.size(-1) == w.size(1), "linear: expected input [...,", w.size(1),
                 "] for weight ", w.shape(), ", got ", x.shape());
  const int64_t in = w.size(1), out = w.size(0), rows = x.numel() / std::max<int64_t>(in, 1);
  Shape ys = x.shape();
  ys[-1] = out;
  Tensor y = Tensor::empty(ys, ws);
  auto Y = mat(y.data(), rows, out);
  Y.noalias() = mat(x.data(), rows, in) * mat(w.data(), out, in).transpose();
  if (bias.defined()) {
    BL_CHECK_SHAPE(bias.dim() == 1 && bias.size(0) == out, "linear: expected bias [", out, "], got ", bias.shape());
    Y.rowwise() += ConstVecMap(bias.data(), out).transpose();
  }
  return y;
}

Tensor linear_backward_input(const Tensor& g, const Tensor& w, const Shape& x_shape, const Workspace* ws) {
  const int64_t in = w.size(1), out = w.size(0), rows = g.numel() / std::max<int64_t>(out, 1);
  Tensor dx = Tensor::empty(x_shape, ws);
  mat(dx.data(), rows, in).noalias() = mat(g.data(), rows, out) * mat(w.data(), out, in);
  return dx;
}

Tensor linear_backward_weight(const Tensor& g, const Tensor& x, const Workspace* ws) {
  const int64_t out = g.size(-1), in = x.size(-1), rows = x.numel() / std::max<int64_t>(in, 1);
  Tensor dw = Tensor::empty(Shape{out, in}, ws);
  mat(dw.data(), out, in).noalias() = mat(g.data(), rows, out).transpose() * mat(x.data(), rows, in);
  return dw;
}

Tensor linear_backward_bias(const Tensor& g, const Workspace* ws) {
  const int64_t out = g.size(-1), rows = g.numel() / std::max<int64_t>(out, 1);
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
  Tensor out = Tensor::empty(os, ws);
  const int64_t nb = batch.numel();
  const Shape sa(ab), sb(bb);
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
