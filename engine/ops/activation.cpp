// Element-wise activations: forward on the tape and plain VJPs (math in activation_math.h).
// The math functions are wrapped in lambdas, not passed as function pointers: a pointer argument
// becomes an indirect call per element and blocks vectorisation of the map loops.
#include "engine/functional/activation_math.h"
#include "engine/functional/map.h"
#include "engine/ops.h"
#include "engine/vjp.h"

namespace backlight {

namespace {

// g * f'(v) where v is the forward input or output, as the derivative needs.
template <class F>
Tensor map_grad(const Tensor& g, const Tensor& v, const Workspace* ws, F dfdv) {
  return fn::map_binary(g, v, ws, [&](float gi, float vi) { return gi * dfdv(vi); });
}

Var unary(OpKind kind, const Var& x, std::string_view name, Tensor y, OpAttrs attrs = {}) {
  return x.tape().record(kind, name, {x}, std::move(y), attrs);
}

}  // namespace

Var relu(const Var& x, std::string_view name) {
  return unary(OpKind::Relu, x, name,
               fn::map_unary(x.value(), &x.tape().workspace(), [](float v) { return math::relu(v); }));
}
Var relu6(const Var& x, std::string_view name) {
  return unary(OpKind::Relu6, x, name,
               fn::map_unary(x.value(), &x.tape().workspace(), [](float v) { return math::relu6(v); }));
}
Var leaky_relu(const Var& x, float s, std::string_view name) {
  return unary(OpKind::LeakyRelu, x, name,
               fn::map_unary(x.value(), &x.tape().workspace(), [s](float v) { return math::leaky_relu(v, s); }),
               LeakyReluAttrs{s});
}
Var sigmoid(const Var& x, std::string_view name) {
  return unary(OpKind::Sigmoid, x, name,
               fn::map_unary(x.value(), &x.tape().workspace(), [](float v) { return math::sigmoid(v); }));
}
Var tanh(const Var& x, std::string_view name) {
  return unary(OpKind::Tanh, x, name,
               fn::map_unary(x.value(), &x.tape().workspace(), [](float v) { return std::tanh(v); }));
}
Var gelu(const Var& x, bool tanh_approximation, std::string_view name) {
  const Workspace* ws = &x.tape().workspace();
  Tensor y = tanh_approximation ? fn::map_unary(x.value(), ws, [](float v) { return math::gelu_tanh(v); })
                                : fn::map_unary(x.value(), ws, [](float v) { return math::gelu(v); });
  return unary(OpKind::Gelu, x, name, std::move(y), GeluAttrs{tanh_approximation});
}
Var dropout(const Var& x, float p, std::string_view name) {
  // Inference: identity. The output aliases the input; nothing writes to tape values.
  return unary(OpKind::Dropout, x, name, x.value(), DropoutAttrs{p});
}

std::vector<Tensor> vjp_Relu(const RuleContext& ctx, const Tensor& g) {
  return {map_grad(g, ctx.input(0), &ctx.workspace(), [](float v) { return math::relu_grad(v); })};
}
std::vector<Tensor> vjp_Relu6(const RuleContext& ctx, const Tensor& g) {
  return {map_grad(g, ctx.input(0), &ctx.workspace(), [](float v) { return math::relu6_grad(v); })};
}
std::vector<Tensor> vjp_LeakyRelu(const RuleContext& ctx, const Tensor& g) {
  const float s = ctx.attrs<LeakyReluAttrs>().negative_slope;
  return {map_grad(g, ctx.input(0), &ctx.workspace(), [s](float v) { return math::leaky_relu_grad(v, s); })};
}
std::vector<Tensor> vjp_Sigmoid(const RuleContext& ctx, const Tensor& g) {
  return {map_grad(g, ctx.output(), &ctx.workspace(), [](float v) { return math::sigmoid_grad_from_y(v); })};
}
std::vector<Tensor> vjp_Tanh(const RuleContext& ctx, const Tensor& g) {
  return {map_grad(g, ctx.output(), &ctx.workspace(), [](float v) { return math::tanh_grad_from_y(v); })};
}
std::vector<Tensor> vjp_Gelu(const RuleContext& ctx, const Tensor& g) {
  const Workspace* ws = &ctx.workspace();
  if (ctx.attrs<GeluAttrs>().tanh_approximation)
    return {map_grad(g, ctx.input(0), ws, [](float v) { return math::gelu_tanh_grad(v); })};
  return {map_grad(g, ctx.input(0), ws, [](float v) { return math::gelu_grad(v); })};
}
std::vector<Tensor> vjp_Dropout(const RuleContext&, const Tensor& g) { return {g}; }

}  // namespace backlight
