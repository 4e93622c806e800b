#pragma once
/// GradientSHAP (Lundberg & Lee 2017, expected gradients), as Captum's GradientShap: SmoothGrad
/// (noise_tunnel.h) over InputBaselineXGradient with a random baseline and a random point on the
/// straight path per noisy copy. For copy s of item n (noisy input x~ = x_n + noise[s, n]):
///   b     = baselines[k],  k = baseline index of (s, n), drawn uniformly from the distribution
///   alpha ~ U(0, 1)
///   a_s   = (x~ - b) * d target / d z |_(z = alpha x~ + (1 - alpha) b)
///   attr[n] = mean_s a_s
/// Draws: Philox streams by (seed, s * N + n), so results do not depend on samples_batch_size; or
/// explicit `baseline_indices`, `alphas` ([samples * N], index s * N + n) and `noise`
/// [samples, N, ...] to reproduce Captum's numpy/torch draws (Captum's row n * samples + s is our
/// index s * N + n).
/// Convergence delta per noisy copy (Captum's return_convergence_delta):
///   delta = sum(a_s) - (f_t(x~) - f_t(b)), in result.delta [N * samples], Captum's order
/// (row n * samples + s) when everything runs in one chunk; costs two extra inference forwards.
#include <vector>

#include "attribution/core/pass.h"
#include "attribution/core/result.h"

namespace backlight {

struct GradientShapOptions {
  /// Baseline distribution [B, ...] with the inputs' per-item shape; undefined: one zero baseline.
  Tensor baselines;
  int samples = 5;              ///< Captum n_samples
  float stdev = 0.0f;           ///< Captum stdevs: noise added to the inputs (absolute)
  bool stdev_relative = false;  ///< stdev as a fraction of each item's value range (max - min)
  uint64_t seed = 0;
  int samples_batch_size = 0;   ///< samples per forward/backward (0: all, as Captum)
  bool multiply_by_inputs = true;
  bool compute_delta = true;
  std::vector<int64_t> baseline_indices;  ///< explicit draws, [samples * N], index s * N + n
  std::vector<float> alphas;              ///< explicit draws, [samples * N], index s * N + n
  Tensor noise;                           ///< explicit noise [samples, N, ...]
  const Workspace* workspace = nullptr;
};

/// GradientSHAP attributions [N, ...] for inputs [N, ...]; top-1 targets are resolved on the clean
/// inputs (result.output is the clean output).
AttributionResult gradient_shap(const Module& model, const Tensor& inputs, const Target& target,
                                const GradientShapOptions& options = {});

}  // namespace backlight
