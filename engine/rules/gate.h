#pragma once
/// Products of two activations and divisions by a normaliser under LRP: the LXT / AttnLRP
/// treatment (Achtibat et al. ICML 2024, "AttnLRP: Attention-aware layer-wise relevance
/// propagation for transformers", sections 3.3-3.4). In y = signal * gate the gate is taken as a
/// constant for relevance, so the product is linear in the signal and epsilon-LRP gives
/// R_signal = sum_to(R, signal.shape) (exact: each output has one contribution) and R_gate = 0;
/// in y = a / n the normaliser n is the constant (identity rule). Products without a gate (both
/// operands plain activations of one shape) get AttnLRP's uniform rule: half of R to each.
///
/// Which operand of a Mul is the gate is read from the recorded graph (gate_operand), the same
/// for imported ONNX graphs and zoo models, in this order:
///   1. a constant operand (parameter or buffer: layer scale, a weight map);
///   2. the only operand that comes from a gate op - sigmoid (SiLU as exported by torch,
///      squeeze-excitation, GLU), hardsigmoid (when the op table has it), relu6 (hard sigmoid
///      spelt relu6(x + 3) / 6, as the importer and older MobileNetV3 code compose it), softmax
///      (attention weights) - looking through reshape, permute, slice, pad, scale and the
///      addition of a constant;
///   3. the operand with fewer elements (broadcast: an SE gate [N, C, 1, 1] on a map [N, C, H, W]);
///   4. none: uniform rule.
/// A Div node (when the op table has one, "div") treats its denominator as the normaliser
/// unless the numerator is the constant (then the denominator is the only place to go).
/// A pow_tensor node a^b (torch.pow of two tensors) takes its exponent as the constant, so it is
/// an element-wise non-linearity of the base and R passes whole to a (as LRP passes pow), unless
/// the base is the constant (c^x: R passes to the exponent).
/// Fused element-wise ops (silu, hardswish, gelu) are not products: activations() passes them.
#include "engine/rules/rule.h"

namespace backlight {

/// What gate_operand decided for a node, for explain()/docs.
enum class GateChoice { Operand0, Operand1, Uniform };

/// The gate of the Mul (or Div) node `node_index` of `tape` by the order above. Throws RuleError
/// for other kinds.
GateChoice gate_operand(const Tape& tape, int node_index);

/// True when `kind` is a gate op of step 2 (sigmoid, softmax, relu6, hardsigmoid).
bool is_gate_kind(OpKind kind);

/// True when the tape holds a product of two activations or a division by an activation (a gated
/// or normalised model: SiLU, squeeze-excitation, ...), i.e. a node the gated_product rule is for.
bool has_activation_product(const Tape& tape);

/// LRP rule for Mul / Div nodes: relevance through the signal, gate / normaliser constant
/// (R_signal = sum_to(R), R_gate = 0), uniform halves when there is no gate.
RulePtr gated_product();

}  // namespace backlight
