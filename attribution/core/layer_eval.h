#pragma once
/// Running a model "at a layer": finding the op that produces a layer's output, reading that
/// output without recording a tape, and running the model with the output replaced. The shared
/// machinery of the layer and neuron methods (Captum's forward hooks, without hooks in the model:
/// Tape::set_output_hook substitutes one op's output during a forward).
#include <string_view>

#include "attribution/core/pass.h"

namespace backlight {

/// Op index (= node index on a recording tape) of the layer's output, found by recording one
/// forward pass on the first item of `inputs`. Throws naming the layer and listing the module
/// paths seen when the model has no such layer.
int layer_op_index(const Module& model, const Tensor& inputs, std::string_view layer, const Workspace& ws);

struct LayerEval {
  Tensor layer;   ///< the layer's output [N, ...] (a copy)
  Tensor output;  ///< the model output [N, ...]
  int64_t bytes_per_row = 0;  ///< activation bytes the forward produced per row (chunk sizing, core/limits.h)
};
/// One forward without recording (no tape memory) that captures the output of op `op_index`.
LayerEval eval_layer(const Module& model, const Tensor& inputs, int op_index, const Workspace& ws);

/// Records model.forward(inputs) with the output of op `op_index` replaced by `layer_value`
/// (same shape as that output). Backward wrt layer_var(pass, op_index) then gives the gradient
/// of the output wrt the substituted value (layer integrated gradients).
ForwardPass forward_with_layer(const Module& model, const Tensor& inputs, int op_index, Tensor layer_value,
                               const Workspace& ws);

/// The output of node `op_index` of a recorded pass, as a Var to ask backward for.
Var layer_var(const ForwardPass& pass, int op_index);

}  // namespace backlight
