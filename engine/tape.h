#pragma once
/// Tape: records one node per op during a forward run; backward() (backward.h) walks it in
/// reverse and sends every node through a rule (engine/rules/rule.h).
///
/// Ownership: the tape holds the values its nodes need (inputs, outputs, parameters as shared
/// handles); dropping the tape releases them. Backward never mutates the tape, so one tape serves
/// many backward passes (one per class, per rule set, ...). A tape belongs to one thread at a
/// time; two threads use two tapes (models are read-only during forward).
///
/// Mode::Inference runs the same op code without recording: no node, no saved tensor, so
/// intermediate activations return to the workspace as soon as their Var is dropped.
///
/// Paired reference (DeepLIFT-style methods): when `paired_reference` is set, every batch holds
/// the inputs in its first half and the reference (baseline) inputs in its second half, so rules
/// see both values of every node from one forward run.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/attrs.h"
#include "engine/op_kind.h"
#include "engine/tensor.h"

namespace backlight {

class Tape;

/// What a value on the tape is.
enum class ValueRole { Input, Parameter, Buffer, Activation };

/// A tensor produced or consumed on a tape. Cheap to copy.
class Var {
 public:
  Var() = default;
  bool defined() const { return tape_ != nullptr; }
  const Tensor& value() const { return value_; }
  const Shape& shape() const { return value_.shape(); }
  Tape& tape() const { return *tape_; }
  /// Index of the value on its tape; -1 in inference mode.
  int id() const { return id_; }

 private:
  friend class Tape;
  Var(Tape* tape, int id, Tensor value) : tape_(tape), id_(id), value_(std::move(value)) {}
  Tape* tape_ = nullptr;
  int id_ = -1;
  Tensor value_;
};

struct Value {
  Tensor tensor;
  int producer = -1;  ///< node index that wrote it; -1 for leaves
  ValueRole role = ValueRole::Activation;
  std::string name;  ///< leaves: parameter name ("features.0.weight") or input name
};

struct Node {
  OpKind kind;
  std::string name;         ///< module path, as PyTorch's named_modules() ("layer1.0.conv1")
  std::vector<int> inputs;  ///< value ids: activations first, then parameters/buffers
  int output = -1;          ///< value id
  OpAttrs attrs;
  std::vector<Tensor> saved;  ///< op-specific extras the backward needs
  /// True when an input is a Parameter (the node "has weights": conv, linear, batchnorm, ...).
  bool has_params = false;
};

struct TapeOptions {
  bool record = true;             ///< false: inference mode, nothing recorded
  bool paired_reference = false;  ///< batch = [inputs; references] (see above)
};

class Tape {
 public:
  /// A tape on a CUDA workspace (Workspace::for_cuda) runs every op on that device; its leaves
  /// must then be tensors on that workspace's context (Tape::input etc. throw otherwise).
  explicit Tape(TapeOptions options = {}, Workspace workspace = Workspace());
  Tape(const Tape&) = delete;
  Tape& operator=(const Tape&) = delete;

  /// A leaf the caller wants gradients for (or not); `name` is for messages.
  Var input(Tensor value, std::string name = "input");
  /// A model parameter (weight, bias). Gradients are computed only when asked for.
  Var param(Tensor value, std::string name);
  /// A non-trainable model tensor (BatchNorm running statistics).
  Var buffer(Tensor value, std::string name);

  /// Used by ops: appends a node (record mode) and returns its output Var.
  Var record(OpKind kind, std::string_view name, std::initializer_list<Var> inputs, Tensor output,
             OpAttrs attrs = {}, std::vector<Tensor> saved = {});
  Var record(OpKind kind, std::string_view name, std::span<const Var> inputs, Tensor output, OpAttrs attrs = {},
             std::vector<Tensor> saved = {});

  bool recording() const { return options_.record; }
  bool paired_reference() const { return options_.paired_reference; }
  const TapeOptions& options() const { return options_; }
  const Workspace& workspace() const { return workspace_; }
  /// Allocates from this tape's workspace.
  Tensor alloc(const Shape& shape) const { return Tensor::empty(shape, &workspace_); }

  int num_nodes() const { return static_cast<int>(nodes_.size()); }
  int num_values() const { return static_cast<int>(values_.size()); }
  const Node& node(int i) const { return nodes_.at(i); }
  const Value& value(int id) const { return values_.at(id); }
  std::span<const Node> nodes() const { return nodes_; }
  /// A Var for value `id` (e.g. a layer's output found by node name) to ask backward for.
  Var var(int id) { return Var(this, id, values_.at(id).tensor); }
  /// Parameter leaves in creation order (for training).
  std::vector<Var> parameters() const;

  /// Number of ops run on this tape so far (recorded or not; node i is op i in record mode).
  int ops_run() const { return ops_run_; }
  /// Bytes of the outputs of the ops run so far (recorded or not): what a recording forward of the
  /// same inputs keeps alive. Attribution methods size their chunks of rows from it
  /// (attribution/core/limits.h).
  int64_t output_bytes() const { return output_bytes_; }
  /// Substitutes the output of op number `op_index` (0-based, as ops_run() counts) by
  /// fn(computed output), same shape. Runs a model with one layer's activation replaced (layer
  /// integrated gradients, layer ablation) without any hook in the model itself. Set it before
  /// the forward pass; one hook per op index.
  void set_output_hook(int op_index, std::function<Tensor(const Tensor&)> fn);

 private:
  Var leaf(Tensor value, std::string name, ValueRole role);
  TapeOptions options_;
  Workspace workspace_;
  std::vector<Value> values_;
  std::vector<Node> nodes_;
  int ops_run_ = 0;
  int64_t output_bytes_ = 0;
  std::vector<std::pair<int, std::function<Tensor(const Tensor&)>>> hooks_;
};

}  // namespace backlight
