#include "engine/tape.h"

#include "engine/error.h"

namespace backlight {

Tape::Tape(TapeOptions options, Workspace workspace) : options_(options), workspace_(std::move(workspace)) {}

Var Tape::leaf(Tensor value, std::string name, ValueRole role) {
  BL_CHECK(value.defined(), "Tape: leaf '", name, "' has no tensor");
  // Ops allocate from the tape's workspace, so a leaf must live where the workspace allocates.
  if (value.cuda_context() != workspace_.cuda_context()) [[unlikely]]
    BL_THROW("Tape: leaf '", name, "' ", value.shape(), " is on ", to_string(value.device()), " but the tape's workspace ",
             "allocates on ", to_string(workspace_.device()),
             value.is_cuda() && workspace_.cuda_context() ? " (another CUDA context)" : "",
             "; move it with Tensor::to() / Module::to() using the tape's workspace");
  if (!options_.record) return Var(this, -1, std::move(value));
  values_.push_back(Value{value, -1, role, std::move(name)});
  return Var(this, static_cast<int>(values_.size()) - 1, std::move(value));
}

Var Tape::input(Tensor value, std::string name) { return leaf(std::move(value), std::move(name), ValueRole::Input); }
Var Tape::param(Tensor value, std::string name) {
  return leaf(std::move(value), std::move(name), ValueRole::Parameter);
}
Var Tape::buffer(Tensor value, std::string name) { return leaf(std::move(value), std::move(name), ValueRole::Buffer); }

Var Tape::record(OpKind kind, std::string_view name, std::initializer_list<Var> inputs, Tensor output, OpAttrs attrs,
                 std::vector<Tensor> saved) {
  return record(kind, name, std::span<const Var>(inputs.begin(), inputs.size()), std::move(output), std::move(attrs),
                std::move(saved));
}

void Tape::set_output_hook(int op_index, std::function<Tensor(const Tensor&)> fn) {
  BL_CHECK(op_index >= ops_run_, "Tape::set_output_hook: op ", op_index, " has already run (", ops_run_,
           " ops so far); set hooks before the forward pass");
  BL_CHECK(fn, "Tape::set_output_hook: no function given");
  hooks_.emplace_back(op_index, std::move(fn));
}

Var Tape::record(OpKind kind, std::string_view name, std::span<const Var> inputs, Tensor output, OpAttrs attrs,
                 std::vector<Tensor> saved) {
  const int op = ops_run_++;
  for (const auto& [index, fn] : hooks_) {
    if (index != op) continue;
    Tensor replaced = fn(output);
    BL_CHECK_SHAPE(replaced.shape() == output.shape(), "Tape output hook for op ", op, " ('", name,
                   "') returned shape ", replaced.shape(), ", expected ", output.shape());
    output = std::move(replaced);
  }
  output_bytes_ += output.numel() * static_cast<int64_t>(sizeof(float));
  if (!options_.record) return Var(this, -1, std::move(output));
  Node node{kind, std::string(name), {}, -1, std::move(attrs), std::move(saved), false};
  node.inputs.reserve(inputs.size());
  for (const Var& v : inputs) {
    if (!v.defined()) continue;  // optional input (e.g. no bias)
    BL_CHECK(&v.tape() == this, to_string(kind), " '", name, "': input belongs to another tape");
    BL_CHECK(v.id() >= 0, to_string(kind), " '", name, "': input was created while the tape was not recording");
    node.inputs.push_back(v.id());
    node.has_params |= values_[v.id()].role == ValueRole::Parameter;
  }
  values_.push_back(Value{output, static_cast<int>(nodes_.size()), ValueRole::Activation, {}});
  node.output = static_cast<int>(values_.size()) - 1;
  nodes_.push_back(std::move(node));
  return Var(this, nodes_.back().output, std::move(output));
}

std::vector<Var> Tape::parameters() const {
  std::vector<Var> out;
  for (int i = 0; i < num_values(); ++i)
    if (values_[i].role == ValueRole::Parameter) out.push_back(Var(const_cast<Tape*>(this), i, values_[i].tensor));
  return out;
}

}  // namespace backlight
