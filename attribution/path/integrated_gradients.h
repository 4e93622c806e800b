#pragma once
/// Integrated Gradients (Sundararajan et al. 2017), as Captum's IntegratedGradients:
///   attr = (x - x') * sum_k w_k * d target / d x |_(x' + alpha_k (x - x'))
/// with alphas/weights from the integration rule (integration.h). The steps x items are run in
/// chunks of `internal_batch_size` rows (Captum's semantics: steps per chunk =
/// internal_batch_size / N, at least 1); only one chunk of gradients is alive at a time and the
/// result does not depend on the chunking (tested). On the CPU (class targets, not called from
/// inside a parallel region) the threads divide each chunk's steps among themselves and run
/// their parts side by side, one thread per part, instead of splitting every op
/// (attribution/core/side_by_side.h); the parts' gradients are added in step order, so the
/// result is the one-thread result up to the float rounding of smaller batches (tested). Several baselines: the attributions and deltas are
/// averaged over them.
///
/// Devices: one implementation for both. With a CUDA `workspace` (model on its device; host
/// inputs are copied over) interpolation, forward/backward, accumulation and the final
/// (x - x') * sum step run on the device through the fused kernels (kernels/dispatch.h), in
/// workspace buffers reused across chunks; result.attribution stays on the device, while
/// output, target and delta are host tensors (per chunk only the class seed goes over and a
/// finiteness flag comes back; per baseline the [N] target values and item sums come back).
/// Zero and constant baselines are made on the device, the other kinds on the host and copied.
#include "attribution/core/baseline.h"
#include "attribution/path/integration.h"
#include "attribution/core/pass.h"
#include "attribution/core/result.h"

namespace backlight {

struct IntegratedGradientsOptions {
  int steps = 50;
  Integration method = Integration::GaussLegendre;
  std::vector<Baseline> baselines = {Baseline::zero()};
  /// Rows per forward (steps x items); 0 = all steps at once when they fit the activation budget
  /// (units_per_chunk in attribution/core/limits.h), else equal chunks that do.
  int internal_batch_size = 0;
  bool multiply_by_inputs = true;
  const RuleSet* rules = nullptr;  ///< backward rules along the path (default: plain gradient)
  const Workspace* workspace = nullptr;
};

/// delta[n] = sum(attr[n]) - (f_t(x_n) - f_t(x'_n)) (Captum's convergence delta), in result.delta.
AttributionResult integrated_gradients(const Module& model, const Tensor& inputs, const Target& target,
                                       const IntegratedGradientsOptions& options = {});

/// The target value per item for a batch (one forward, no recording): f_t(x), shape [N]. The
/// values, the classes and `output` are host tensors whatever the workspace's device.
/// `bytes_per_row` receives the activation bytes the forward produced per row (Tape::output_bytes
/// / N): what chunked methods size their chunks from (units_per_chunk in core/limits.h).
Tensor target_values(const Module& model, const Tensor& inputs, const Target& target, const Workspace& ws,
                     std::vector<int64_t>* classes = nullptr, Tensor* output = nullptr,
                     int64_t* bytes_per_row = nullptr);

}  // namespace backlight
