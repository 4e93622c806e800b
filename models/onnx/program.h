#pragma once
/// The compiled form of an ONNX graph that OnnxModel runs (internal to models/onnx/).
#include <string>
#include <vector>

#include "engine/module.h"
#include "models/onnx/graph.h"

namespace backlight::onnx {

/// When a value is known: at load (initializers and what folds from them), per call (shape
/// arithmetic starting at a Shape node: depends on the input's shape only), or on the tape.
enum class Known { AtLoad, PerCall, OnTape };

struct Step {
  Node node;         ///< the ONNX node, or a fused one (op_type "Gelu")
  std::string path;  ///< module path of the node
  std::vector<int> in, out;  ///< slots (-1: omitted optional input)
  Known known = Known::OnTape;  ///< of its outputs; AtLoad steps are not run at all
  bool absorbed = false;        ///< part of a fused pattern (the fused node runs instead)
  bool weighted = false;        ///< reads weights from the module at `path` (register_weights)
  int64_t opset = 0;            ///< the model's default-domain opset
};

/// One value of a forward run: a constant (folded) or a tape Var.
struct Value {
  Var var;
  ConstPtr c;
  bool is_const() const { return c != nullptr; }
};

struct Program {
  std::string source;
  int64_t opset = 0;
  std::vector<Step> steps;
  std::vector<std::string> slot_names;
  std::vector<Known> known;            ///< per slot
  std::vector<ConstPtr> constants;     ///< per slot, AtLoad values
  /// Per slot: the initializer an AtLoad value was taken from ("layer1.0.conv1.weight"), or "".
  std::vector<std::string> origin;
  int input_slot = -1, output_slot = -1;
};

/// Op types the importer runs on the tape (besides the folded ones, fold.h).
bool is_runnable(std::string_view op_type);
/// A weight a step reads from its module: local name (PyTorch's: weight, bias, running_mean,
/// running_var), the slot it comes from, its value (Gemm and MatMul weights stored as Linear's
/// [out, in]) and whether it is a buffer.
struct Weight {
  std::string name;
  int slot = -1;
  Tensor value;
  bool buffer = false;
};
/// Whether the step reads weights from its module (Conv, Gemm, MatMul with a constant right
/// operand, BatchNormalization, LayerNormalization, Gather from a constant table).
bool has_weights(const Step& step, const Program& p);
/// The weights of a step with has_weights(), from the load-time constants.
std::vector<Weight> step_weights(const Step& step, const Program& p);
/// PyTorch class name for the module of a weighted step ("Conv2d", "Linear", "BatchNorm2d", ...).
std::string torch_type(const Step& step, const Program& p);
/// Runs one step on the tape. `layer` is the module at step.path (nullptr when it has none).
std::vector<Value> run_step(const Step& step, std::span<const Value> in, const Module* layer, Tape& tape);

}  // namespace backlight::onnx
