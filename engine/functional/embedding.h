#pragma once
/// Embedding lookup (no tape): rows of a table gathered by integer indices stored as floats, and
/// the scatter-add that is its weight gradient.
#include "engine/tensor.h"

namespace backlight::fn {

/// Throws naming the first bad entry (its position and value) unless every index is an exact
/// integer in [0, num_embeddings).
void check_embedding_indices(const Tensor& indices, int64_t num_embeddings);
/// weight[num, dim] rows at `indices` (any shape, validated) -> [*indices.shape, dim].
Tensor embedding(const Tensor& indices, const Tensor& weight, const Workspace* ws);
/// dW[num, dim] with dW[k] = sum of g[i] over positions i whose index is k; g is [*indices.shape, dim].
Tensor embedding_backward(const Tensor& g, const Tensor& indices, const Shape& weight_shape, const Workspace* ws);

}  // namespace backlight::fn
