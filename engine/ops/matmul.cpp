// matmul with broadcast batch dims: forward on the tape and its plain VJP.
#include "engine/functional/elementwise.h"
#include "engine/functional/linear.h"
#include "engine/ops/ops.h"
#include "engine/vjp.h"

namespace backlight {

Var matmul(const Var& a, const Var& b, std::string_view name) {
  Tape& t = a.tape();
  return t.record(OpKind::MatMul, name, {a, b}, fn::matmul(a.value(), b.value(), &t.workspace()));
}

std::vector<Tensor> vjp_MatMul(const RuleContext& ctx, const Tensor& g) {
  std::vector<Tensor> out(2);
  const Workspace* ws = &ctx.workspace();
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  // The products carry the broadcast batch shape; sum_to folds them back onto each operand.
  if (ctx.needs_grad(0)) out[0] = fn::sum_to(fn::matmul(g, b, ws, false, true), a.shape(), ws);
  if (ctx.needs_grad(1)) out[1] = fn::sum_to(fn::matmul(a, g, ws, true, false), b.shape(), ws);
  return out;
}

}  // namespace backlight
