// Gated products and normaliser divisions under LRP (LXT / AttnLRP): the gate is a constant.
#include "engine/rules/gate.h"

#include <optional>

#include "engine/functional/elementwise.h"

namespace backlight {

namespace {

// Kinds that other branches may add to the op table later ("div", "hardsigmoid") are looked up
// by name, so this file compiles with or without them and picks them up when they appear.
std::optional<OpKind> kind_named(std::string_view name) { return op_kind_from_string(name); }

bool is_div(OpKind k) {
  static const std::optional<OpKind> div = kind_named("div");
  return div && k == *div;
}

bool is_product_kind(OpKind k) { return k == OpKind::Mul || is_div(k) || k == OpKind::PowTensor; }

bool is_constant(const Tape& tape, int value) {
  const ValueRole r = tape.value(value).role;
  return r == ValueRole::Parameter || r == ValueRole::Buffer;
}

// True when `value` comes from a gate op, looking through shape-only nodes, scalar scales and
// shifts by a constant (the pieces of relu6(x + 3) / 6 and of a reshaped attention map).
bool from_gate(const Tape& tape, int value) {
  for (int hops = 0; hops < 16; ++hops) {
    const int p = tape.value(value).producer;
    if (p < 0) return false;
    const Node& n = tape.node(p);
    if (is_gate_kind(n.kind)) return true;
    switch (n.kind) {
      case OpKind::Reshape: case OpKind::Permute: case OpKind::Slice: case OpKind::Pad: case OpKind::Scale:
        value = n.inputs[0];
        continue;
      case OpKind::Add: case OpKind::Sub:
        if (n.inputs.size() == 2 && is_constant(tape, n.inputs[1])) { value = n.inputs[0]; continue; }
        if (n.inputs.size() == 2 && is_constant(tape, n.inputs[0])) { value = n.inputs[1]; continue; }
        return false;
      default:
        return false;
    }
  }
  return false;
}

class GatedProduct final : public Rule {
 public:
  std::string name() const override { return "gated_product"; }
  std::vector<Tensor> backward(const RuleContext& ctx, const Tensor& rel) const override {
    const GateChoice choice = gate_operand(ctx.tape(), ctx.node_index());
    const Workspace* ws = &ctx.workspace();
    std::vector<Tensor> out(ctx.num_inputs());
    for (int i = 0; i < 2; ++i) {
      if (!ctx.needs_grad(i)) continue;
      const Shape& shape = ctx.input(i).shape();
      if (choice == GateChoice::Uniform) {
        out[i] = fn::sum_to(fn::scale(rel, 0.5f, ws), shape, ws);
      } else if ((choice == GateChoice::Operand0) == (i == 0)) {
        out[i] = Tensor::zeros(shape, ws);  // the gate is a constant: no relevance
      } else {
        out[i] = fn::sum_to(rel, shape, ws);  // one contribution per output: R passes whole
      }
    }
    return out;
  }
};

}  // namespace

bool is_gate_kind(OpKind kind) {
  static const std::optional<OpKind> hardsigmoid = kind_named("hardsigmoid");
  return kind == OpKind::Sigmoid || kind == OpKind::Softmax || kind == OpKind::Relu6 ||
         (hardsigmoid && kind == *hardsigmoid);
}

GateChoice gate_operand(const Tape& tape, int node_index) {
  const Node& n = tape.node(node_index);
  if (!is_product_kind(n.kind) || n.inputs.size() != 2)
    throw RuleError(detail::concat("gated_product: applies to mul, div and pow_tensor nodes, got '", n.name, "' (",
                                   to_string(n.kind), ")"));
  const int a = n.inputs[0], b = n.inputs[1];
  const bool ca = is_constant(tape, a), cb = is_constant(tape, b);
  if (is_div(n.kind)) return ca && !cb ? GateChoice::Operand0 : GateChoice::Operand1;
  // pow_tensor a^b: the exponent is the constant (an element-wise non-linearity of a: R passes to
  // the base) unless the base is the constant (c^x: R passes to the exponent).
  if (n.kind == OpKind::PowTensor) return ca && !cb ? GateChoice::Operand0 : GateChoice::Operand1;
  if (ca != cb) return ca ? GateChoice::Operand0 : GateChoice::Operand1;
  const bool ga = from_gate(tape, a), gb = from_gate(tape, b);
  if (ga != gb) return ga ? GateChoice::Operand0 : GateChoice::Operand1;
  const int64_t na = tape.value(a).tensor.numel(), nb = tape.value(b).tensor.numel();
  if (na != nb) return na < nb ? GateChoice::Operand0 : GateChoice::Operand1;
  return GateChoice::Uniform;
}

bool has_activation_product(const Tape& tape) {
  for (const Node& n : tape.nodes()) {
    if (!is_product_kind(n.kind) || n.inputs.size() != 2) continue;
    if (!is_constant(tape, n.inputs[0]) && !is_constant(tape, n.inputs[1])) return true;
  }
  return false;
}

RulePtr gated_product() { return std::make_shared<const GatedProduct>(); }

}  // namespace backlight
