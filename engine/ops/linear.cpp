// linear: forward on the tape and its plain VJP.
#include "engine/functional/linear.h"
#include "engine/ops/ops.h"
#include "engine/vjp.h"

namespace backlight {

Var linear(const Var& x, const Var& weight, const Var& bias, std::string_view name) {
  Tape& t = x.tape();
  Tensor y = fn::linear_forward(x.value(), weight.value(), bias.defined() ? bias.value() : Tensor(), &t.workspace());
  return t.record(OpKind::Linear, name, {x, weight, bias}, std::move(y));
}

std::vector<Tensor> vjp_Linear(const RuleContext& ctx, const Tensor& g) {
  std::vector<Tensor> out(ctx.num_inputs());
  const Workspace* ws = &ctx.workspace();
  if (ctx.needs_grad(0)) out[0] = fn::linear_backward_input(g, ctx.input(1), ctx.input(0).shape(), ws);
  if (ctx.needs_grad(1)) out[1] = fn::linear_backward_weight(g, ctx.input(0), ws);
  if (ctx.num_inputs() > 2 && ctx.needs_grad(2)) out[2] = fn::linear_backward_bias(g, ws);
  return out;
}

}  // namespace backlight
