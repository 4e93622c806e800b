// Element-wise math the ONNX importer needs (exp, log, sqrt, erf, abs, pow with a constant
// exponent): forward on the tape and plain VJPs. Per-element formulas in activation_math.h
// (PyTorch's, including its special pow exponents), named in map_math.h so CUDA runs them too.
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

Var exp(const Var& x, std::string_view name) { return unary(OpKind::Exp, x, name, Unary::Exp); }
Var log(const Var& x, std::string_view name) { return unary(OpKind::Log, x, name, Unary::Log); }
Var sqrt(const Var& x, std::string_view name) { return unary(OpKind::Sqrt, x, name, Unary::Sqrt); }
Var erf(const Var& x, std::string_view name) { return unary(OpKind::Erf, x, name, Unary::Erf); }
Var abs(const Var& x, std::string_view name) { return unary(OpKind::Abs, x, name, Unary::Abs); }
Var pow(const Var& x, float exponent, std::string_view name) {
  return unary(OpKind::Pow, x, name, Unary::Pow, exponent, PowAttrs{exponent});
}

// exp' = y and sqrt' = 1 / (2 y) from the output (as torch); the others from the input.
std::vector<Tensor> vjp_Exp(const RuleContext& ctx, const Tensor& g) {
  return {fn::map_grad_named(g, ctx.output(), &ctx.workspace(), Grad::Exp)};
}
std::vector<Tensor> vjp_Log(const RuleContext& ctx, const Tensor& g) {
  return {fn::map_grad_named(g, ctx.input(0), &ctx.workspace(), Grad::Log)};
}
std::vector<Tensor> vjp_Sqrt(const RuleContext& ctx, const Tensor& g) {
  return {fn::map_grad_named(g, ctx.output(), &ctx.workspace(), Grad::Sqrt)};
}
std::vector<Tensor> vjp_Erf(const RuleContext& ctx, const Tensor& g) {
  return {fn::map_grad_named(g, ctx.input(0), &ctx.workspace(), Grad::Erf)};
}
std::vector<Tensor> vjp_Abs(const RuleContext& ctx, const Tensor& g) {
  return {fn::map_grad_named(g, ctx.input(0), &ctx.workspace(), Grad::Abs)};
}
std::vector<Tensor> vjp_Pow(const RuleContext& ctx, const Tensor& g) {
  return {fn::map_grad_named(g, ctx.input(0), &ctx.workspace(), Grad::Pow, ctx.attrs<PowAttrs>().exponent)};
}

}  // namespace backlight
