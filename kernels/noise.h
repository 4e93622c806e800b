#pragma once
/// Noise-tunnel kernels (SmoothGrad, SmoothGrad-Squared, VarGrad; attribution/gradient/noise_tunnel.h):
/// the noisy copies of a batch and the running moments of the copies' attributions.
///
///   noise_rows:     out[n * copies + j, :] = x[n] + noise of sample first_sample + j of item n
///                   (Captum's repeat_interleave order), the noise being given explicitly
///                   ([samples, items, per_item]) or stdev[n] * z with z[i] the i-th standard
///                   normal Philox draw (engine/philox.h) of stream stream_base + s * items + n
///   moments_add:    sum[n, i] += sum_j a[n * copies + j, i], sum_sq the same of a^2 (double)
///   moments_finish: out = mean, mean of squares or variance of `samples` values per element
///
/// Two tiers with one argument list and one source of math (kernels/detail/noise_math.h):
/// *_cpu (threaded) and *_cuda (same arguments + a stream, CUDA builds; device pointers except
/// where noted; asynchronous, never synchronises; a failed launch throws backlight::Error).
/// Philox's integer stream is bit-identical on both; the Box-Muller step uses logf, sqrtf,
/// sinf and cosf, whose CUDA versions may differ from the host libm's in the last ulp, so CPU
/// and device noise agree to float round-off (not bit for bit). kernels/dispatch.h picks the
/// tier for a workspace.
#include <cstdint>

#include "engine/cuda/stream.h"

namespace backlight {

struct NoiseRows {
  const float* input = nullptr;  ///< [items, per_item]
  int64_t items = 0;
  int64_t per_item = 0;
  const float* stdev = nullptr;  ///< [items], the noise level per item (unused with `given`)
  const float* given = nullptr;  ///< explicit noise [samples, items, per_item], or null: Philox
  uint64_t seed = 0;
  uint64_t stream_base = 0;
  int64_t first_sample = 0;
  int64_t copies = 0;  ///< samples in this call: out has items * copies rows
};

void noise_rows_cpu(const NoiseRows& r, float* out);

/// a [items * copies, per] in interleaved rows; sum, sum_sq [items, per] doubles.
void moments_add_cpu(const float* a, int64_t items, int64_t copies, int64_t per, double* sum, double* sum_sq);

enum class MomentStat { Mean, MeanSquare, Variance };

/// out[k] = the statistic of `samples` values from sum[k], sum_sq[k], for k < count.
void moments_finish_cpu(const double* sum, const double* sum_sq, int64_t count, int64_t samples, MomentStat stat,
                        float* out);

#ifdef BACKLIGHT_HAVE_CUDA
void noise_rows_cuda(const NoiseRows& r, float* out, CudaStream stream);
void moments_add_cuda(const float* a, int64_t items, int64_t copies, int64_t per, double* sum, double* sum_sq,
                      CudaStream stream);
void moments_finish_cuda(const double* sum, const double* sum_sq, int64_t count, int64_t samples, MomentStat stat,
                         float* out, CudaStream stream);
#endif

}  // namespace backlight
