#pragma once
/// Running the op of a recorded tape node again on new inputs, with the node's recorded
/// attributes (already normalised by the op that recorded it), through the same forward ops
/// (engine/ops/ops.h), so the arithmetic is the model's. Used by incremental occlusion to replay
/// a forward pass on a different number of rows.
#include <span>

#include "engine/tape.h"

namespace backlight {

/// The op of `node` on `inputs` (one Var per node input, in the node's order), recorded on their
/// tape. `recorded_output` is the node's recorded output shape: reshape keeps its trailing dims
/// and takes the batch size (first dim) from its new input. Embedding reads its recorded indices.
/// Throws when an input count does not match the node.
Var rerun(const Node& node, std::span<const Var> inputs, const Shape& recorded_output);

}  // namespace backlight
