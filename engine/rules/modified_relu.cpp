// GuidedBackprop and Deconvnet: modified gradients of ReLU-like nodes.
#include "engine/functional/map.h"
#include "engine/parallel.h"
#include "engine/rules/builtin.h"

namespace backlight {

namespace {

constexpr int64_t kGrain = 1 << 14;

void require_relu_like(const RuleContext& ctx, const char* rule) {
  const OpKind k = ctx.kind();
  if (k != OpKind::Relu && k != OpKind::Relu6 && k != OpKind::LeakyRelu)
    throw RuleError(detail::concat(rule, ": applies to relu, relu6 and leaky_relu nodes, got '", ctx.name(), "' (",
                                   to_string(k), "); match it with kind(OpKind::Relu)"));
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

}  // namespace

RulePtr guided_backprop() { return std::make_shared<const GuidedBackprop>(); }
RulePtr deconvnet() { return std::make_shared<const Deconvnet>(); }

}  // namespace backlight
