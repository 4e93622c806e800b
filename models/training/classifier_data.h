#pragma once
/// Labelled images for training and testing a classifier (models/training/train_classifier.h):
/// a size and a function that builds the batch of any list of indices, so a dataset can be
/// generated on the fly (the synthetic shapes, models/data/shapes.h) or held in memory (ROAR's
/// modified images, `backlight roar`). CPU.
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "engine/tensor.h"

namespace backlight {

/// A minibatch: images [N, C, H, W] and N labels in [0, classes).
struct LabelledBatch {
  Tensor images;
  std::vector<int64_t> labels;
};

/// Examples 0 .. size-1; `batch(indices)` returns them in the given order (each index in
/// [0, size)). The function must be callable from one thread at a time (it may use all cores).
struct ClassifierData {
  int64_t size = 0;
  std::function<LabelledBatch(std::span<const int64_t> indices)> batch;
};

/// Samples [begin, begin + count) of the shapes dataset `seed` (default ShapesConfig); example i is
/// sample begin + i, generated in parallel per batch. With flip_fraction > 0 each label is changed
/// as models/data/label_flip.h says (keyed by the sample's index). Throws for count < 1 or
/// begin < 0.
ClassifierData shapes_classifier_data(uint64_t seed, int64_t begin, int64_t count, double flip_fraction = 0.0);

/// Images [N, C, H, W] in memory with N labels (shared, not copied: the tensor is a handle).
/// Throws when the counts differ or N is 0.
ClassifierData tensor_classifier_data(const Tensor& images, std::vector<int64_t> labels);

}  // namespace backlight
