#pragma once
/// Constant folding: the small CPU interpreter for ONNX's shape arithmetic. Exporters spell
/// `x.view(x.size(0), -1)` as Shape -> Gather -> Unsqueeze -> Concat -> Reshape; such chains,
/// Cast, ConstantOfShape, Constant and Identity on weights are evaluated here, on constants, so
/// only real tensor ops reach the tape. The model folds input-independent chains once at load
/// and the chains that start at a Shape of an activation on every call (so the batch axis stays
/// free per call).
#include <span>
#include <string_view>
#include <vector>

#include "models/onnx/graph.h"

namespace backlight::onnx {

/// Whether `op_type` can be evaluated on constants by eval_constant.
bool is_foldable(std::string_view op_type);
/// Binary comparisons and logic (Equal, Greater, Less, GreaterOrEqual, LessOrEqual, And, Or,
/// Xor): bool (int 0/1) results, numpy broadcasting. On activations the importer evaluates them
/// (and Not) per call on the values: their gradient is zero, so the mask is a per-call constant.
bool is_comparison(std::string_view op_type);
/// Evaluates node `n` on constant inputs (nullptr = omitted optional input). Returns one
/// constant per output. Throws backlight::Error naming the node on anything unsupported.
std::vector<ConstPtr> eval_constant(const Node& n, std::span<const ConstPtr> inputs);
/// Shape's output for an input of `dims` (attributes start/end honoured).
ConstPtr shape_constant(const Node& n, std::span<const int64_t> dims);

/// Attribute helpers shared with the op translation (defaults when absent; a present
/// attribute of the wrong type throws naming the node).
int64_t attr_int(const Node& n, std::string_view name, int64_t fallback);
float attr_float(const Node& n, std::string_view name, float fallback);
std::vector<int64_t> attr_ints(const Node& n, std::string_view name, std::vector<int64_t> fallback = {});
std::string attr_string(const Node& n, std::string_view name, std::string fallback = {});

}  // namespace backlight::onnx
