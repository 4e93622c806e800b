#pragma once
/// OcclusionOptions (attribution/perturbation/occlusion.h), on its own so that the incremental
/// path (attribution/perturbation/incremental/) can take them without including occlusion().
#include <cstdint>
#include <vector>

#include "attribution/core/baseline.h"
#include "attribution/core/progress.h"
#include "engine/workspace.h"

namespace backlight {

/// Whether occlusion runs incrementally (attribution/perturbation/incremental/incremental_occlusion.h).
enum class IncrementalMode {
  Auto,  ///< when the model's graph is supported and the plan saves at least 20% of the FLOPs
         ///< (never on a CUDA workspace: the plain path runs on the device)
  On,    ///< always; throws naming the first unsupported op when the graph is not supported,
         ///< and on a CUDA workspace (incremental occlusion is CPU-only)
  Off,   ///< never: one full forward per window position
};

struct OcclusionOptions {
  /// Window shape per input dimension without the batch axis (e.g. {3, 15, 15} for [N,3,H,W]).
  std::vector<int64_t> window;
  /// Step per dimension: empty (1 everywhere), one value for all dimensions, or one per dimension;
  /// each at most the window where the window is smaller than the input (Captum's rule).
  std::vector<int64_t> stride;
  /// The occluding value: zero, a constant, or any Baseline kind (a tensor [N, ...] or one item).
  Baseline baseline = Baseline::zero();
  int perturbations_per_eval = 0;  ///< window positions per forward; 0: automatic
  /// Incremental occlusion: cache the unoccluded activations and recompute, per window, only
  /// the part of each layer the window can reach (exact up to float32 round-off).
  IncrementalMode incremental = IncrementalMode::Auto;
  ProgressOptions progress;
  const Workspace* workspace = nullptr;
};

}  // namespace backlight
