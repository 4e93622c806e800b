#pragma once
/// Losses composed of tape ops, so their gradient is the tape's (no special backward).
#include <span>
#include <string_view>

#include "engine/tape.h"

namespace backlight {

/// PyTorch F.cross_entropy(logits, targets) with mean reduction:
///   loss = -(1/N) sum_n log_softmax(logits[n])[targets[n]]
/// logits [N, C]; targets N class indices in [0, C). Returns a [1] Var. Nodes (names from
/// `name`): name.log_softmax, name.pick (mul by a one-hot input leaf name.target), name.sum
/// (over classes), name.mean (over the batch), and name (scale by -1).
Var cross_entropy(const Var& logits, std::span<const int64_t> targets, std::string_view name = "cross_entropy");

}  // namespace backlight
