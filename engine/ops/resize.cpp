// resize (nearest / bilinear): forward on the tape and its plain VJP (compute in functional/resize.h).
#include "engine/functional/resize.h"
#include "engine/ops/ops.h"
#include "engine/vjp.h"

namespace backlight {

Var resize(const Var& x, const ResizeAttrs& attrs, std::string_view name) {
  Tape& t = x.tape();
  return t.record(OpKind::Resize, name, {x}, fn::resize_forward(x.value(), attrs, &t.workspace()), attrs);
}

std::vector<Tensor> vjp_Resize(const RuleContext& ctx, const Tensor& g) {
  return {fn::resize_backward(g, ctx.input(0).shape(), ctx.attrs<ResizeAttrs>(), &ctx.workspace())};
}

}  // namespace backlight
