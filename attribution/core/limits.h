#pragma once
/// Limits on the counts that scale an attribution run (issue 14: `--steps 1000000000` ran for
/// minutes and tens of GB before doing any work). Each count is checked up front, and the
/// message names the option and the CLI flag. The limits are far above any useful setting:
///   steps (integration points, --steps) <= 100,000: Captum's default is 50 and published IG
///     runs use <= 300; 100,000 forward+backward passes of even LeNet take minutes, of a
///     ResNet-18 hours. Computing 100,000 Gauss-Legendre nodes takes ~1 s (integration.cpp).
///   samples (--samples: noise tunnel, GradientSHAP, Shapley sampling, LIME, KernelSHAP,
///     feature permutation; --masks: RISE) <= 1,000,000: each sample is at least one forward of
///     every item; RISE, the largest user (the paper uses 8,000 masks), stays two orders below.
/// Memory does not grow with these counts: every method runs them in chunks of rows
/// (kDefaultChunkRows when the caller does not choose a chunk size).
#include <cstdint>
#include <string_view>

#include "engine/error.h"

namespace backlight {

inline constexpr int64_t kMaxSteps = 100'000;
inline constexpr int64_t kMaxSamples = 1'000'000;

/// Rows (steps x items, or samples x items) per forward when an option says "0: all at once":
/// all of them up to this many (so Captum's default of 50 steps on one image is one batch), then
/// chunks. Bounds the activation memory of a forward/backward to that of a 64-image batch.
inline constexpr int64_t kDefaultChunkRows = 64;

/// Throws backlight::Error "<where>: <option> (<flag>) = <value> exceeds the limit of <limit>
/// (<why>)" when value > limit.
inline void check_count_limit(std::string_view where, std::string_view option, std::string_view flag, int64_t value,
                              int64_t limit) {
  BL_CHECK(value <= limit, where, ": ", option, " (", flag, ") = ", value, " exceeds the limit of ", limit,
           " (attribution/core/limits.h: each unit costs at least one forward per item; memory stays one chunk)");
}

/// Units (steps or samples) per chunk: `requested_rows` / items (at least 1) when the caller set
/// a chunk size, else all `units` as long as they fit kDefaultChunkRows rows (at least 1).
inline int64_t units_per_chunk(int64_t requested_rows, int64_t items, int64_t units) {
  items = items > 0 ? items : 1;
  const int64_t rows = requested_rows > 0 ? requested_rows : kDefaultChunkRows;
  const int64_t per = rows / items > 0 ? rows / items : 1;
  return per < units ? per : (units > 0 ? units : 1);
}

}  // namespace backlight
