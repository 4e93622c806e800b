#pragma once
/// Replaying one recorded tape node on new tensors: the nodes of a recorded forward pass run
/// again on a batch of rows (occluded copies) instead of the recorded batch of N items, through
/// the same forward ops (engine/ops/ops.h) on a non-recording tape, so the arithmetic is the model's.
///
/// Inputs that depend on the model input ("batched") arrive with `rows` rows in place of the
/// recorded N; the others (parameters, buffers, values computed from them) are the recorded
/// tensors. Shape ops that name the batch size (reshape) get `rows` in its place.
#include <span>
#include <string>
#include <vector>

#include "engine/tape.h"

namespace backlight::incremental {

/// Empty when `node` can be replayed on any number of rows given which of the tape's values
/// are batched (`batched`, per value id) and the recorded batch `items`; otherwise why not, naming
/// the op and the node. Rejects ops that mix rows (a reduction, softmax, concat or slice along
/// the batch axis, a reshape that merges it), constants that would not broadcast against a
/// different batch, and the ops incremental occlusion does not replay (matmul, embedding).
std::string replay_unsupported(const Tape& tape, const Node& node, const std::vector<char>& batched, int64_t items);

/// The op of `node` (a node of `recorded`) on `inputs` (one tensor per node input, in the node's
/// order; batched ones with `rows` rows). CPU; output and scratch from `ws`. Assumes
/// replay_unsupported(...) was empty.
Tensor replay(const Tape& recorded, const Node& node, std::span<const Tensor> inputs, int64_t rows,
              const Workspace& ws);

}  // namespace backlight::incremental
