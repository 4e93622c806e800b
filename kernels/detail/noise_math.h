#pragma once
/// Per-element math of the noise-tunnel kernels (kernels/noise.h), shared by the threaded CPU
/// and the CUDA tier (BL_HD: host and device).
#include <cstdint>

#include "kernels/noise.h"
#include "engine/philox.h"

namespace backlight::noise_math {

/// Element i of a noisy copy: x + stdev * z, z the i-th standard normal Philox draw of `stream`.
BL_HD inline float noisy(float x, float stdev, uint64_t seed, uint64_t stream, uint64_t i) {
  return x + stdev * philox::normal(seed, stream, i);
}

/// The Philox stream of the noise of sample s of item n (N items): one stream per (s, n), so a
/// draw depends on nothing else (not the chunking, not the thread).
BL_HD inline uint64_t noise_stream(uint64_t base, int64_t sample, int64_t items, int64_t item) {
  return base + static_cast<uint64_t>(sample * items + item);
}

/// The statistic of `samples` values with the given sum and sum of squares: the mean
/// (SmoothGrad), the mean square (SmoothGrad-Squared) or the population variance (VarGrad,
/// Captum's mean of squares minus square of the mean).
BL_HD inline double moment(double sum, double sum_sq, double samples, MomentStat stat) {
  const double mean = sum / samples, mean_sq = sum_sq / samples;
  if (stat == MomentStat::MeanSquare) return mean_sq;
  if (stat == MomentStat::Variance) return mean_sq - mean * mean;
  return mean;
}

}  // namespace backlight::noise_math
