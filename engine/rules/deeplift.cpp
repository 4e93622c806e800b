// DeepLIFT Rescale on a paired tape (batch = [inputs; references]), following Captum 0.8
// (captum/attr/_core/deep_lift.py: nonlinear, softmax, maxpool).
#include <cmath>

#include "engine/functional/cuda_ops.h"
#include "engine/functional/dispatch.h"
#include "engine/functional/pool.h"
#include "engine/parallel.h"
#include "engine/rules/builtin.h"
#include "engine/rules/rule_math.h"

namespace backlight {

namespace {

constexpr int64_t kGrain = 1 << 14;

bool is_rescaled_elementwise(OpKind k) {
  return k == OpKind::Relu || k == OpKind::Relu6 || k == OpKind::LeakyRelu || k == OpKind::Sigmoid ||
         k == OpKind::Tanh || k == OpKind::Gelu;
}

// Elements per half of a paired batch; both halves share the multiplier computed from
// (input - reference) and (output - output_reference).
int64_t half_size(const RuleContext& ctx, const Tensor& t) {
  if (!ctx.has_reference())
    throw RuleError(detail::concat("deeplift: node '", ctx.name(), "' (", to_string(ctx.kind()),
                                   ") needs a paired reference pass (TapeOptions::paired_reference = true, batch = "
                                   "[inputs; references])"));
  BL_CHECK_SHAPE(t.dim() >= 1 && t.size(0) % 2 == 0, "deeplift: paired batch must have an even batch size, got ",
                 t.shape(), " at node '", ctx.name(), "'");
  return t.numel() / 2;
}

// where(|dx| < eps, plain, g * dy / dx), dx and dy taken from the first half for both halves.
Tensor rescale(const RuleContext& ctx, const Tensor& g, float eps) {
  const Tensor& x = ctx.input(0);
  const Tensor& y = ctx.output();
  const int64_t half = half_size(ctx, x);
  const Tensor plain = plain_vjp(ctx, g)[0];
  BL_ON_CUDA("deeplift", &ctx.workspace(), x, y, g, plain) return fn::cuda_ops::deeplift_rescale(x, y, g, plain, eps);
  Tensor out = ctx.alloc(x.shape());
  const float *px = x.data(), *py = y.data(), *pg = g.data(), *pp = plain.data();
  float* po = out.data();
  parallel_for(half, kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const float dx = px[i] - px[i + half];
      const float dy = py[i] - py[i + half];
      po[i] = rule_math::rescale(pg[i], pp[i], dx, dy, eps);
      po[i + half] = rule_math::rescale(pg[i + half], pp[i + half], dx, dy, eps);
    }
  });
  return out;
}

// Captum normalises the rescaled softmax signal by subtracting its mean over the whole tensor
// (both halves, all items). Here the mean is taken per item (over both halves of that item),
// which equals Captum's for a batch of one input and keeps items independent otherwise.
Tensor softmax_rescale(const RuleContext& ctx, const Tensor& g, float eps) {
  Tensor out = rescale(ctx, g, eps);
  if (out.is_cuda()) {
    if constexpr (kCudaBuild) fn::cuda_ops::center_pairs(out);
    return out;
  }
  const int64_t n = out.size(0) / 2, per_item = out.numel() / out.size(0);
  float* po = out.data();
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t j = 0; j < per_item; ++j) s += po[i * per_item + j] + po[(i + n) * per_item + j];
    const float mean = static_cast<float>(s / (2 * per_item));
    for (int64_t j = 0; j < per_item; ++j) {
      po[i * per_item + j] -= mean;
      po[(i + n) * per_item + j] -= mean;
    }
  }
  return out;
}

// Captum's maxpool rule: the cross maximum m = max(y, y_ref) splits the output difference into
// (m - y_ref) routed through the input's argmax and (y - m) through the reference's argmax; the
// sum, divided by the input difference, is the multiplier for both halves.
Tensor maxpool_rescale(const RuleContext& ctx, const Tensor& g, float eps) {
  const Tensor& x = ctx.input(0);
  const Tensor& y = ctx.output();
  const auto& a = ctx.attrs<Pool2dAttrs>();
  const Workspace* ws = &ctx.workspace();
  const int64_t half_in = half_size(ctx, x), half_out = y.numel() / 2;
  const Tensor argmax = fn::maxpool2d_forward(x, a, ws, /*with_argmax=*/true).argmax;
  BL_ON_CUDA("deeplift", ws, x, y, g) {
    const Tensor weighted = fn::cuda_ops::deeplift_maxpool_weights(y, g);
    const Tensor unpooled = fn::maxpool2d_backward(weighted, x, argmax, a, ws);
    const Tensor plain = fn::maxpool2d_backward(g, x, argmax, a, ws);
    return fn::cuda_ops::deeplift_from_unpooled(x, unpooled, plain, eps);
  }
  Tensor weighted = ctx.alloc(y.shape());
  const float *py = y.data(), *pg = g.data();
  float* pw = weighted.data();
  for (int64_t i = 0; i < half_out; ++i) {
    const float m = std::max(py[i], py[i + half_out]);
    pw[i] = pg[i] * (m - py[i + half_out]);
    pw[i + half_out] = pg[i + half_out] * (py[i] - m);
  }
  const Tensor unpooled = fn::maxpool2d_backward(weighted, x, argmax, a, ws);
  const Tensor plain = fn::maxpool2d_backward(g, x, argmax, a, ws);
  Tensor out = ctx.alloc(x.shape());
  const float *px = x.data(), *pu = unpooled.data(), *pp = plain.data();
  float* po = out.data();
  parallel_for(half_in, kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const float dx = px[i] - px[i + half_in];
      const float u = pu[i] + pu[i + half_in];
      po[i] = rule_math::rescale(1.0f, pp[i], dx, u, eps);
      po[i + half_in] = rule_math::rescale(1.0f, pp[i + half_in], dx, u, eps);
    }
  });
  return out;
}

class DeepLiftRescale final : public Rule {
 public:
  explicit DeepLiftRescale(float eps) : eps_(eps) {}
  std::string name() const override { return "deeplift_rescale(eps=" + std::to_string(eps_) + ")"; }
  std::vector<Tensor> backward(const RuleContext& ctx, const Tensor& g) const override {
    const OpKind k = ctx.kind();
    if (is_rescaled_elementwise(k)) return {rescale(ctx, g, eps_)};
    if (k == OpKind::Softmax) return {softmax_rescale(ctx, g, eps_)};
    if (k == OpKind::MaxPool2d) return {maxpool_rescale(ctx, g, eps_)};
    return plain_vjp(ctx, g);  // linear ops and routing: the gradient is the multiplier
  }

 private:
  float eps_;
};

}  // namespace

RulePtr deeplift_rescale(float eps) { return std::make_shared<const DeepLiftRescale>(eps); }

}  // namespace backlight
