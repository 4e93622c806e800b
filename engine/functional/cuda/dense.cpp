// CUDA versions of linear, matmul and conv2d (cuBLAS / cuDNN; see cuda_ops.h).
#ifdef BACKLIGHT_HAVE_CUDA
#include <vector>

#include "engine/functional/cuda/common.h"
#include "engine/functional/cuda_ops.h"

namespace backlight::fn::cuda_ops {

namespace {

cuda::ConvShape conv_shape(const ConvGeometry& g) {
  return cuda::ConvShape{g.n,  g.c,  g.h,  g.w,  g.o,  g.kh, g.kw, g.oh, g.ow,
                         g.a.stride_h, g.a.stride_w, g.a.pad_h, g.a.pad_w, g.a.dilation_h, g.a.dilation_w,
                         g.a.groups};
}

// Element offset (in matrices) of batch item bi of an operand with batch shape s, broadcast to
// `batch`.
int64_t batch_offset(const Shape& s, const Shape& batch, int64_t bi) {
  int64_t off = 0, rem = bi;
  for (int d = batch.rank() - 1; d >= 0; --d) {
    const int64_t idx = rem % batch[d];
    rem /= batch[d];
    const int ds = s.rank() - batch.rank() + d;
    if (ds >= 0 && s[ds] != 1) off += idx * s.stride(ds);
  }
  return off;
}

}  // namespace

Tensor linear_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Shape& y_shape) {
  const int64_t in = w.size(1), out = w.size(0), rows = x.numel() / std::max<int64_t>(in, 1);
  Tensor y = out_like(y_shape, x);
  // y[rows, out] = x[rows, in] W[out, in]^T
  cuda::gemm(ctx_of(x), false, true, rows, out, in, 1.0f, x.device_data(), in, w.device_data(), in, 0.0f,
             y.device_data(), out);
  if (bias.defined()) cuda::add_row_bias(ctx_of(x), y.device_data(), bias.device_data(), rows, out);
  return y;
}

Tensor linear_backward_input(const Tensor& g, const Tensor& w, const Shape& x_shape) {
  const int64_t in = w.size(1), out = w.size(0), rows = g.numel() / std::max<int64_t>(out, 1);
  Tensor dx = out_like(x_shape, g);
  // dx[rows, in] = g[rows, out] W[out, in]
  cuda::gemm(ctx_of(g), false, false, rows, in, out, 1.0f, g.device_data(), out, w.device_data(), in, 0.0f,
             dx.device_data(), in);
  return dx;
}

Tensor linear_backward_weight(const Tensor& g, const Tensor& x) {
  const int64_t out = g.size(-1), in = x.size(-1), rows = x.numel() / std::max<int64_t>(in, 1);
  Tensor dw = out_like(Shape{out, in}, g);
  // dW[out, in] = g[rows, out]^T x[rows, in]
  cuda::gemm(ctx_of(g), true, false, out, in, rows, 1.0f, g.device_data(), out, x.device_data(), in, 0.0f,
             dw.device_data(), in);
  return dw;
}

Tensor linear_backward_bias(const Tensor& g) {
  const int64_t out = g.size(-1), rows = g.numel() / std::max<int64_t>(out, 1);
  Tensor db = out_like(Shape{out}, g);
  const int64_t dims[2] = {rows, out};
  cuda::reduce_sum(ctx_of(g), g.device_data(), dims, 2, 1u, 1.0f, db.device_data());
  return db;
}

Tensor matmul(const Tensor& a, const Tensor& b, bool transpose_a, bool transpose_b, const Shape& batch,
              const Shape& a_batch, const Shape& b_batch, int64_t m, int64_t n, int64_t k) {
  Shape os = batch;
  os.push_back(m);
  os.push_back(n);
  Tensor out = out_like(os, a);
  const int64_t nb = batch.numel();
  const int64_t ar = a.size(-2), ac = a.size(-1), br = b.size(-2), bc = b.size(-1);
  const int64_t sa = ar * ac, sb = br * bc;
  std::vector<int64_t> oa(nb), ob(nb);
  for (int64_t i = 0; i < nb; ++i) {
    oa[i] = batch_offset(a_batch, batch, i) * sa;
    ob[i] = batch_offset(b_batch, batch, i) * sb;
  }
  // Offsets in arithmetic progression (a full or a repeated operand): one strided-batched call;
  // a general broadcast pattern: one call per item.
  auto progression = [nb](const std::vector<int64_t>& o) {
    for (int64_t i = 2; i < nb; ++i)
      if (o[i] - o[i - 1] != o[1] - o[0]) return false;
    return true;
  };
  if (nb <= 1 || (progression(oa) && progression(ob))) {
    const int64_t step_a = nb > 1 ? oa[1] - oa[0] : 0, step_b = nb > 1 ? ob[1] - ob[0] : 0;
    cuda::gemm_batched(ctx_of(a), transpose_a, transpose_b, m, n, k, a.device_data() + (nb ? oa[0] : 0), ac, step_a,
                       b.device_data() + (nb ? ob[0] : 0), bc, step_b, out.device_data(), n, m * n, nb);
  } else {
    for (int64_t i = 0; i < nb; ++i)
      cuda::gemm(ctx_of(a), transpose_a, transpose_b, m, n, k, 1.0f, a.device_data() + oa[i], ac,
                 b.device_data() + ob[i], bc, 0.0f, out.device_data() + i * m * n, n);
  }
  return out;
}

Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvGeometry& g) {
  Tensor y = out_like(Shape{g.n, g.o, g.oh, g.ow}, x);
  cuda::conv2d_forward(ctx_of(x), conv_shape(g), x.device_data(), w.device_data(), dptr(bias), y.device_data());
  return y;
}

Tensor conv2d_backward_input(const Tensor& gy, const Tensor& w, const ConvGeometry& g) {
  Tensor dx = out_like(Shape{g.n, g.c, g.h, g.w}, gy);
  cuda::conv2d_backward_input(ctx_of(gy), conv_shape(g), gy.device_data(), w.device_data(), dx.device_data());
  return dx;
}

Tensor conv2d_backward_weight(const Tensor& gy, const Tensor& x, const ConvGeometry& g) {
  Tensor dw = out_like(Shape{g.o, g.cg(), g.kh, g.kw}, gy);
  cuda::conv2d_backward_weight(ctx_of(gy), conv_shape(g), gy.device_data(), x.device_data(), dw.device_data());
  return dw;
}

Tensor conv2d_backward_bias(const Tensor& gy) {
  Tensor db = out_like(Shape{gy.size(1)}, gy);
  cuda::reduce_sum(ctx_of(gy), gy.device_data(), gy.shape().dims().data(), 4, 0b1101u, 1.0f, db.device_data());
  return db;
}

}  // namespace backlight::fn::cuda_ops
#endif  // BACKLIGHT_HAVE_CUDA
