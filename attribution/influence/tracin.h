#pragma once
/// TracIn (Pruthi et al. 2020, "Estimating Training Data Influence by Tracing Gradient
/// Descent", NeurIPS): how much each training example z moved the loss on a test example z'
/// during training, estimated from checkpoints saved along the way:
///
///   TracInCP(z, z') = sum_i lr_i * grad_theta L(theta_i, z) . grad_theta L(theta_i, z')
///
/// over checkpoints theta_i with learning rates lr_i, the gradient restricted to chosen layers
/// (default: the last Linear layer). Positive: z is a *proponent* of z' (training on z lowered
/// the loss on z'); negative: an *opponent*. Self-influence TracInCP(z, z) = sum_i lr_i
/// |grad L(theta_i, z)|^2 is high for mislabelled and unusual training examples.
///
/// L is the cross-entropy of one example (sum reduction: Captum's convention for a loss with
/// reduction "sum", and what it reproduces for "mean" by multiplying by the batch size).
/// Per-example gradients are batched (layer_gradients.h). Methods:
///   CP            the formula above on every chosen layer's weight and bias.
///   Fast          TracInCPFast: one Linear layer's weight only, factored. Its per-example
///                 gradient is g a^T (g: loss gradient at the layer output, a: layer input), so
///                 g a^T . g' a'^T = (a . a')(g . g'): no per-example gradient is materialised,
///                 cost (in + out) per pair instead of in x out. (Captum leaves the bias out too.)
///   FastRandProj  Fast with a and g replaced by Gaussian random projections P_a a, P_g g
///                 (entries N(0, 1/k), k = projection_dim, drawn once from `seed`, the same for
///                 every checkpoint); E[(P a).(P a')] = a . a', so each factor is unbiased, with a
///                 relative error of about sqrt(2/k) per factor (Johnson-Lindenstrauss). A factor
///                 no wider than k is kept exact. The idea of Captum's TracInCPFastRandProj, which
///                 projects for the same reason: large layers (wide inputs, many classes).
///
/// Training data are streamed: one batch of `batch_size` examples is loaded, its factors
/// computed and scored against all test examples, then dropped, per checkpoint (checkpoints are
/// loaded one at a time as well). Memory: the [T, N] score matrix, one checkpoint, one batch.
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "attribution/influence/examples.h"
#include "engine/module.h"

namespace backlight {

enum class TracInMethod { CP, Fast, FastRandProj };

/// "tracincp", "fast", "fast-rand-proj" (the CLI's --method values).
std::string_view to_string(TracInMethod m);
/// Inverse of to_string; throws listing the names.
TracInMethod tracin_method_from_string(std::string_view name);

/// One checkpoint: its learning rate and how to get the model with its weights (called once per
/// pass over the training data; the model is dropped after the pass).
struct TracInCheckpoint {
  double lr = 0.0;
  std::function<ModulePtr()> load;
};

struct TracInOptions {
  TracInMethod method = TracInMethod::CP;
  /// Module paths of Linear/Conv2d layers ("classifier", "features.9"); empty: the last Linear.
  /// Fast and FastRandProj take one Linear layer.
  std::vector<std::string> layers;
  /// Training examples per batch (one forward + one backward each).
  int64_t batch_size = 64;
  /// FastRandProj: rows of each projection (k above).
  int64_t projection_dim = 16;
  uint64_t seed = 0;
  /// Called after every batch with (examples done, total) over all checkpoints (progress bars).
  std::function<void(int64_t done, int64_t total)> progress;
  /// The training batches this call computes (batch b = examples [b * batch_size, (b + 1) *
  /// batch_size)); unset: all. The scores of the others stay 0. Batches are fixed by batch_size,
  /// so a batch's scores do not depend on which call computes it: processes that share a training
  /// set (the CLI's MPI ranks, docs/cluster.md) get the single run's values bit for bit.
  std::function<bool(int64_t batch)> batch_filter;
};

/// Influence of every training example on every test example: [T, N], row t = test example t,
/// column n = training example n (the source's order). Throws for no checkpoints, an lr <= 0,
/// an empty source, bad layers (naming them), or labels outside the model's classes.
Tensor tracin_influence(std::span<const TracInCheckpoint> checkpoints, const ExampleSource& train,
                        const LabeledBatch& test, const TracInOptions& options = {});

/// Self-influence of every training example: [N]. For FastRandProj, the estimate
/// |P_a a|^2 |P_g g|^2 (Captum refuses self-influence there; here it is allowed but approximate).
Tensor tracin_self_influence(std::span<const TracInCheckpoint> checkpoints, const ExampleSource& train,
                             const TracInOptions& options = {});

/// The k largest (largest = true: proponents) or smallest (opponents) entries of `scores`,
/// best first; ties keep the lower index first. k is clipped to scores.size().
struct Ranked {
  std::vector<int64_t> indices;
  std::vector<float> scores;
};
Ranked top_k(std::span<const float> scores, int64_t k, bool largest);

/// top_k over the entries `candidates` of `scores` only (indices into scores; e.g. one process's
/// share of the training set, without examples that failed to load). Same order and tie rule.
Ranked top_k_of(std::span<const float> scores, std::span<const int64_t> candidates, int64_t k, bool largest);

/// The k best of several top-k lists (each best first, as top_k returns them), with top_k's order
/// and tie rule: merging the lists of disjoint shares gives top_k of the whole.
Ranked merge_top_k(std::span<const Ranked> parts, int64_t k, bool largest);

}  // namespace backlight
