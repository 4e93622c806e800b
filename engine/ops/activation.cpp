// Element-wise activations: forward on the tape and plain VJPs (math in activation_math.h,
// named in engine/functional/map_math.h so the same ops run on CUDA tensors).
#include "engine/functional/map.h"
#include "engine/ops/ops.h"
#include "engine/vjp.h"

namespace backlight {

namespace {

using maps::Grad;
using maps::Unary;

Var unary(OpKind kind, const Var& x, std::string_view name, Unary op, float p = 0.0f, OpAttrs attrs = {}) {
  Tensor y = fn::map_named(x.value(), &x.tape().workspace(), op, p);
  return x.tape().record(kind, name, {x}, std::move(y), attrs);
}

}  // namespace

Var relu(const Var& x, std::string_view name) { return unary(OpKind::Relu, x, name, Unary::Relu); }
Var relu6(const Var& x, std::string_view name) { return unary(OpKind::Relu6, x, name, Unary::Relu6); }
Var leaky_relu(const Var& x, float s, std::string_view name) {
  return unary(OpKind::LeakyRelu, x, name, Unary::LeakyRelu, s, LeakyReluAttrs{s});
}
Var sigmoid(const Var& x, std::string_view name) { return unary(OpKind::Sigmoid, x, name, Unary::Sigmoid); }
Var tanh(const Var& x, std::string_view name) { return unary(OpKind::Tanh, x, name, Unary::Tanh); }
Var gelu(const Var& x, bool tanh_approximation, std::string_view name) {
  return unary(OpKind::Gelu, x, name, tanh_approximation ? Unary::GeluTanh : Unary::Gelu, 0.0f,
               GeluAttrs{tanh_approximation});
}
Var silu(const Var& x, std::string_view name) { return unary(OpKind::Silu, x, name, Unary::Silu); }
Var hardswish(const Var& x, std::string_view name) { return unary(OpKind::HardSwish, x, name, Unary::HardSwish); }
Var hardsigmoid(const Var& x, float alpha, float beta, std::string_view name) {
  Tensor y = fn::map_named(x.value(), &x.tape().workspace(), Unary::HardSigmoid, alpha, beta);
  return x.tape().record(OpKind::HardSigmoid, name, {x}, std::move(y), HardSigmoidAttrs{alpha, beta});
}
Var clip(const Var& x, float min, float max, std::string_view name) {
  BL_CHECK(!(min > max), "clip: min ", min, " is above max ", max);
  Tensor y = fn::map_named(x.value(), &x.tape().workspace(), Unary::Clip, min, max);
  return x.tape().record(OpKind::Clip, name, {x}, std::move(y), ClipAttrs{min, max});
}
Var dropout(const Var& x, float p, std::string_view name) {
  // Inference: identity. The output aliases the input; nothing writes to tape values.
  return x.tape().record(OpKind::Dropout, name, {x}, x.value(), DropoutAttrs{p});
}

std::vector<Tensor> vjp_Relu(const RuleContext& ctx, const Tensor& g) {
  return {fn::map_grad_named(g, ctx.input(0), &ctx.workspace(), Grad::Relu)};
}
std::vector<Tensor> vjp_Relu6(const RuleContext& ctx, const Tensor& g) {
  return {fn::map_grad_named(g, ctx.input(0), &ctx.workspace(), Grad::Relu6)};
}
std::vector<Tensor> vjp_LeakyRelu(const RuleContext& ctx, const Tensor& g) {
  const float s = ctx.attrs<LeakyReluAttrs>().negative_slope;
  return {fn::map_grad_named(g, ctx.input(0), &ctx.workspace(), Grad::LeakyRelu, s)};
}
std::vector<Tensor> vjp_Sigmoid(const RuleContext& ctx, const Tensor& g) {
  return {fn::map_grad_named(g, ctx.output(), &ctx.workspace(), Grad::Sigmoid)};
}
std::vector<Tensor> vjp_Tanh(const RuleContext& ctx, const Tensor& g) {
  return {fn::map_grad_named(g, ctx.output(), &ctx.workspace(), Grad::Tanh)};
}
std::vector<Tensor> vjp_Gelu(const RuleContext& ctx, const Tensor& g) {
  const Grad op = ctx.attrs<GeluAttrs>().tanh_approximation ? Grad::GeluTanh : Grad::Gelu;
  return {fn::map_grad_named(g, ctx.input(0), &ctx.workspace(), op)};
}
std::vector<Tensor> vjp_Dropout(const RuleContext&, const Tensor& g) { return {g}; }
std::vector<Tensor> vjp_Silu(const RuleContext& ctx, const Tensor& g) {
  return {fn::map_grad_named(g, ctx.input(0), &ctx.workspace(), Grad::Silu)};
}
std::vector<Tensor> vjp_HardSwish(const RuleContext& ctx, const Tensor& g) {
  return {fn::map_grad_named(g, ctx.input(0), &ctx.workspace(), Grad::HardSwish)};
}
std::vector<Tensor> vjp_HardSigmoid(const RuleContext& ctx, const Tensor& g) {
  const auto& a = ctx.attrs<HardSigmoidAttrs>();
  return {fn::map_grad_named(g, ctx.input(0), &ctx.workspace(), Grad::HardSigmoid, a.alpha, a.beta)};
}
std::vector<Tensor> vjp_Clip(const RuleContext& ctx, const Tensor& g) {
  const auto& a = ctx.attrs<ClipAttrs>();
  return {fn::map_grad_named(g, ctx.input(0), &ctx.workspace(), Grad::Clip, a.min, a.max)};
}

}  // namespace backlight
