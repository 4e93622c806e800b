#pragma once
/// Shared plumbing of the evaluation metrics (attribution/metrics/*): batched forward passes
/// without recording, and the score of each row's target (logit or softmax probability).
///
/// Metrics evaluate the model on many perturbed copies of each item. The rows are run in chunks
/// of `batch` rows (0: all at once) on inference tapes (TapeOptions{.record = false}), so memory
/// stays bounded and no tape node is kept. CPU, synchronous.
#include <cstdint>
#include <vector>

#include "attribution/core/target.h"
#include "engine/module.h"

namespace backlight::metrics {

/// What a metric reads from the model output for a row.
enum class Score {
  Logit,        ///< output[row, class] (or the target function's value)
  Probability,  ///< softmax(output[row])[class] (class targets only)
};

/// The target classes of `inputs` [N, ...] (one forward; top-1 resolved on the unperturbed
/// inputs, so perturbed rows keep explaining the same class). Empty for function targets.
std::vector<int64_t> resolve_classes(const Module& model, const Tensor& inputs, const Target& target);

/// Scores of `rows` [M, ...] where row r belongs to item item_of_row(r) = r / rows_per_item:
/// the class classes[item] (class targets), or the target function's value per row (function
/// targets; `score` must be Logit). Runs ceil(M / batch) forwards (batch 0: one). Returns [M].
Tensor row_scores(const Module& model, const Tensor& rows, const Target& target, const std::vector<int64_t>& classes,
                  int64_t rows_per_item, Score score, int64_t batch);

/// Item `n` of a batch as a tensor [1, ...] (a view).
inline Tensor item(const Tensor& t, int64_t n) { return t.slice_batch(n, n + 1); }

}  // namespace backlight::metrics
