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

Var div(const Var& a, const Var& b, std::string_view name) {
  return binary_op(OpKind::Div, fn::BinaryOp::Div, a, b, name);
}
Var maximum(const Var& a, const Var& b, std::string_view name) {
  return binary_op(OpKind::Maximum, fn::BinaryOp::Max, a, b, name);
}
Var minimum(const Var& a, const Var& b, std::string_view name) {
  return binary_op(OpKind::Minimum, fn::BinaryOp::Min, a, b, name);
}

Var pow(const Var& a, const Var& b, std::string_view name) {
  return binary_op(OpKind::PowTensor, fn::BinaryOp::Pow, a, b, name);
}

Var where(const Tensor& condition, const Var& a, const Var& b, std::string_view name) {
  Tape& t = a.tape();
  const Workspace* ws = &t.workspace();
  const Tensor c = a.value().is_cuda() && !condition.is_cuda() ? condition.to(Device::CUDA, ws) : condition;
  fn::broadcast_shape(fn::broadcast_shape(c.shape(), a.shape(), "where"), b.shape(), "where");
  // Selects (never c * a + (1 - c) * b): a NaN or Inf on the unselected side stays out.
  Tensor y = fn::binary(fn::BinaryOp::Add, fn::binary(fn::BinaryOp::Gate, c, a.value(), ws),
                        fn::binary(fn::BinaryOp::GateNot, c, b.value(), ws), ws);
  return t.record(OpKind::Where, name, {a, b}, std::move(y), {}, {c});
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
  // mul_sum_to: a broadcast operand's gradient (a squeeze-excitation gate) without the full-size
  // product in between.
  if (ctx.needs_grad(0)) out[0] = fn::mul_sum_to(g, ctx.input(1), ctx.input(0).shape(), ws);
  if (ctx.needs_grad(1)) out[1] = fn::mul_sum_to(g, ctx.input(0), ctx.input(1).shape(), ws);
  return out;
}

std::vector<Tensor> vjp_Scale(const RuleContext& ctx, const Tensor& g) {
  return {fn::scale(g, ctx.attrs<ScaleAttrs>().factor, &ctx.workspace())};
}

}  // namespace backlight

namespace backlight {

// torch: d(a/b)/da = g / b, d(a/b)/db = -g a / b^2.
std::vector<Tensor> vjp_Div(const RuleContext& ctx, const Tensor& g) {
  std::vector<Tensor> out(2);
  const Workspace* ws = &ctx.workspace();
  const Tensor &a = ctx.input(0), &b = ctx.input(1);
  using fn::BinaryOp;
  if (ctx.needs_grad(0)) out[0] = fn::sum_to(fn::binary(BinaryOp::Div, g, b, ws), a.shape(), ws);
  if (ctx.needs_grad(1)) {
    const Tensor num = fn::scale(fn::binary(BinaryOp::Mul, g, a, ws), -1.0f, ws);
    out[1] = fn::sum_to(fn::binary(BinaryOp::Div, num, fn::binary(BinaryOp::Mul, b, b, ws), ws), b.shape(), ws);
  }
  return out;
}

namespace {
// torch.maximum's backward: the larger side takes g, ties give g/2 to each side, NaN passes g to
// both; minimum is maximum with the comparison turned around.
std::vector<Tensor> extremum_vjp(const RuleContext& ctx, const Tensor& g, bool maximum) {
  std::vector<Tensor> out(2);
  const Workspace* ws = &ctx.workspace();
  const Tensor &a = ctx.input(0), &b = ctx.input(1);
  using fn::BinaryOp;
  for (int i = 0; i < 2; ++i) {
    if (!ctx.needs_grad(i)) continue;
    const bool first = (i == 0) == maximum;  // share of input i: MaxWeight(i, other) for maximum
    const Tensor w = fn::binary(BinaryOp::MaxWeight, first ? a : b, first ? b : a, ws);
    out[i] = fn::sum_to(fn::binary(BinaryOp::Gate, w, g, ws), ctx.input(i).shape(), ws);
  }
  return out;
}
}  // namespace

std::vector<Tensor> vjp_Maximum(const RuleContext& ctx, const Tensor& g) { return extremum_vjp(ctx, g, true); }
std::vector<Tensor> vjp_Minimum(const RuleContext& ctx, const Tensor& g) { return extremum_vjp(ctx, g, false); }

// where(c, g, 0) and where(c, 0, g), summed down to each side's shape.
std::vector<Tensor> vjp_Where(const RuleContext& ctx, const Tensor& g) {
  std::vector<Tensor> out(2);
  const Workspace* ws = &ctx.workspace();
  const Tensor& c = ctx.node().saved.at(0);
  if (ctx.needs_grad(0)) out[0] = fn::sum_to(fn::binary(fn::BinaryOp::Gate, c, g, ws), ctx.input(0).shape(), ws);
  if (ctx.needs_grad(1)) out[1] = fn::sum_to(fn::binary(fn::BinaryOp::GateNot, c, g, ws), ctx.input(1).shape(), ws);
  return out;
}

// torch's pow_backward_self / pow_backward_exponent: g * b * a^(b-1) (0 where b == 0) and
// g * a^b * log(a) (0 where a == 0 and b >= 0), summed down to each side's shape.
std::vector<Tensor> vjp_PowTensor(const RuleContext& ctx, const Tensor& g) {
  std::vector<Tensor> out(2);
  const Workspace* ws = &ctx.workspace();
  const Tensor &a = ctx.input(0), &b = ctx.input(1);
  const fn::BinaryOp factor[2] = {fn::BinaryOp::PowGradBase, fn::BinaryOp::PowGradExponent};
  for (int i = 0; i < 2; ++i)
    if (ctx.needs_grad(i))
      out[i] = fn::sum_to(fn::binary(fn::BinaryOp::Mul, g, fn::binary(factor[i], a, b, ws), ws), ctx.input(i).shape(),
                          ws);
  return out;
}

}  // namespace backlight
