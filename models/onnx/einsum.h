#pragma once
/// Einsum of two operands whose equation is a batched matrix product (torchvision's MaxViT
/// attention), run as permute / reshape / one batched `matmul` node. Internal to models/onnx/.
#include <string>

#include "models/onnx/program.h"

namespace backlight::onnx {

/// The letters of an Einsum equation sorted by role: batch (both operands and the output), m
/// (first operand and output), k (both operands, contracted), n (second operand and output).
struct EinsumPlan {
  std::string a, b, out;         ///< the terms, whitespace removed (implicit output spelled out)
  std::string batch, m, k, n;    ///< in the first operand's order (n: the second's)
};
/// Parses and classifies the node's `equation`; throws naming the node and the equation when it
/// is not a two-operand matrix product (ellipsis, diagonal, a letter summed in one operand only,
/// other operand counts).
EinsumPlan plan_einsum(const Node& n);
/// Runs the step on two tape values (constants made buffers by the caller).
Var run_einsum(const Step& s, const Var& a, const Var& b);

}  // namespace backlight::onnx
