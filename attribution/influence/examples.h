#pragma once
/// Labelled examples for influence methods (attribution/influence/tracin.h), streamed in
/// batches so a training set never has to be in memory at once.
#include <cstdint>
#include <functional>
#include <vector>

#include "engine/tensor.h"

namespace backlight {

/// A batch of examples with their labels (the targets of the loss).
struct LabeledBatch {
  Tensor inputs;                ///< [N, ...] model inputs (host)
  std::vector<int64_t> labels;  ///< N class indices
};

/// A dataset read in batches: load(begin, count) returns examples [begin, begin + count) in a
/// fixed order (the order influence scores refer to). Called once per batch and checkpoint, so
/// it must be deterministic; it may run on any thread, one call at a time.
struct ExampleSource {
  int64_t size = 0;
  std::function<LabeledBatch(int64_t begin, int64_t count)> load;
};

/// Wraps a batch already in memory (tests, small sets) as a source.
ExampleSource examples_in_memory(LabeledBatch batch);

}  // namespace backlight
