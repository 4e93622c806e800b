// CUDA versions of the element-wise, broadcasting and reduction functions (see cuda_ops.h).
#ifdef BACKLIGHT_HAVE_CUDA
#include "engine/functional/cuda/common.h"
#include "engine/functional/cuda_ops.h"
#include "engine/functional/reduce.h"

namespace backlight::fn::cuda_ops {

namespace {

// Element strides of `s` seen through the broadcast shape `out` (0 where s is broadcast).
void broadcast_strides(const Shape& s, const Shape& out, int64_t* st) {
  const int r = out.rank(), off = r - s.rank();
  int64_t run = 1;
  for (int d = r - 1; d >= 0; --d) {
    const int ds = d - off;
    if (ds < 0 || s[ds] == 1) {
      st[d] = 0;
    } else {
      st[d] = run;
    }
    if (ds >= 0) run *= s[ds];
  }
}

}  // namespace

void add_inplace(Tensor& acc, const Tensor& g) {
  cuda::axpby(ctx_of(acc), 1.0f, acc.device_data(), 1.0f, g.device_data(), acc.device_data(), acc.numel());
}

void add_into(Tensor& out, const Tensor& a, const Tensor& b) {
  cuda::axpby(ctx_of(a), 1.0f, a.device_data(), 1.0f, b.device_data(), out.device_data(), a.numel());
}

Tensor scale(const Tensor& a, float s) {
  Tensor y = out_like(a.shape(), a);
  cuda::axpby(ctx_of(a), s, a.device_data(), 0.0f, nullptr, y.device_data(), a.numel());
  return y;
}

Tensor binary(int op, const Tensor& a, const Tensor& b, const Shape& out_shape) {
  Tensor y = out_like(out_shape, a);
  int64_t sa[Shape::kMaxDims] = {}, sb[Shape::kMaxDims] = {};
  broadcast_strides(a.shape(), out_shape, sa);
  broadcast_strides(b.shape(), out_shape, sb);
  cuda::binary(ctx_of(a), static_cast<cuda::Binary>(op), a.device_data(), sa, b.device_data(), sb,
               out_shape.dims().data(), out_shape.rank(), y.device_data());
  return y;
}

Tensor sum_to(const Tensor& g, const Shape& shape) {
  // Reduce the dims where `shape` (aligned to the right) is 1 or missing, keeping g's rank.
  const Shape& gs = g.shape();
  const int r = gs.rank(), off = r - shape.rank();
  uint32_t mask = 0;
  for (int d = 0; d < r; ++d) {
    const int ds = d - off;
    if ((ds < 0 || shape[ds] == 1) && gs[d] != 1) mask |= 1u << d;
  }
  Tensor y = out_like(shape, g);
  cuda::reduce_sum(ctx_of(g), g.device_data(), gs.dims().data(), r, mask, 1.0f, y.device_data());
  return y;
}

Tensor map_unary(const Tensor& x, maps::Unary op, float p, float q) {
  Tensor y = out_like(x.shape(), x);
  cuda::map_unary(ctx_of(x), op, p, q, x.device_data(), y.device_data(), x.numel());
  return y;
}

Tensor map_grad(const Tensor& g, const Tensor& v, maps::Grad op, float p, float q) {
  Tensor y = out_like(g.shape(), g);
  cuda::map_grad(ctx_of(g), op, p, q, g.device_data(), v.device_data(), y.device_data(), g.numel());
  return y;
}

Tensor reduce(const Tensor& x, uint32_t mask, bool keepdim, float scale) {
  Tensor y = out_like(reduced_shape(x.shape(), mask, keepdim), x);
  cuda::reduce_sum(ctx_of(x), x.device_data(), x.shape().dims().data(), x.dim(), mask, scale, y.device_data());
  return y;
}

Tensor reduce_backward(const Tensor& g, const Shape& x_shape, uint32_t mask, float scale) {
  Tensor dx = out_like(x_shape, g);
  // Broadcast copy: g's strides along x's dims, 0 along the reduced ones.
  cuda::StridedCopy c;
  c.rank = x_shape.rank();
  c.scale = scale;
  int64_t run = 1;
  for (int d = c.rank - 1; d >= 0; --d) {
    c.dims[d] = x_shape[d];
    const bool reduced = (mask >> d) & 1u;
    c.src_stride[d] = reduced ? 0 : run;
    if (!reduced) run *= x_shape[d];
  }
  contiguous_strides(x_shape, c.dst_stride);
  cuda::strided_copy(ctx_of(g), c, g.device_data(), dx.device_data());
  return dx;
}

bool any_nonzero(const Tensor& x) { return cuda::any_nonzero(ctx_of(x), x.device_data(), x.numel()); }

}  // namespace backlight::fn::cuda_ops
#endif  // BACKLIGHT_HAVE_CUDA
