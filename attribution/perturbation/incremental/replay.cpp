// Replay of one tape node through the forward ops on a non-recording tape.
#include "attribution/perturbation/incremental/replay.h"

#include <vector>

#include "engine/error.h"
#include "engine/functional/reduce.h"
#include "engine/functional/shape.h"
#include "engine/ops/ops.h"

namespace backlight::incremental {

namespace {

std::string describe(const Node& node) {
  return std::string(to_string(node.kind)) + " '" + node.name + "'";
}

int resolved_axis(int axis, int rank) { return axis < 0 ? axis + rank : axis; }

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
  switch (node.kind) {
    case OpKind::Linear:
    case OpKind::Conv2d:
    case OpKind::BatchNorm:
    case OpKind::LayerNorm:
      for (size_t i = 1; i < node.inputs.size(); ++i)
        if (batched[node.inputs[i]]) return who + ": its parameters depend on the input";
      if (node.kind == OpKind::LayerNorm && std::get<NormAttrs>(node.attrs).normalized_dims >= x.rank())
        return who + " normalises over the batch axis";
      return {};
    case OpKind::AvgPool2d:
    case OpKind::AdaptiveAvgPool2d:
    case OpKind::MaxPool2d:
    case OpKind::Relu:
    case OpKind::Relu6:
    case OpKind::LeakyRelu:
    case OpKind::Sigmoid:
    case OpKind::Tanh:
    case OpKind::Gelu:
    case OpKind::Dropout:
    case OpKind::Scale:
      return {};
    case OpKind::Add:
    case OpKind::Sub:
    case OpKind::Mul:
      // The second operand broadcasts too; numpy rules align trailing dims, so a constant of
      // the output's rank needs a batch dimension of 1.
      for (int id : node.inputs) {
        const Shape& s = tape.value(id).tensor.shape();
        if (!batched[id] && s.rank() == out.rank() && s[0] != 1)
          return who + " combines a constant " + s.str() + " with the batch";
      }
      return {};
    case OpKind::Softmax:
    case OpKind::LogSoftmax:
      if (resolved_axis(std::get<AxisAttrs>(node.attrs).axis, x.rank()) == 0)
        return who + " normalises along the batch axis";
      return {};
    case OpKind::Reshape:
      if (x[0] != items) return who + " does not keep the batch axis";
      return {};
    case OpKind::Permute:
      if (std::get<PermuteAttrs>(node.attrs).perm[0] != 0) return who + " moves the batch axis";
      return {};
    case OpKind::Concat:
      if (std::get<AxisAttrs>(node.attrs).axis == 0) return who + " concatenates along the batch axis";
      for (int id : node.inputs)
        if (!batched[id]) return who + " concatenates a constant with the batch";
      return {};
    case OpKind::Slice:
      if (std::get<SliceAttrs>(node.attrs).axis == 0) return who + " slices the batch axis";
      return {};
    case OpKind::Pad: {
      const PadAttrs& a = std::get<PadAttrs>(node.attrs);
      if (a.pads[0] != 0 || a.pads[1] != 0) return who + " pads the batch axis";
      return {};
    }
    case OpKind::Sum:
    case OpKind::Mean:
      if (std::get<ReduceAttrs>(node.attrs).axes_mask & 1u) return who + " reduces over the batch axis";
      return {};
    case OpKind::MatMul:
    case OpKind::Embedding:
      return who + " is not supported by incremental occlusion";
  }
  return who + " is not supported by incremental occlusion";
}

Tensor replay(const Tape& recorded, const Node& node, std::span<const Tensor> inputs, int64_t rows,
              const Workspace& ws) {
  BL_CHECK(inputs.size() == node.inputs.size(), "incremental replay: ", describe(node), " expects ",
           node.inputs.size(), " inputs, got ", inputs.size());
  const Tensor& x = inputs[0];
  Tape tape(TapeOptions{.record = false}, ws);
  std::vector<Var> v;
  v.reserve(inputs.size());
  for (const Tensor& t : inputs) v.push_back(tape.input(t));
  const Var none;
  const Var& a1 = v.size() > 1 ? v[1] : none;
  const Var& a2 = v.size() > 2 ? v[2] : none;
  const std::string_view name = node.name;
  switch (node.kind) {
    case OpKind::Linear: return linear(v[0], a1, a2, name).value();
    case OpKind::Conv2d: return conv2d(v[0], a1, a2, std::get<Conv2dAttrs>(node.attrs), name).value();
    case OpKind::BatchNorm:
      return batchnorm(v[0], v.at(1), v.at(2), v.at(3), v.at(4), std::get<NormAttrs>(node.attrs).eps, name).value();
    case OpKind::LayerNorm: {
      const NormAttrs& a = std::get<NormAttrs>(node.attrs);
      return layernorm(v[0], a1, a2, a.normalized_dims, a.eps, name).value();
    }
    case OpKind::AvgPool2d: return avgpool2d(v[0], std::get<Pool2dAttrs>(node.attrs), name).value();
    case OpKind::MaxPool2d: return maxpool2d(v[0], std::get<Pool2dAttrs>(node.attrs), name).value();
    case OpKind::AdaptiveAvgPool2d: {
      const AdaptivePoolAttrs& a = std::get<AdaptivePoolAttrs>(node.attrs);
      return adaptive_avgpool2d(v[0], a.out_h, a.out_w, name).value();
    }
    case OpKind::Relu: return relu(v[0], name).value();
    case OpKind::Relu6: return relu6(v[0], name).value();
    case OpKind::LeakyRelu: return leaky_relu(v[0], std::get<LeakyReluAttrs>(node.attrs).negative_slope, name).value();
    case OpKind::Sigmoid: return sigmoid(v[0], name).value();
    case OpKind::Tanh: return tanh(v[0], name).value();
    case OpKind::Gelu: return gelu(v[0], std::get<GeluAttrs>(node.attrs).tanh_approximation, name).value();
    case OpKind::Dropout: return x;
    case OpKind::Scale: return scale(v[0], std::get<ScaleAttrs>(node.attrs).factor, name).value();
    case OpKind::Softmax: return softmax(v[0], std::get<AxisAttrs>(node.attrs).axis, name).value();
    case OpKind::LogSoftmax: return log_softmax(v[0], std::get<AxisAttrs>(node.attrs).axis, name).value();
    case OpKind::Add: return add(v[0], v.at(1), name).value();
    case OpKind::Sub: return sub(v[0], v.at(1), name).value();
    case OpKind::Mul: return mul(v[0], v.at(1), name).value();
    case OpKind::Reshape: {
      // The recorded output shape with the batch replaced (shape ops use the functional layer
      // with the recorded, already normalised attributes).
      std::vector<int64_t> dims = recorded.value(node.output).tensor.shape().to_vector();
      dims[0] = rows;
      return x.reshape(dims);
    }
    case OpKind::Permute: {
      const PermuteAttrs& a = std::get<PermuteAttrs>(node.attrs);
      return fn::permute(x, std::span<const int>(a.perm.data(), a.rank), &ws);
    }
    case OpKind::Concat: return fn::concat(inputs, std::get<AxisAttrs>(node.attrs).axis, &ws);
    case OpKind::Slice: return fn::slice(x, std::get<SliceAttrs>(node.attrs), &ws);
    case OpKind::Pad: return fn::pad(x, std::get<PadAttrs>(node.attrs), &ws);
    case OpKind::Sum: {
      const ReduceAttrs& a = std::get<ReduceAttrs>(node.attrs);
      return fn::sum(x, a.axes_mask, a.keepdim, &ws);
    }
    case OpKind::Mean: {
      const ReduceAttrs& a = std::get<ReduceAttrs>(node.attrs);
      return fn::mean(x, a.axes_mask, a.keepdim, &ws);
    }
    case OpKind::MatMul:
    case OpKind::Embedding: break;
  }
  BL_THROW("incremental replay: ", describe(node), " is not supported");
}

}  // namespace backlight::incremental
