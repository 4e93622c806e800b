// The default rule: the plain gradient, one line per op kind.
#include "engine/vjp.h"

namespace backlight {

std::vector<Tensor> plain_vjp(const RuleContext& ctx, const Tensor& g) {
  switch (ctx.kind()) {
#define X(e, ...) \
  case OpKind::e:   \
    return vjp_##e(ctx, g);
#include "engine/op_kinds.def"
#undef X
  }
  BL_THROW("plain_vjp: unknown op kind ", static_cast<int>(ctx.kind()));
}

namespace {
class Gradient final : public Rule {
 public:
  std::string name() const override { return "gradient"; }
  std::vector<Tensor> backward(const RuleContext& ctx, const Tensor& g) const override { return plain_vjp(ctx, g); }
};
}  // namespace

RulePtr gradient_rule() {
  // Immutable and stateless, so one shared instance is safe from any thread.
  static const RulePtr rule = std::make_shared<const Gradient>();
  return rule;
}

}  // namespace backlight
