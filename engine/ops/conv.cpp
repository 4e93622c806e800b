// conv2d and conv_transpose2d: forward on the tape and plain VJPs.
#include "engine/functional/conv.h"
#include "engine/ops/ops.h"
#include "engine/vjp.h"

namespace backlight {

Var conv2d(const Var& x, const Var& weight, const Var& bias, const Conv2dAttrs& attrs, std::string_view name) {
  Tape& t = x.tape();
  Tensor y = fn::conv2d_forward(x.value(), weight.value(), bias.defined() ? bias.value() : Tensor(), attrs,
                                &t.workspace());
  return t.record(OpKind::Conv2d, name, {x, weight, bias}, std::move(y), attrs);
}

std::vector<Tensor> vjp_Conv2d(const RuleContext& ctx, const Tensor& g) {
  const auto& a = ctx.attrs<Conv2dAttrs>();
  std::vector<Tensor> out(ctx.num_inputs());
  const Workspace* ws = &ctx.workspace();
  if (ctx.needs_grad(0)) out[0] = fn::conv2d_backward_input(g, ctx.input(1), ctx.input(0).shape(), a, ws);
  if (ctx.needs_grad(1)) out[1] = fn::conv2d_backward_weight(g, ctx.input(0), ctx.input(1).shape(), a, ws);
  if (ctx.num_inputs() > 2 && ctx.needs_grad(2)) out[2] = fn::conv2d_backward_bias(g, ws);
  return out;
}

Var conv_transpose2d(const Var& x, const Var& weight, const Var& bias, const ConvTranspose2dAttrs& attrs,
                     std::string_view name) {
  Tape& t = x.tape();
  Tensor y = fn::conv_transpose2d_forward(x.value(), weight.value(), bias.defined() ? bias.value() : Tensor(), attrs,
                                      &t.workspace());
  return t.record(OpKind::ConvTranspose2d, name, {x, weight, bias}, std::move(y), attrs);
}

// d/dx: conv2d of g; d/dW: conv2d's weight gradient with the roles of input and output swapped.
std::vector<Tensor> vjp_ConvTranspose2d(const RuleContext& ctx, const Tensor& g) {
  const auto& a = ctx.attrs<ConvTranspose2dAttrs>();
  std::vector<Tensor> out(ctx.num_inputs());
  const Workspace* ws = &ctx.workspace();
  if (ctx.needs_grad(0)) out[0] = fn::conv2d_forward(g, ctx.input(1), Tensor(), a.conv, ws);
  if (ctx.needs_grad(1)) out[1] = fn::conv2d_backward_weight(ctx.input(0), g, ctx.input(1).shape(), a.conv, ws);
  if (ctx.num_inputs() > 2 && ctx.needs_grad(2)) out[2] = fn::conv2d_backward_bias(g, ws);
  return out;
}

}  // namespace backlight
