// softmax / log_softmax on the tape and their plain VJPs (from the saved output).
#include "engine/functional/softmax.h"
#include "engine/ops/ops.h"
#include "engine/vjp.h"

namespace backlight {

Var softmax(const Var& x, int axis, std::string_view name) {
  Tape& t = x.tape();
  return t.record(OpKind::Softmax, name, {x}, fn::softmax_forward(x.value(), axis, &t.workspace()), AxisAttrs{axis});
}

Var log_softmax(const Var& x, int axis, std::string_view name) {
  Tape& t = x.tape();
  return t.record(OpKind::LogSoftmax, name, {x}, fn::log_softmax_forward(x.value(), axis, &t.workspace()),
                  AxisAttrs{axis});
}

std::vector<Tensor> vjp_Softmax(const RuleContext& ctx, const Tensor& g) {
  return {fn::softmax_backward(g, ctx.output(), ctx.attrs<AxisAttrs>().axis, &ctx.workspace())};
}

std::vector<Tensor> vjp_LogSoftmax(const RuleContext& ctx, const Tensor& g) {
  return {fn::log_softmax_backward(g, ctx.output(), ctx.attrs<AxisAttrs>().axis, &ctx.workspace())};
}

}  // namespace backlight
