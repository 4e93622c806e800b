// sum / mean over axes: forward on the tape and plain VJPs (compute in functional/reduce.h).
#include "engine/functional/reduce.h"
#include "engine/ops/ops.h"
#include "engine/vjp.h"

namespace backlight {

Var sum(const Var& x, std::span<const int> axes, bool keepdim, std::string_view name) {
  Tape& t = x.tape();
  const uint32_t mask = fn::reduce_mask(x.shape(), axes, "sum");
  return t.record(OpKind::Sum, name, {x}, fn::sum(x.value(), mask, keepdim, &t.workspace()),
                  ReduceAttrs{mask, keepdim});
}

Var mean(const Var& x, std::span<const int> axes, bool keepdim, std::string_view name) {
  Tape& t = x.tape();
  const uint32_t mask = fn::reduce_mask(x.shape(), axes, "mean");
  return t.record(OpKind::Mean, name, {x}, fn::mean(x.value(), mask, keepdim, &t.workspace()),
                  ReduceAttrs{mask, keepdim});
}

Var amax(const Var& x, std::span<const int> axes, bool keepdim, std::string_view name) {
  Tape& t = x.tape();
  const uint32_t mask = fn::reduce_mask(x.shape(), axes, "amax");
  return t.record(OpKind::ReduceMax, name, {x}, fn::amax(x.value(), mask, keepdim, &t.workspace()),
                  ReduceAttrs{mask, keepdim});
}

std::vector<Tensor> vjp_ReduceMax(const RuleContext& ctx, const Tensor& g) {
  return {fn::amax_backward(g, ctx.input(0), ctx.output(), ctx.attrs<ReduceAttrs>().axes_mask, &ctx.workspace())};
}

std::vector<Tensor> vjp_Sum(const RuleContext& ctx, const Tensor& g) {
  return {fn::reduce_backward(g, ctx.input(0).shape(), ctx.attrs<ReduceAttrs>().axes_mask, 1.0f, &ctx.workspace())};
}

std::vector<Tensor> vjp_Mean(const RuleContext& ctx, const Tensor& g) {
  const Shape& xs = ctx.input(0).shape();
  const uint32_t mask = ctx.attrs<ReduceAttrs>().axes_mask;
  const float scale = static_cast<float>(1.0 / static_cast<double>(fn::reduce_count(xs, mask)));
  return {fn::reduce_backward(g, xs, mask, scale, &ctx.workspace())};
}

}  // namespace backlight
