// CUDA versions of pooling, softmax, batch/layer norm and embedding (see cuda_ops.h).
#ifdef BACKLIGHT_HAVE_CUDA
#include <cmath>
#include <vector>

#include "engine/functional/cuda/common.h"
#include "engine/functional/cuda_ops.h"
#include "engine/functional/embedding.h"

namespace backlight::fn::cuda_ops {

namespace {

cuda::PoolShape pool_shape(const Pool2dGeometry& geo) {
  return cuda::PoolShape{geo.n * geo.c, geo.h, geo.w, geo.oh, geo.ow, geo.a.dilation_h, geo.a.dilation_w,
                         geo.a.count_include_pad};
}

std::vector<cuda::Window> windows(const std::vector<PoolRange>& ranges) {
  std::vector<cuda::Window> w;
  w.reserve(ranges.size());
  for (const PoolRange& r : ranges) w.push_back({r.begin, r.end, r.padded_extent});
  return w;
}

// [N, C, rest] of a batch-norm input.
struct Planes {
  int64_t n, c, inner;
};
Planes planes_of(const Shape& x) { return {x[0], x[1], x.numel_range(2, x.rank())}; }

}  // namespace

MaxPool2dResult maxpool2d_forward(const Tensor& x, const Pool2dGeometry& geo, bool with_argmax) {
  const Shape out_shape{geo.n, geo.c, geo.oh, geo.ow};
  MaxPool2dResult r;
  r.y = out_like(out_shape, x);
  if (with_argmax) r.argmax = out_like(out_shape, x);
  const auto rows = windows(geo.rows), cols = windows(geo.cols);
  cuda::maxpool_forward(ctx_of(x), pool_shape(geo), rows.data(), cols.data(), x.device_data(), r.y.device_data(),
                        dptr(r.argmax));
  return r;
}

Tensor maxpool2d_backward(const Tensor& g, const Tensor& x, const Tensor& argmax, const Pool2dGeometry& geo) {
  const Tensor index = argmax.defined() ? argmax : maxpool2d_forward(x, geo, true).argmax;
  Tensor dx = out_like(x.shape(), g);
  cuda::maxpool_backward(ctx_of(g), pool_shape(geo), g.device_data(), index.device_data(), dx.device_data());
  return dx;
}

Tensor mean_pool_forward(const Tensor& x, const Pool2dGeometry& geo) {
  Tensor y = out_like(Shape{geo.n, geo.c, geo.oh, geo.ow}, x);
  const auto rows = windows(geo.rows), cols = windows(geo.cols);
  cuda::meanpool_forward(ctx_of(x), pool_shape(geo), rows.data(), cols.data(), x.device_data(), y.device_data());
  return y;
}

Tensor mean_pool_backward(const Tensor& g, const Pool2dGeometry& geo) {
  Tensor dx = out_like(Shape{geo.n, geo.c, geo.h, geo.w}, g);
  const auto rows = windows(geo.rows), cols = windows(geo.cols);
  cuda::meanpool_backward(ctx_of(g), pool_shape(geo), rows.data(), cols.data(), g.device_data(), dx.device_data());
  return dx;
}

Tensor softmax_forward(const Tensor& x, bool log, int64_t outer, int64_t len, int64_t inner) {
  Tensor y = out_like(x.shape(), x);
  cuda::softmax_forward(ctx_of(x), log, x.device_data(), y.device_data(), outer, len, inner);
  return y;
}

Tensor softmax_backward(const Tensor& g, const Tensor& y, bool log, int64_t outer, int64_t len, int64_t inner) {
  Tensor dx = out_like(y.shape(), g);
  cuda::softmax_backward(ctx_of(g), log, g.device_data(), y.device_data(), dx.device_data(), outer, len, inner);
  return dx;
}

ChannelAffine batchnorm_affine(const Tensor& weight, const Tensor& bias, const Tensor& mean, const Tensor& var,
                               float eps) {
  const int64_t c = weight.numel();
  ChannelAffine a{out_like(Shape{c}, weight), out_like(Shape{c}, weight)};
  cuda::batchnorm_affine(ctx_of(weight), weight.device_data(), bias.device_data(), mean.device_data(),
                         var.device_data(), eps, c, a.scale.device_data(), a.shift.device_data());
  return a;
}

Tensor channel_affine(const Tensor& x, const Tensor& scale, const Tensor& shift) {
  const Planes p = planes_of(x.shape());
  Tensor y = out_like(x.shape(), x);
  cuda::channel_affine(ctx_of(x), x.device_data(), scale.device_data(), dptr(shift), p.n, p.c, p.inner,
                       y.device_data());
  return y;
}

Tensor batchnorm_backward_input(const Tensor& g, const Tensor& weight, const Tensor& var, float eps) {
  // dx = g * weight / sqrt(var + eps): the channel affine map with scale from batchnorm_affine
  // (its shift, computed from zero stand-ins, is not used).
  Tensor zero = out_like(weight.shape(), weight);
  zero.fill(0.0f);
  const ChannelAffine a = batchnorm_affine(weight, zero, zero, var, eps);
  return channel_affine(g, a.scale, Tensor());
}

BatchNormParamGrads batchnorm_backward_params(const Tensor& g, const Tensor& x, const Tensor& weight,
                                              const Tensor& mean, const Tensor& var, float eps) {
  const Planes p = planes_of(x.shape());
  const Shape cs{p.c};
  BatchNormParamGrads r{out_like(cs, g), out_like(cs, g), out_like(cs, g), out_like(cs, g)};
  cuda::batchnorm_param_grads(ctx_of(g), g.device_data(), x.device_data(), weight.device_data(), mean.device_data(),
                              var.device_data(), eps, p.n, p.c, p.inner, r.weight.device_data(),
                              r.bias.device_data(), r.mean.device_data(), r.var.device_data());
  return r;
}

LayerNormResult layernorm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t d, float eps) {
  const int64_t m = d > 0 ? x.numel() / d : 0;
  LayerNormResult r{out_like(x.shape(), x), out_like(Shape{m}, x), out_like(Shape{m}, x)};
  cuda::layernorm_forward(ctx_of(x), x.device_data(), dptr(weight), dptr(bias), eps, m, d, r.y.device_data(),
                          r.mean.device_data(), r.rstd.device_data());
  return r;
}

