#pragma once
/// Rule: how one tape node sends a backward signal (gradient, relevance, multipliers) from its
/// output to its inputs. backward() dispatches every node through a rule; the plain gradient is
/// the default. Rules are stateless const values (shared_ptr<const Rule>): per-run state lives
/// on the tape and in the RuleContext, so one rule may serve many tapes and threads at once.
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "engine/error.h"
#include "engine/tape.h"

namespace backlight {

/// What a rule sees of one node during a backward pass. Read-only.
class RuleContext {
 public:
  RuleContext(const Tape& tape, int node_index, std::span<const bool> needs_grad)
      : tape_(tape), node_index_(node_index), node_(tape.node(node_index)), needs_grad_(needs_grad) {}

  const Tape& tape() const { return tape_; }
  const Node& node() const { return node_; }
  int node_index() const { return node_index_; }
  OpKind kind() const { return node_.kind; }
  /// Module path of the node ("features.0").
  const std::string& name() const { return node_.name; }
  int num_inputs() const { return static_cast<int>(node_.inputs.size()); }
  /// Forward value of input i (activations first, then parameters/buffers, as the op defines).
  const Tensor& input(int i) const { return tape_.value(node_.inputs.at(i)).tensor; }
  ValueRole input_role(int i) const { return tape_.value(node_.inputs.at(i)).role; }
  const Tensor& output() const { return tape_.value(node_.output).tensor; }
  /// Whether the backward pass needs a signal for input i; rules may skip the others
  /// (return an undefined Tensor there). Parameters need one only in training.
  bool needs_grad(int i) const { return needs_grad_[i]; }
  template <class A>
  const A& attrs() const {
    const A* a = std::get_if<A>(&node_.attrs);
    BL_CHECK(a, "RuleContext: node ", node_.name, " (", to_string(node_.kind), ") has other attributes");
    return *a;
  }
  /// Workspace of the tape: allocate outputs from here so repeated runs reuse memory.
  Tensor alloc(const Shape& shape) const { return tape_.alloc(shape); }
  const Workspace& workspace() const { return tape_.workspace(); }
  /// True when the batch holds [inputs; references] (see Tape).
  bool has_reference() const { return tape_.paired_reference(); }

 private:
  const Tape& tape_;
  int node_index_;
  const Node& node_;
  std::span<const bool> needs_grad_;
};

class Rule {
 public:
  virtual ~Rule() = default;
  /// Short name for listings and explain() ("gradient", "epsilon(1e-06)").
  virtual std::string name() const = 0;
  /// One signal per node input (same shapes as the inputs); undefined where !ctx.needs_grad(i).
  /// Throws RuleError when the rule does not apply to ctx.kind().
  virtual std::vector<Tensor> backward(const RuleContext& ctx, const Tensor& grad_out) const = 0;
};

using RulePtr = std::shared_ptr<const Rule>;

/// The plain vector-Jacobian product of every op (the default rule).
RulePtr gradient_rule();

/// The plain VJP of one node; rules call this for the parts they do not modify.
std::vector<Tensor> plain_vjp(const RuleContext& ctx, const Tensor& grad_out);

}  // namespace backlight
