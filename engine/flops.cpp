#include "engine/flops.h"

#include "engine/error.h"

namespace backlight {

double node_flops(const Tape& tape, const Node& node) {
  const auto in = [&](int i) -> const Tensor& { return tape.value(node.inputs.at(static_cast<size_t>(i))).tensor; };
  const double out = static_cast<double>(tape.value(node.output).tensor.numel());
  switch (node.kind) {
    case OpKind::Conv2d: {
      const Tensor& w = in(1);  // [O, C/groups, kH, kW]
      return 2.0 * out * static_cast<double>(w.numel() / w.size(0));
    }
    case OpKind::Linear:
      return 2.0 * out * static_cast<double>(in(0).shape()[-1]);
    case OpKind::MatMul:
      return 2.0 * out * static_cast<double>(in(0).shape()[-1]);
    default:
      return 0.0;
  }
}

FlopCount forward_flops(const Tape& tape) {
  BL_CHECK(tape.recording(), "forward_flops: the tape records no nodes (inference mode); count on a recording tape");
  FlopCount c;
  for (int i = 0; i < tape.num_nodes(); ++i) {
    const Node& n = tape.node(i);
    const double f = node_flops(tape, n);
    if (f == 0.0) continue;
    c.nodes.push_back({i, n.kind, n.name, f});
    c.total += f;
    (n.kind == OpKind::Conv2d ? c.conv : n.kind == OpKind::Linear ? c.linear : c.matmul) += f;
  }
  return c;
}

FlopCount model_forward_flops(const Module& model, const Shape& input_shape) {
  Tape tape;
  model.forward(tape.input(Tensor::zeros(input_shape)));
  return forward_flops(tape);
}

}  // namespace backlight
