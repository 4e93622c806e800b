// Pooling: max, average and adaptive average pooling on the tape, and their plain VJPs.
#include "engine/functional/pool.h"
#include "engine/ops/ops.h"
#include "engine/vjp.h"

namespace backlight {

Var maxpool2d(const Var& x, const Pool2dAttrs& attrs, std::string_view name) {
  Tape& t = x.tape();
  // The argmax map (node.saved[0]) spares the backward a second pass over x; it is only kept
  // when recording and when the plane size fits exact float indices (else backward recomputes).
  const Shape& s = x.shape();
  const bool keep_argmax = t.recording() && s.rank() == 4 && s[2] * s[3] <= fn::kMaxPoolArgmaxPlane;
  fn::MaxPool2dResult r = fn::maxpool2d_forward(x.value(), attrs, &t.workspace(), keep_argmax);
  std::vector<Tensor> saved;
  if (keep_argmax) saved.push_back(std::move(r.argmax));
  return t.record(OpKind::MaxPool2d, name, {x}, std::move(r.y), attrs, std::move(saved));
}

Var avgpool2d(const Var& x, const Pool2dAttrs& attrs, std::string_view name) {
  Tape& t = x.tape();
  return t.record(OpKind::AvgPool2d, name, {x}, fn::avgpool2d_forward(x.value(), attrs, &t.workspace()), attrs);
}

Var adaptive_avgpool2d(const Var& x, int64_t out_h, int64_t out_w, std::string_view name) {
  Tape& t = x.tape();
  return t.record(OpKind::AdaptiveAvgPool2d, name, {x},
                  fn::adaptive_avgpool2d_forward(x.value(), out_h, out_w, &t.workspace()),
                  AdaptivePoolAttrs{out_h, out_w});
}

std::vector<Tensor> vjp_MaxPool2d(const RuleContext& ctx, const Tensor& g) {
  const Tensor argmax = ctx.node().saved.empty() ? Tensor() : ctx.node().saved[0];
  return {fn::maxpool2d_backward(g, ctx.input(0), argmax, ctx.attrs<Pool2dAttrs>(), &ctx.workspace())};
}

std::vector<Tensor> vjp_AvgPool2d(const RuleContext& ctx, const Tensor& g) {
  return {fn::avgpool2d_backward(g, ctx.input(0).shape(), ctx.attrs<Pool2dAttrs>(), &ctx.workspace())};
}

std::vector<Tensor> vjp_AdaptiveAvgPool2d(const RuleContext& ctx, const Tensor& g) {
  return {fn::adaptive_avgpool2d_backward(g, ctx.input(0).shape(), &ctx.workspace())};
}

}  // namespace backlight
