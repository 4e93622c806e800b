#pragma once
/// The shared core of the gradient-family methods: one recorded forward pass and the backward
/// pass from the target through a rule set.
#include <memory>
#include <vector>

#include "attribution/core/target.h"
#include "engine/module.h"
#include "engine/rules/rule_set.h"

namespace backlight {

struct ForwardPass {
  std::unique_ptr<Tape> tape;
  Var input;
  Var output;
};

/// Records model.forward(x) on a new tape using workspace `ws` (buffers are reused across calls
/// that share it). Throws naming the input shape when x has no batch axis or holds NaN/inf.
ForwardPass forward_pass(const Module& model, const Tensor& x, const Workspace& ws, TapeOptions options = {});

/// Backward from the target of `pass` to each of `wrt` through `rules`. Class targets seed the
/// logits with a one-hot vector; function targets are recorded on the tape and seeded with ones.
/// `classes` receives the resolved class per item (empty for function targets).
std::vector<Tensor> target_backward(const ForwardPass& pass, const Target& target, const RuleSet& rules,
                                    std::span<const Var> wrt, std::vector<int64_t>* classes = nullptr);

/// Checks that every element is finite; throws naming `what` and the first bad index.
void require_finite(const Tensor& t, const char* what);

/// A workspace to use: the caller's, or a fresh one owned by `local`.
const Workspace& pick_workspace(const Workspace* given, std::unique_ptr<Workspace>& local);

}  // namespace backlight
