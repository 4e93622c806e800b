// GuidedBackprop, Deconvnet and the softplus-smoothed ReLU gradient: modified gradients of ReLU-like nodes (nonlinearity relu_like in
// engine/op_kinds.def).
#include <cmath>
#include <string>

#include "engine/functional/map.h"
#include "engine/parallel.h"
#include "engine/rules/builtin.h"

namespace backlight {

namespace {

constexpr int64_t kGrain = 1 << 14;

void require_relu_like(const RuleContext& ctx, const char* rule) {
  const OpKind k = ctx.kind();
  if (facts_of(k).nonlinearity == Nonlinearity::ReluLike) return;
  std::string kinds;  // the relu_like rows of op_kinds.def
  for (OpKind r : all_op_kinds())
    if (facts_of(r).nonlinearity == Nonlinearity::ReluLike) kinds += (kinds.empty() ? "" : ", ") + std::string(to_string(r));
  throw RuleError(detail::concat(rule, ": applies to ", kinds, " nodes, got '", ctx.name(), "' (", to_string(k),
                                 "); match it with kind(OpKind::Relu)"));
}

class GuidedBackprop final : public Rule {
 public:
  std::string name() const override { return "guided_backprop"; }
  std::vector<Tensor> backward(const RuleContext& ctx, const Tensor& g) const override {
    require_relu_like(ctx, "guided_backprop");
    // relu(plain gradient): the plain gradient already carries the forward gate (and relu6's cap).
    Tensor plain = plain_vjp(ctx, g)[0];
    if (plain.is_cuda()) return {fn::map_named(plain, &ctx.workspace(), maps::Unary::PositivePart)};
    Tensor out = plain.use_count() == 1 ? plain : plain.clone(&ctx.workspace());
    float* p = out.data();
    parallel_for(out.numel(), kGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) p[i] = p[i] <= 0.0f ? 0.0f : p[i];  // NaN stays NaN (torch.clamp)
    });
    return {out};
  }
};

class Deconvnet final : public Rule {
 public:
  std::string name() const override { return "deconvnet"; }
  std::vector<Tensor> backward(const RuleContext& ctx, const Tensor& g) const override {
    require_relu_like(ctx, "deconvnet");
    if (g.is_cuda()) return {fn::map_named(g, &ctx.workspace(), maps::Unary::PositivePart)};
    Tensor out = ctx.alloc(g.shape());
    const float* pg = g.data();
    float* p = out.data();
    parallel_for(out.numel(), kGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) p[i] = pg[i] <= 0.0f ? 0.0f : pg[i];
    });
    return {out};
  }
};

// g * sigmoid(beta z) on a ReLU node (z its forward input): the derivative of softplus_beta(z) =
// log(1 + exp(beta z)) / beta, so the backward is that of a softplus network at the ReLU
// network's activations. CPU only (fn::map_binary); no named CUDA map yet.
class SoftplusGradient final : public Rule {
 public:
  explicit SoftplusGradient(float beta) : beta_(beta) {}
  std::string name() const override { return "softplus_gradient(" + std::to_string(beta_) + ")"; }
  std::vector<Tensor> backward(const RuleContext& ctx, const Tensor& g) const override {
    if (ctx.kind() != OpKind::Relu)
      throw RuleError(detail::concat("softplus_gradient: applies to relu nodes, got '", ctx.name(), "' (",
                                     to_string(ctx.kind()), "); match it with kind(OpKind::Relu)"));
    if (g.is_cuda())
      throw RuleError(detail::concat("softplus_gradient: runs on the CPU only, got a cuda signal at '", ctx.name(), "'"));
    const float beta = beta_;
    return {fn::map_binary(g, ctx.input(0), &ctx.workspace(), [beta](float gi, float z) {
      // sigmoid(beta z) = 1 / (1 + exp(-beta z)); exp overflows to inf for very negative z: 0, as it should.
      return gi / (1.0f + std::exp(-beta * z));
    })};
  }

 private:
  float beta_;
};

}  // namespace

RulePtr softplus_gradient(float beta) {
  if (!(beta > 0) || !std::isfinite(beta))
    throw RuleError(detail::concat("softplus_gradient: expected beta > 0 (finite), got ", beta));
  return std::make_shared<const SoftplusGradient>(beta);
}

RulePtr guided_backprop() { return std::make_shared<const GuidedBackprop>(); }
RulePtr deconvnet() { return std::make_shared<const Deconvnet>(); }

}  // namespace backlight
