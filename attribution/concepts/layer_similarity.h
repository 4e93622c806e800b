#pragma once
/// Layer-by-layer representation similarity over a stream of input batches: every layer of
/// model A against every layer of model B (or of A itself), the matrix the literature draws
/// (Kornblith et al. 2019, Fig. 4). Inputs arrive batch by batch and are never held whole; what
/// is kept depends on the shapes, chosen once from the first batch and the expected count:
///
///   feature space  every layer has fewer features p than examples n, and the measure is cka,
///                  cca, svcca or pwcca: per layer sum x and X^T X, per pair X^T Y (doubles),
///                  O(sum p^2 + sum_pairs p q) memory, independent of n.
///   example space  otherwise (a layer with p >= n, or cka_rbf): each layer's activation rows
///                  are kept (floats, n x p) and reduced at the end to n x n Gram matrices or
///                  example coordinates (linear CKA and SVCCA are computed exactly from those).
///                  cca and pwcca are refused here: with p >= n every canonical correlation is 1.
///
/// Activations are flattened per example ([N, C, H, W] -> [N, C*H*W]). All layers of one model
/// are captured in one forward pass without a tape.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "attribution/concepts/similarity.h"
#include "attribution/core/progress.h"
#include "attribution/core/reducer.h"
#include "attribution/core/unit_store.h"
#include "engine/module.h"

namespace backlight {

/// Next batch of inputs [b, ...]; an undefined Tensor when the stream is done.
using BatchSource = std::function<Tensor()>;

/// A stream of `count` batches read by number (batch j of the whole stream), so that a process
/// reads only its own batches and a resumed run skips stored ones. read(j, complete) returns the
/// batch's inputs; it may leave out inputs that cannot be read (then it sets `complete` to false)
/// and returns an undefined Tensor when none is left.
struct NumberedBatches {
  int64_t count = 0;
  std::function<Tensor(int64_t j, bool& complete)> read;
};

/// The module paths of `model` that produce an op output in a forward pass of `probe` (a batch
/// of at least one input), in forward order, each once ("all" for the CLI's --layers).
std::vector<std::string> model_layer_names(const Module& model, const Tensor& probe);

struct LayerSimilarityOptions {
  SimilarityMeasure measure = SimilarityMeasure::Cka;
  SimilarityOptions similarity{};
  /// Expected number of examples (the stream's length); chooses feature vs example space and
  /// drives the progress bar. 0: unknown (example space).
  int64_t expected_examples = 0;
  /// Memory cap for the kept statistics or rows; exceeding it throws naming the estimate.
  int64_t max_bytes = int64_t{4} << 30;
  ProgressOptions progress{};
  /// Distributed run (attribution/core/reducer.h; nullptr: one process). next_batch then yields
  /// this process's share of the stream only - batch j of the whole stream when j % size ==
  /// rank, in order, every batch of the same size except the stream's last - and `probe` (at
  /// least one input) is required, since a process may get no batch. Feature space: the sums and
  /// products are added over the processes (every process gets the matrix; the order of the
  /// floating-point additions differs from one process's, so values agree with a single-process
  /// run to about 1e-12 relative in the moments, documented as 1e-9 in the measure). Example
  /// space: every process's activation rows are gathered on process 0 in stream order (the
  /// measures need all examples), so process 0's matrix equals the single-process one bit for
  /// bit; the other processes return an empty `values`.
  const Reducer* reducer = nullptr;
  /// Input(s) [b >= 1, ...] the layer shapes are read from (default: the first batch).
  Tensor probe{};
  /// Resume (attribution/core/unit_store.h; nullptr: none): unit "rows-<j>" per batch j of the
  /// stream, its activation rows (float32, every layer of A, and of B unless B is A with the same
  /// layers: 4 x inputs x features bytes), stored once computed when complete. A stored batch is
  /// not captured again (with NumberedBatches not even read), and its rows are exactly the ones a
  /// capture gives, so the matrix equals the uninterrupted run's bit for bit.
  UnitStore* units = nullptr;
};

struct LayerSimilarity {
  std::vector<std::string> layers_a, layers_b;
  Eigen::MatrixXd values;  ///< [layers_a.size(), layers_b.size()]
  int64_t examples = 0;
  std::string space;  ///< "feature" or "example"
  /// This process's units (options.units; 0 without) and how many of them were loaded, not computed.
  int64_t units_here = 0, resumed_here = 0;
};

/// Similarity of every layer in `layers_a` of `model_a` with every layer in `layers_b` of
/// `model_b` (pass the same model twice to compare a model with itself: it then runs once per
/// batch). Throws backlight::Error for unknown layers (listing the model's module paths), a
/// stream with fewer than 2 examples (4 for unbiased cka_rbf), batches whose layer shapes
/// change, cca/pwcca in example space, or a memory estimate above max_bytes.
LayerSimilarity layer_similarity(const Module& model_a, const std::vector<std::string>& layers_a,
                                 const Module& model_b, const std::vector<std::string>& layers_b,
                                 const BatchSource& next_batch, const LayerSimilarityOptions& options = {});

/// The same over numbered batches: this process reads batch j when owns_batch(reducer, j), in
/// order. options.probe is required. Examples left out by `batches` are not counted.
LayerSimilarity layer_similarity(const Module& model_a, const std::vector<std::string>& layers_a,
                                 const Module& model_b, const std::vector<std::string>& layers_b,
                                 const NumberedBatches& batches, const LayerSimilarityOptions& options);

}  // namespace backlight
