#include "attribution/core/layer_eval.h"

#include <algorithm>

#include "attribution/core/layer.h"
#include "engine/error.h"

namespace backlight {

int layer_op_index(const Module& model, const Tensor& inputs, std::string_view layer, const Workspace& ws) {
  BL_CHECK_SHAPE(inputs.defined() && inputs.dim() >= 2 && inputs.size(0) >= 1,
                 "layer methods: expected a batch of inputs [N, ...], got ",
                 inputs.defined() ? inputs.shape().str() : std::string("no tensor"));
  const ForwardPass probe = forward_pass(model, inputs.slice_batch(0, 1), ws);
  return layer_output_node(*probe.tape, layer);
}

LayerEval eval_layer(const Module& model, const Tensor& inputs, int op_index, const Workspace& ws) {
  Tape tape(TapeOptions{.record = false}, ws);
  LayerEval e;
  tape.set_output_hook(op_index, [&e](const Tensor& t) {
    e.layer = t.clone();  // the op's buffer returns to the workspace once the forward moves on
    return t;
  });
  e.output = model.forward(tape.input(inputs)).value();
  e.bytes_per_row = tape.output_bytes() / std::max<int64_t>(inputs.size(0), 1);
  BL_CHECK(e.layer.defined(), "eval_layer: op ", op_index, " did not run (the model ran ", tape.ops_run(), " ops)");
  return e;
}

ForwardPass forward_with_layer(const Module& model, const Tensor& inputs, int op_index, Tensor layer_value,
                               const Workspace& ws) {
  ForwardPass p;
  p.tape = std::make_unique<Tape>(TapeOptions{}, ws);
  p.tape->set_output_hook(op_index, [v = std::move(layer_value)](const Tensor&) { return v; });
  p.input = p.tape->input(inputs, "input");
  p.output = model.forward(p.input);
  BL_CHECK(p.tape->num_nodes() > op_index, "forward_with_layer: op ", op_index, " did not run (the model ran ",
           p.tape->num_nodes(), " ops)");
  return p;
}

Var layer_var(const ForwardPass& pass, int op_index) { return pass.tape->var(pass.tape->node(op_index).output); }

}  // namespace backlight
