// Replay of one tape node through the forward ops on a non-recording tape. Nothing here names an
// op kind: the batch column of engine/op_kinds.def and the node's attributes decide.
#include "attribution/perturbation/incremental/replay.h"

#include <variant>
#include <vector>

#include "engine/error.h"
#include "engine/ops/rerun.h"

namespace backlight::incremental {

namespace {

std::string describe(const Node& node) {
  return std::string(to_string(node.kind)) + " '" + node.name + "'";
}

int resolved_axis(int axis, int rank) { return axis < 0 ? axis + rank : axis; }

// Whether the node's attributes make it work along the batch axis (axis 0 of x); one overload
// per attribute struct, so a new one does not compile until it says.
struct BatchAxisUse {
  const Shape& x;
  // No attributes (reshape, linear, add, ...): the shape checks above decide (a reshape whose
  // batched input and output both lead with the batch keeps each row).
  std::string operator()(std::monostate) const { return {}; }
  std::string operator()(const Conv2dAttrs&) const { return {}; }
  std::string operator()(const Pool2dAttrs&) const { return {}; }
  std::string operator()(const AdaptivePoolAttrs&) const { return {}; }
  std::string operator()(const LeakyReluAttrs&) const { return {}; }
  std::string operator()(const GeluAttrs&) const { return {}; }
  std::string operator()(const ScaleAttrs&) const { return {}; }
  std::string operator()(const DropoutAttrs&) const { return {}; }
  std::string operator()(const PowAttrs&) const { return {}; }
  std::string operator()(const ClipAttrs&) const { return {}; }
  std::string operator()(const HardSigmoidAttrs&) const { return {}; }
  std::string operator()(const ConvTranspose2dAttrs&) const { return {}; }
  std::string operator()(const ResizeAttrs&) const { return {}; }
  std::string operator()(const AxisAttrs& a) const {
    return resolved_axis(a.axis, x.rank()) == 0 ? " works along the batch axis" : "";
  }
  std::string operator()(const NormAttrs& a) const {
    return a.normalized_dims >= x.rank() ? " normalises over the batch axis" : "";
  }
  std::string operator()(const PermuteAttrs& a) const { return a.perm[0] != 0 ? " moves the batch axis" : ""; }
  std::string operator()(const SliceAttrs& a) const { return a.axis == 0 ? " slices the batch axis" : ""; }
  std::string operator()(const PadAttrs& a) const {
    return a.pads[0] != 0 || a.pads[1] != 0 ? " pads the batch axis" : "";
  }
  std::string operator()(const ReduceAttrs& a) const {
    return a.axes_mask & 1u ? " reduces over the batch axis" : "";
  }
};

}  // namespace

std::string replay_unsupported(const Tape& tape, const Node& node, const std::vector<char>& batched, int64_t items) {
  const Shape& out = tape.value(node.output).tensor.shape();
  const std::string who = describe(node);
  if (out.rank() < 1 || out[0] != items)
    return who + " gives " + out.str() + ", whose first dimension is not the batch of " + std::to_string(items);
  for (int id : node.inputs) {
    const Shape& s = tape.value(id).tensor.shape();
    if (batched[id] && (s.rank() < 1 || s[0] != items))
      return who + " reads " + s.str() + ", whose first dimension is not the batch of " + std::to_string(items);
  }
  const Shape& x = tape.value(node.inputs.at(0)).tensor.shape();
  switch (facts_of(node.kind).batch) {  // engine/op_kinds.def
    case BatchFlow::Mixes: return who + " is not supported by incremental occlusion";
    case BatchFlow::Rows: break;
    case BatchFlow::Params:
      for (size_t i = 1; i < node.inputs.size(); ++i)
        if (batched[node.inputs[i]]) return who + ": its parameters depend on the input";
      break;
    case BatchFlow::Broadcast:
      // The second operand broadcasts too; numpy rules align trailing dims, so a constant of
      // the output's rank needs a batch dimension of 1.
      for (int id : node.inputs) {
        const Shape& s = tape.value(id).tensor.shape();
        if (!batched[id] && s.rank() == out.rank() && s[0] != 1)
          return who + " combines a constant " + s.str() + " with the batch";
      }
      break;
    case BatchFlow::Batched:
      for (int id : node.inputs)
        if (!batched[id]) return who + " combines a constant with the batch";
      break;
  }
  const std::string why = std::visit(BatchAxisUse{x}, node.attrs);
  return why.empty() ? why : who + why;
}

Tensor replay(const Tape& recorded, const Node& node, std::span<const Tensor> inputs, const Workspace& ws) {
  BL_CHECK(inputs.size() == node.inputs.size(), "incremental replay: ", describe(node), " expects ",
           node.inputs.size(), " inputs, got ", inputs.size());
  Tape tape(TapeOptions{.record = false}, ws);
  std::vector<Var> v;
  v.reserve(inputs.size());
  for (const Tensor& t : inputs) v.push_back(tape.input(t));
  return rerun(node, v, recorded.value(node.output).tensor.shape()).value();
}

}  // namespace backlight::incremental
