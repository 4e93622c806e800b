// add / sub / mul with numpy broadcasting, and scale: forward and plain VJPs.
#include "engine/functional/elementwise.h"
#include "engine/ops/ops.h"
#include "engine/vjp.h"

namespace backlight {

namespace {
Var binary_op(OpKind kind, fn::BinaryOp op, const Var& a, const Var& b, std::string_view name) {
  Tape& t = a.tape();
  return t.record(kind, name, {a, b}, fn::binary(op, a.value(), b.value(), &t.workspace()));
}
}  // namespace

Var add(const Var& a, const Var& b, std::string_view name) {
  return binary_op(OpKind::Add, fn::BinaryOp::Add, a, b, name);
}
Var sub(const Var& a, const Var& b, std::string_view name) {
  return binary_op(OpKind::Sub, fn::BinaryOp::Sub, a, b, name);
}
Var mul(const Var& a, const Var& b, std::string_view name) {
  return binary_op(OpKind::Mul, fn::BinaryOp::Mul, a, b, name);
}

Var scale(const Var& x, float factor, std::string_view name) {
  Tape& t = x.tape();
  return t.record(OpKind::Scale, name, {x}, fn::scale(x.value(), factor, &t.workspace()), ScaleAttrs{factor});
}

std::vector<Tensor> vjp_Add(const RuleContext& ctx, const Tensor& g) {
  std::vector<Tensor> out(2);
  for (int i = 0; i < 2; ++i)
    if (ctx.needs_grad(i)) out[i] = fn::sum_to(g, ctx.input(i).shape(), &ctx.workspace());
  return out;
}

std::vector<Tensor> vjp_Sub(const RuleContext& ctx, const Tensor& g) {
  std::vector<Tensor> out(2);
  if (ctx.needs_grad(0)) out[0] = fn::sum_to(g, ctx.input(0).shape(), &ctx.workspace());
  if (ctx.needs_grad(1)) out[1] = fn::scale(fn::sum_to(g, ctx.input(1).shape(), &ctx.workspace()), -1.0f,
                                            &ctx.workspace());
  return out;
}

std::vector<Tensor> vjp_Mul(const RuleContext& ctx, const Tensor& g) {
  std::vector<Tensor> out(2);
  const Workspace* ws = &ctx.workspace();
  if (ctx.needs_grad(0)) out[0] = fn::sum_to(fn::binary(fn::BinaryOp::Mul, g, ctx.input(1), ws), ctx.input(0).shape(), ws);
  if (ctx.needs_grad(1)) out[1] = fn::sum_to(fn::binary(fn::BinaryOp::Mul, g, ctx.input(0), ws), ctx.input(1).shape(), ws);
  return out;
}

std::vector<Tensor> vjp_Scale(const RuleContext& ctx, const Tensor& g) {
  return {fn::scale(g, ctx.attrs<ScaleAttrs>().factor, &ctx.workspace())};
}

}  // namespace backlight