Tensor layernorm_backward_input(const Tensor& g, const Tensor& x, const Tensor& weight, const Tensor& mean,
                                const Tensor& rstd, int64_t d) {
  const int64_t m = d > 0 ? x.numel() / d : 0;
  Tensor dx = out_like(x.shape(), g);
  cuda::layernorm_backward_input(ctx_of(g), g.device_data(), x.device_data(), dptr(weight), mean.device_data(),
                                 rstd.device_data(), m, d, dx.device_data());
  return dx;
}

LayerNormParamGrads layernorm_backward_params(const Tensor& g, const Tensor& x, const Tensor& mean,
                                              const Tensor& rstd, const Shape& param_shape) {
  const int64_t d = param_shape.numel(), m = d > 0 ? x.numel() / d : 0;
  LayerNormParamGrads r{out_like(param_shape, g), out_like(param_shape, g)};
  cuda::layernorm_backward_params(ctx_of(g), g.device_data(), x.device_data(), mean.device_data(), rstd.device_data(),
                                  m, d, r.weight.device_data(), r.bias.device_data());
  return r;
}

namespace {
// Validated indices on the weight's device: checked on the host (copied there when needed).
Tensor device_indices(const Tensor& indices, const Tensor& weight, int64_t num) {
  const Tensor host = indices.to_cpu();
  check_embedding_indices(host, num);
  if (indices.is_cuda()) return indices;
  Tensor d = out_like(indices.shape(), weight);
  d.copy_from(host);
  return d;
}
}  // namespace

Tensor embedding(const Tensor& indices, const Tensor& weight) {
  const int64_t num = weight.size(0), dim = weight.size(1), n = indices.numel();
  const Tensor idx = device_indices(indices, weight, num);
  Shape ys = indices.shape();
  ys.push_back(dim);
  Tensor y = out_like(ys, weight);
  cuda::embedding_forward(ctx_of(weight), idx.device_data(), n, weight.device_data(), dim, y.device_data());
  return y;
}

Tensor embedding_backward(const Tensor& g, const Tensor& indices, const Shape& weight_shape) {
  const int64_t num = weight_shape[0], dim = weight_shape[1], n = indices.numel();
  const Tensor idx = device_indices(indices, g, num);
  Tensor dw = out_like(weight_shape, g);
  cuda::embedding_backward(ctx_of(g), g.device_data(), idx.device_data(), n, dim, num, dw.device_data());
  return dw;
}

}  // namespace backlight::fn::cuda_ops
#endif  // BACKLIGHT_HAVE_CUDA
