// One case per op kind (the switch has no default: -Werror=switch names a kind without one).
#include "engine/ops/rerun.h"

#include <vector>

#include "engine/error.h"
#include "engine/functional/reduce.h"
#include "engine/functional/shape.h"
#include "engine/ops/ops.h"

namespace backlight {

namespace {

// Records a shape op's output with the node's own (normalised) attributes.
Var record_like(const Node& node, std::span<const Var> in, Tensor y) {
  return in[0].tape().record(node.kind, node.name, in, std::move(y), node.attrs);
}

}  // namespace

Var rerun(const Node& node, std::span<const Var> v, const Shape& recorded_output) {
  BL_CHECK(v.size() == node.inputs.size(), "rerun: ", to_string(node.kind), " '", node.name, "' expects ",
           node.inputs.size(), " inputs, got ", v.size());
  BL_CHECK(!v.empty(), "rerun: ", to_string(node.kind), " '", node.name, "' has no inputs");
  const Var none;
  const Var& a1 = v.size() > 1 ? v[1] : none;
  const Var& a2 = v.size() > 2 ? v[2] : none;
  const Tensor& x = v[0].value();
  const Workspace* ws = &v[0].tape().workspace();
  const std::string_view name = node.name;
  switch (node.kind) {
    case OpKind::Linear: return linear(v[0], a1, a2, name);
    case OpKind::Conv2d: return conv2d(v[0], a1, a2, std::get<Conv2dAttrs>(node.attrs), name);
    case OpKind::ConvTranspose2d:
      return conv_transpose2d(v[0], a1, a2, std::get<ConvTranspose2dAttrs>(node.attrs), name);
    case OpKind::Resize: return resize(v[0], std::get<ResizeAttrs>(node.attrs), name);
    case OpKind::BatchNorm:
      return batchnorm(v[0], v[1], v[2], v[3], v[4], std::get<NormAttrs>(node.attrs).eps, name);
    case OpKind::LayerNorm: {
      const NormAttrs& a = std::get<NormAttrs>(node.attrs);
      return layernorm(v[0], a1, a2, a.normalized_dims, a.eps, name);
    }
    case OpKind::GroupNorm: {
      const NormAttrs& a = std::get<NormAttrs>(node.attrs);
      return group_norm(v[0], a.groups, a1, a2, a.eps, name);
    }
    case OpKind::AvgPool2d: return avgpool2d(v[0], std::get<Pool2dAttrs>(node.attrs), name);
    case OpKind::MaxPool2d: return maxpool2d(v[0], std::get<Pool2dAttrs>(node.attrs), name);
    case OpKind::AdaptiveAvgPool2d: {
      const AdaptivePoolAttrs& a = std::get<AdaptivePoolAttrs>(node.attrs);
      return adaptive_avgpool2d(v[0], a.out_h, a.out_w, name);
    }
    case OpKind::Relu: return relu(v[0], name);
    case OpKind::Relu6: return relu6(v[0], name);
    case OpKind::LeakyRelu: return leaky_relu(v[0], std::get<LeakyReluAttrs>(node.attrs).negative_slope, name);
    case OpKind::Sigmoid: return sigmoid(v[0], name);
    case OpKind::Tanh: return tanh(v[0], name);
    case OpKind::Gelu: return gelu(v[0], std::get<GeluAttrs>(node.attrs).tanh_approximation, name);
    case OpKind::Dropout: return dropout(v[0], std::get<DropoutAttrs>(node.attrs).p, name);
    case OpKind::Silu: return silu(v[0], name);
    case OpKind::HardSwish: return hardswish(v[0], name);
    case OpKind::HardSigmoid: {
      const HardSigmoidAttrs& a = std::get<HardSigmoidAttrs>(node.attrs);
      return hardsigmoid(v[0], a.alpha, a.beta, name);
    }
    case OpKind::Clip: {
      const ClipAttrs& a = std::get<ClipAttrs>(node.attrs);
      return clip(v[0], a.min, a.max, name);
    }
    case OpKind::Exp: return exp(v[0], name);
    case OpKind::Log: return log(v[0], name);
    case OpKind::Sqrt: return sqrt(v[0], name);
    case OpKind::Erf: return erf(v[0], name);
    case OpKind::Abs: return abs(v[0], name);
    case OpKind::Pow: return pow(v[0], std::get<PowAttrs>(node.attrs).exponent, name);
    case OpKind::Div: return div(v[0], v[1], name);
    case OpKind::PowTensor: return pow(v[0], v[1], name);
    case OpKind::Maximum: return maximum(v[0], v[1], name);
    case OpKind::Minimum: return minimum(v[0], v[1], name);
    case OpKind::Where: return where(node.saved.at(0), v[0], v[1], name);
    case OpKind::Scale: return scale(v[0], std::get<ScaleAttrs>(node.attrs).factor, name);
    case OpKind::Softmax: return softmax(v[0], std::get<AxisAttrs>(node.attrs).axis, name);
    case OpKind::LogSoftmax: return log_softmax(v[0], std::get<AxisAttrs>(node.attrs).axis, name);
    case OpKind::Add: return add(v[0], v[1], name);
    case OpKind::Sub: return sub(v[0], v[1], name);
    case OpKind::Mul: return mul(v[0], v[1], name);
    case OpKind::MatMul: return matmul(v[0], v[1], name);
    case OpKind::Embedding: return embedding(node.saved.at(0), v[0], name);
    case OpKind::Reshape: {
      std::vector<int64_t> dims = recorded_output.to_vector();
      BL_CHECK(!dims.empty() && x.dim() >= 1, "rerun: reshape '", node.name, "' needs a batch axis");
      dims[0] = x.size(0);
      return record_like(node, v, x.reshape(dims));
    }
    case OpKind::Permute: {
      const PermuteAttrs& a = std::get<PermuteAttrs>(node.attrs);
      return record_like(node, v, fn::permute(x, std::span<const int>(a.perm.data(), a.rank), ws));
    }
    case OpKind::Concat: {
      std::vector<Tensor> xs;
      for (const Var& i : v) xs.push_back(i.value());
      return record_like(node, v, fn::concat(xs, std::get<AxisAttrs>(node.attrs).axis, ws));
    }
    case OpKind::Slice: return record_like(node, v, fn::slice(x, std::get<SliceAttrs>(node.attrs), ws));
    case OpKind::Pad: return record_like(node, v, fn::pad(x, std::get<PadAttrs>(node.attrs), ws));
    case OpKind::Sum: {
      const ReduceAttrs& a = std::get<ReduceAttrs>(node.attrs);
      return record_like(node, v, fn::sum(x, a.axes_mask, a.keepdim, ws));
    }
    case OpKind::ReduceMax: {
      const ReduceAttrs& a = std::get<ReduceAttrs>(node.attrs);
      return record_like(node, v, fn::amax(x, a.axes_mask, a.keepdim, ws));
    }
    case OpKind::Mean: {
      const ReduceAttrs& a = std::get<ReduceAttrs>(node.attrs);
      return record_like(node, v, fn::mean(x, a.axes_mask, a.keepdim, ws));
    }
  }
  BL_THROW("rerun: unknown op kind ", static_cast<int>(node.kind));
}

}  // namespace backlight
