#pragma once
/// NoiseTunnel (SmoothGrad, Smilkov et al. 2017; SmoothGrad-Squared and VarGrad, Adebayo et al.
/// 2018), as Captum's NoiseTunnel: runs any attribution method on `samples` noisy copies of every
/// input item and aggregates the per-copy attributions a_s of each item:
///   smoothgrad     mean_s a_s
///   smoothgrad_sq  mean_s a_s^2
///   vargrad        mean_s a_s^2 - (mean_s a_s)^2     (population variance, Captum's formula)
///
/// Layout of one call of the wrapped method (Captum's repeat_interleave order): for a chunk of
/// samples [s0, s1) (c = s1 - s0), row n * c + (s - s0) holds x[n] + noise[s, n]; class targets
/// are repeated the same way. Chunks hold `samples_batch_size` samples each (the last one the
/// remainder), so a call sees N * c rows.
///
/// Noise: noise[s, n, i] = stdev_n * z, z a standard normal Philox draw indexed by
/// (seed, s * N + n, i), so the noise - and the result - is identical for the same seed whatever
/// the chunking. stdev_n = stdev (absolute, Captum) or stdev * (max(x_n) - min(x_n)) with
/// `stdev_relative` (the SmoothGrad paper's noise level). An explicit `noise` tensor
/// [samples, N, ...] (per-item shape of the inputs) is added as given, for reproducing Captum's
/// torch.normal draws exactly.
///
/// Convergence delta: as Captum, the wrapped method's per-row deltas are not aggregated but
/// concatenated, chunk after chunk: result.delta is [N * samples] (row order above within each
/// chunk; one chunk = Captum's order), undefined when the wrapped method returns none. When the
/// method returns one delta per row, the order is that of the samples_batch_size chunks (0: of
/// one call, Captum's nt_samples_batch_size=None), whatever the activation budget or the threads
/// (side_by_side) split them into.
///
/// Devices: the noisy rows are made on the inputs' device and the moments are kept (in double)
/// on the device of the wrapped method's attributions, by the kernels of kernels/noise.h - so
/// with CUDA inputs and a method that keeps its results on the device (on_device.h) nothing but
/// the [N] noise levels (to the device, once per call) and the deltas (back, per chunk) crosses.
/// stdev_relative reads each item's range on the host (for device inputs one copy per call).
/// CPU and device draw the same Philox numbers; their Box-Muller step uses the host libm and
/// CUDA's logf/sinf/cosf, which may differ in the last ulp. result.attribution is on that
/// device; result.delta on the host.
#include <functional>
#include <string_view>

#include "attribution/core/result.h"
#include "attribution/core/target.h"

namespace backlight {

enum class NoiseTunnelType { SmoothGrad, SmoothGradSq, VarGrad };

/// "smoothgrad", "smoothgrad_sq", "vargrad" (Captum's nt_type); throws listing the accepted names.
NoiseTunnelType noise_tunnel_type_from_string(std::string_view name);
std::string_view to_string(NoiseTunnelType type);

struct NoiseTunnelOptions {
  NoiseTunnelType type = NoiseTunnelType::SmoothGrad;
  int samples = 5;               ///< Captum nt_samples
  float stdev = 1.0f;            ///< Captum stdevs (absolute unless stdev_relative)
  bool stdev_relative = false;   ///< stdev is a fraction of each item's value range (max - min)
  uint64_t seed = 0;             ///< Philox seed of the noise
  int samples_batch_size = 0;    ///< samples per call of the wrapped method; 0: all (Captum None)
  Tensor noise;                  ///< explicit noise [samples, N, ...]; overrides stdev and seed
  /// The wrapped method may be called from several CPU threads at once: the samples of every
  /// chunk are then divided among the threads, each running its part side by side
  /// (attribution/core/side_by_side.h; CPU inputs and class targets only). Same result as one
  /// thread up to the float rounding of smaller batches. Leave false for a method that is not
  /// safe to call concurrently; the registry and GradientSHAP set it for their own methods.
  bool side_by_side = false;
  /// Activation bytes one row of the wrapped method records (Tape::output_bytes of a forward
  /// over the inputs / N), when known: with samples_batch_size 0 a chunk then holds at most
  /// kChunkActivationBytes of them (units_per_chunk, attribution/core/limits.h), as the path
  /// methods' chunks. 0: kDefaultChunkRows rows per chunk. Set by the registry and GradientSHAP.
  int64_t bytes_per_row = 0;
};

/// One call of the wrapped method: N * (sample_end - sample_begin) noisy rows and their target.
struct NoiseChunk {
  Tensor inputs;
  Target target;
  int sample_begin = 0;
  int sample_end = 0;
};

/// The wrapped method. The attribution of a chunk must have N * c rows along axis 0 (any per-row
/// shape: input, layer or CAM attributions); result.layer_map is aggregated the same way when given.
using AttributionFn = std::function<AttributionResult(const Tensor& inputs, const Target& target)>;
/// A wrapped method that also wants to know which samples a chunk holds (GradientSHAP draws its
/// baselines and alphas per sample).
using NoiseChunkFn = std::function<AttributionResult(const NoiseChunk& chunk)>;

/// Aggregated attribution [N, ...] of `method` over the noisy copies of `inputs` [N, ...].
/// Targets: class indices are repeated per copy; a function target is passed as is; Target::top1()
/// lets the wrapped method resolve each noisy copy's own top-1 class (resolve it on the clean
/// inputs first, as attribute() in registry.h does, to explain the clean prediction).
/// result.target holds the per-item classes for index targets (empty otherwise); result.output is
/// left undefined (the tunnel never sees the clean output).
AttributionResult noise_tunnel(const AttributionFn& method, const Tensor& inputs, const Target& target,
                               const NoiseTunnelOptions& options = {});
AttributionResult noise_tunnel(const NoiseChunkFn& method, const Tensor& inputs, const Target& target,
                               const NoiseTunnelOptions& options = {});

/// The noisy rows of samples [s0, s1) as described above ([N * (s1 - s0), ...]).
Tensor noisy_inputs(const Tensor& inputs, const NoiseTunnelOptions& options, int s0, int s1);

}  // namespace backlight
