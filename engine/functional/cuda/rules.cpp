// CUDA versions of the rule maps (see cuda_ops.h; math in engine/rules/rule_math.h).
#ifdef BACKLIGHT_HAVE_CUDA
#include "engine/functional/cuda/common.h"
#include "engine/functional/cuda_ops.h"

namespace backlight::fn::cuda_ops {

Tensor deeplift_rescale(const Tensor& x, const Tensor& y, const Tensor& g, const Tensor& plain, float eps) {
  Tensor out = out_like(x.shape(), x);
  cuda::deeplift_rescale(ctx_of(x), x.device_data(), y.device_data(), g.device_data(), plain.device_data(),
                         out.device_data(), x.numel() / 2, eps);
  return out;
}

void center_pairs(Tensor& out) {
  const int64_t n = out.size(0) / 2, per_item = out.numel() / out.size(0);
  cuda::center_pairs(ctx_of(out), out.device_data(), n, per_item);
}

Tensor deeplift_maxpool_weights(const Tensor& y, const Tensor& g) {
  Tensor w = out_like(y.shape(), y);
  cuda::deeplift_maxpool_weights(ctx_of(y), y.device_data(), g.device_data(), w.device_data(), y.numel() / 2);
  return w;
}

Tensor deeplift_from_unpooled(const Tensor& x, const Tensor& unpooled, const Tensor& plain, float eps) {
  Tensor out = out_like(x.shape(), x);
  cuda::deeplift_from_unpooled(ctx_of(x), x.device_data(), unpooled.device_data(), plain.device_data(),
                               out.device_data(), x.numel() / 2, eps);
  return out;
}

Tensor lrp_ratio(const Tensor& rel, const Tensor& z, const Tensor& out, int where, float eps) {
  Tensor s = out_like(rel.shape(), rel);
  cuda::lrp_ratio(ctx_of(rel), rel.device_data(), z.device_data(), out.device_data(), where, eps, s.device_data(),
                  rel.numel());
  return s;
}

void lrp_accumulate(Tensor& acc, float coef, const Tensor& in, const Tensor& c) {
  cuda::lrp_accumulate(ctx_of(acc), acc.device_data(), coef, dptr(in), c.device_data(), acc.numel());
}

}  // namespace backlight::fn::cuda_ops
#endif  // BACKLIGHT_HAVE_CUDA
