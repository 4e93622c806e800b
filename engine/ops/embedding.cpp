// embedding: forward on the tape and its plain VJP (compute in functional/embedding.h).
#include "engine/functional/embedding.h"
#include "engine/ops/ops.h"
#include "engine/vjp.h"

namespace backlight {

Var embedding(const Tensor& indices, const Var& weight, std::string_view name) {
  Tape& t = weight.tape();
  // The indices are not a differentiable input; the node keeps a handle to them for the VJP.
  return t.record(OpKind::Embedding, name, {weight}, fn::embedding(indices, weight.value(), &t.workspace()), {},
                  {indices});
}

std::vector<Tensor> vjp_Embedding(const RuleContext& ctx, const Tensor& g) {
  if (!ctx.needs_grad(0)) return {Tensor()};
  return {fn::embedding_backward(g, ctx.node().saved.at(0), ctx.input(0).shape(), &ctx.workspace())};
}

}  // namespace backlight
