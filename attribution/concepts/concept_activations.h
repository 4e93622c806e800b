#pragma once
/// Concept sets as layer activations: the examples of a concept (or of a random counterexample
/// set) arrive as a stream of input batches and leave as one matrix per layer, [n, p] with the
/// layer's output flattened per example. Every layer is captured in the same forward pass (no
/// tape is recorded), so a set costs one forward per batch whatever the number of layers. The
/// images themselves are never kept; the activations are (TCAV's classifiers need them all).
#include <cstdint>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "attribution/concepts/layer_similarity.h"  // BatchSource
#include "engine/module.h"
#include "engine/workspace.h"

namespace backlight {

/// A named stream of examples: a concept set, a random set or the inputs to score.
struct ExampleSet {
  std::string name;
  BatchSource batches;
  int64_t expected = 0;  ///< number of examples if known (progress only), 0 otherwise
};

/// Op indices of `layers` (module paths), found on a one-example probe batch; throws naming an
/// unknown layer and listing the model's module paths.
std::vector<int> layer_ops(const Module& model, const std::vector<std::string>& layers, const Tensor& probe,
                           const Workspace& ws);

/// The activations of ops `ops` (names for messages) for every example of `set`: one matrix
/// [n, p_l] per layer. `on_batch(b)` is called after each batch with its size (progress).
/// Throws when the set is empty, holds more than `max_examples`, a layer's size changes between
/// batches, or an activation is not finite.
std::vector<Eigen::MatrixXf> gather_activations(const Module& model, const std::vector<int>& ops,
                                                const std::vector<std::string>& names, ExampleSet& set,
                                                const Workspace& ws, int64_t max_examples,
                                                const std::function<void(int64_t)>& on_batch = {});

}  // namespace backlight
