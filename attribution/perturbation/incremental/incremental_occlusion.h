#pragma once
/// Incremental occlusion: Occlusion (attribution/perturbation/occlusion.h) computed exactly, but without
/// running the whole model for every window position. After Nakandala et al., "Incremental and
/// Approximate Inference for Faster Occlusion-based Deep CNN Explanations" (SIGMOD 2019), exact
/// variant (no projective-field thresholding).
///
/// One recorded forward pass of an item caches every activation. For a batch of window positions
/// the tape's nodes then run in order on one row per position, each node recomputing only the
/// rectangle of its output that the window can reach (plan.h, region_ops.h): a 16x16 window at
/// 224x224 touches 18x18 outputs of VGG-16's first conv. Once a rectangle covers (nearly) the whole
/// map, or at the first node that is not spatially local (adaptive pooling, flatten, linear), the
/// rows become whole tensors and the rest of the graph runs normally on the batch (replay.h).
/// Recomputed values equal the plain sweep's up to float32 round-off (the same ops on crops; the
/// summation order inside a GEMM may differ).
///
/// Threads: the graph runs as one share of the batch's positions per thread (ops inline), except
/// a tail behind a very large weight (Plan::tail), run on the whole batch with threaded ops.
///
/// OcclusionOptions::incremental picks it: Auto (the default) when the graph is supported and the
/// plan saves at least a fifth of the conv/linear FLOPs, On (throws naming the unsupported op
/// otherwise), Off (always the plain sweep). Items run one after the other, each with its own
/// cached activations (memory: one item's activations plus one batch's rows).
#include <memory>
#include <string>

#include "attribution/perturbation/occlusion_options.h"
#include "attribution/perturbation/incremental/plan.h"
#include "attribution/perturbation/perturbation.h"

namespace backlight {

/// What incremental occlusion would do for a model, inputs and options: one recorded forward
/// pass and the plan, no sweep. For reports and benchmarks.
struct IncrementalOcclusionInfo {
  bool applies = false;  ///< every node on the way to the output is supported
  bool chosen = false;   ///< occlusion() takes the incremental path with these options
  std::string reason;    ///< why it does not apply (empty when it does)
  /// Conv2d and linear FLOPs (2 per multiply-add) of all window positions of one item (item 0's
  /// plan): the plain sweep and the incremental plan.
  double plain_flops = 0, incremental_flops = 0;
};
IncrementalOcclusionInfo incremental_occlusion_info(const Module& model, const Tensor& inputs,
                                                    const OcclusionOptions& options);

namespace incremental {

/// Auto's threshold: the incremental path is taken when it needs at most this fraction of the
/// plain sweep's FLOPs.
inline constexpr double kAutoFlopRatio = 0.8;

/// A recorded forward pass of one item [1, C, H, W] and its plan.
struct Recording {
  std::unique_ptr<Tape> tape;
  Plan plan;
};
Recording record_and_plan(const Module& model, const Tensor& item, const OcclusionGeometry& g, const Workspace& ws);

/// Whether occlusion() uses the plan for `mode`; throws for mode On when it does not apply.
bool use_plan(const Plan& plan, IncrementalMode mode);

/// diffs [positions, N]: diffs[j*N + n] = eval.initial()[n] - target value of item n occluded at
/// window j (the plain sweep's layout). Items run one after the other (each recorded on its own
/// tape; `first_item` is item 0's), `per` window positions per batch split over the cores;
/// `bar` advances by one per position and item.
Tensor occlusion_diffs(const Module& model, Recording first_item, const Tensor& inputs, const OcclusionGeometry& g,
                       BaselineRef baseline, const RowEvaluator& eval, const Target& target, int64_t per,
                       Progress& bar, const Workspace& ws);

}  // namespace incremental

}  // namespace backlight
