#pragma once
/// ONNX layers with weights or windows -> tape ops: Conv, Gemm, MatMul with a constant operand
/// (a Linear), BatchNormalization, LayerNormalization, embedding Gather, MaxPool, AveragePool,
/// GlobalAveragePool. Internal to models/onnx/.
#include <span>

#include "models/onnx/program.h"

namespace backlight::onnx {

/// Ops handled by run_layer even without weights (pools).
bool is_layer_op(std::string_view op_type);
Var run_layer(const Step& s, std::span<const Value> in, const Module* layer, Tape& tape);

}  // namespace backlight::onnx
