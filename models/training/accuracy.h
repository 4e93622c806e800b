#pragma once
/// Classification accuracy of a model on labelled data (models/training/classifier_data.h).
/// Inference tapes (nothing recorded); CPU.
#include <cstdint>
#include <span>

#include "engine/module.h"
#include "engine/tensor.h"
#include "models/training/classifier_data.h"

namespace backlight {

/// How many rows of `logits` [N, classes] have their largest value (first on ties) at the label.
int64_t count_correct(const Tensor& logits, std::span<const int64_t> labels);

/// Top-1 accuracy in [0, 1] over all of `data`, in batches of `batch` consecutive examples
/// (batch >= 1).
double classifier_accuracy(const Module& model, const ClassifierData& data, int64_t batch = 250);

}  // namespace backlight
