#pragma once
/// backward(): the reverse walk over a tape. Every node on a path from a `wrt` value to an
/// output is sent through the rule its RuleSet assigns; nothing else is computed (no parameter
/// gradients unless parameters are in `wrt`). Fan-out accumulates by summation. The tape is not
/// modified, so the same tape serves any number of backward passes.
#include <span>
#include <vector>

#include "engine/rules/rule_set.h"
#include "engine/tape.h"

namespace backlight {

/// Signals (gradients, relevances) at each `wrt` value, in order. outputs[i] receives seed
/// seeds[i] (same shape; a host seed of a device output is copied to the device). A wrt value
/// with no path from the outputs gets zeros.
/// wrt may be inputs, parameters or intermediate values (layer methods, Grad-CAM).
std::vector<Tensor> backward(const Tape& tape, std::span<const Var> outputs, std::span<const Tensor> seeds,
                             std::span<const Var> wrt, const RuleSet& rules);

/// The common case: one output, one seed, one wrt value.
Tensor backward(const Var& output, const Tensor& seed, const Var& wrt, const RuleSet& rules);

/// Plain gradient of one output.
Tensor grad(const Var& output, const Tensor& seed, const Var& wrt);

}  // namespace backlight
