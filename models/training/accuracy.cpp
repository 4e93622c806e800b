#include "models/training/accuracy.h"

#include <algorithm>
#include <numeric>
#include <vector>

#include "engine/error.h"
#include "engine/tape.h"

namespace backlight {

int64_t count_correct(const Tensor& logits, std::span<const int64_t> labels) {
  BL_CHECK(logits.dim() == 2 && logits.size(0) == static_cast<int64_t>(labels.size()),
           "count_correct: expected logits [N, classes] for ", labels.size(), " labels, got ", logits.shape());
  const int64_t classes = logits.size(1);
  int64_t correct = 0;
  for (size_t i = 0; i < labels.size(); ++i) {
    const float* row = logits.data() + static_cast<int64_t>(i) * classes;
    correct += std::max_element(row, row + classes) - row == labels[i];
  }
  return correct;
}

double classifier_accuracy(const Module& model, const ClassifierData& data, int64_t batch) {
  BL_CHECK(batch >= 1 && data.size >= 1, "classifier_accuracy: expected batch >= 1 and data, got batch ", batch,
           ", ", data.size, " examples");
  int64_t correct = 0;
  std::vector<int64_t> indices;
  for (int64_t begin = 0; begin < data.size; begin += batch) {
    indices.resize(static_cast<size_t>(std::min(batch, data.size - begin)));
    std::iota(indices.begin(), indices.end(), begin);
    const LabelledBatch b = data.batch(indices);
    Tape tape(TapeOptions{.record = false});
    correct += count_correct(model.forward(tape.input(b.images)).value(), b.labels);
  }
  return static_cast<double>(correct) / static_cast<double>(data.size);
}

}  // namespace backlight
