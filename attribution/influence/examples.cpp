#include "attribution/influence/examples.h"

#include "engine/error.h"

namespace backlight {

ExampleSource examples_in_memory(LabeledBatch batch) {
  BL_CHECK(batch.inputs.defined() && batch.inputs.dim() >= 1 &&
               batch.inputs.size(0) == static_cast<int64_t>(batch.labels.size()),
           "examples_in_memory: expected inputs [N, ...] and N labels");
  const int64_t n = batch.inputs.size(0);
  return {n, [b = std::move(batch)](int64_t begin, int64_t count) {
            return LabeledBatch{b.inputs.slice_batch(begin, begin + count),
                                std::vector<int64_t>(b.labels.begin() + begin, b.labels.begin() + begin + count)};
          }};
}

}  // namespace backlight
