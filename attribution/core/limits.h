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
/// all of them up to this many (so Captum's default of 50 steps on one image is one batch when
/// the model is small), then chunks. Bounds the activation memory of a forward/backward to that
/// of a 64-image batch.
inline constexpr int64_t kDefaultChunkRows = 64;

/// Activation bytes one chunk's recorded forward may hold when the caller did not choose a chunk
/// size and the method knows the model's bytes per row (Tape::output_bytes of its first forward
/// over the inputs, divided by the rows). Why a budget: the forward of a chunk keeps every
/// activation until its backward, so 50 IG steps of EfficientNet-B0 at 224x224 (~100 MB of
/// activations per row) held 5.3 GB; every fresh page costs a fault and a clear, and no layer's
/// activations stay in cache. Measured on EfficientNet-B0 IG-50 with the CLI's --batch (issue 16,
/// 2 threads): 5 rows 4.07 s, 10 rows 3.81 s, 25 rows 4.23 s, 50 rows 4.79 s; Captum's best
/// internal_batch_size on the four imported models was 10-50. The budget was 1 GiB (~10 rows
/// there); 256 MiB since session 8: on this VM the pages a process touches for the first time
/// after the machine idled a few seconds cost far more than the same pages again (the host takes
/// freed guest pages back), and a CLI call touches everything fresh. EfficientNet-B0 IG-50,
/// 2 threads, quiet (load 0.3-0.9), method seconds after a 20-30 s pause / back to back:
/// 1 GiB 2.24-2.67 / 1.27-1.42 s (peak RSS 1.28 GB), 512 MiB 1.87-2.15 / 1.39-1.62 (0.83 GB),
/// 256 MiB 1.78-1.83 / 1.41-1.44 (0.55 GB). Per-row compute is flat down to 1-2 rows per chunk.
inline constexpr int64_t kChunkActivationBytes = int64_t{1} << 28;

/// Throws backlight::Error "<where>: <option> (<flag>) = <value> exceeds the limit of <limit>
/// (<why>)" when value > limit.
inline void check_count_limit(std::string_view where, std::string_view option, std::string_view flag, int64_t value,
                              int64_t limit) {
  BL_CHECK(value <= limit, where, ": ", option, " (", flag, ") = ", value, " exceeds the limit of ", limit,
           " (attribution/core/limits.h: each unit costs at least one forward per item; memory stays one chunk)");
}

/// Units (steps or samples) per chunk. A caller's chunk size (`requested_rows` > 0) is kept:
/// requested_rows / items units (at least 1), as Captum's internal_batch_size. Otherwise the rows
/// per chunk are kDefaultChunkRows, or fewer when `bytes_per_row` > 0 and that many rows would
/// record more than kChunkActivationBytes (at least 1 row); all units run at once when they fit,
/// else the units are split into that many chunks of equal size (the last one at most one unit
/// smaller), so every chunk reuses the same buffers.
inline int64_t units_per_chunk(int64_t requested_rows, int64_t items, int64_t units, int64_t bytes_per_row = 0) {
  items = items > 0 ? items : 1;
  units = units > 0 ? units : 1;
  int64_t rows = requested_rows > 0 ? requested_rows : kDefaultChunkRows;
  if (requested_rows <= 0 && bytes_per_row > 0) {
    const int64_t fit = kChunkActivationBytes / bytes_per_row;
    rows = fit < 1 ? 1 : (fit < rows ? fit : rows);
  }
  const int64_t per = rows / items > 0 ? rows / items : 1;
  if (per >= units) return units;
  if (requested_rows > 0) return per;
  const int64_t chunks = (units + per - 1) / per;
  return (units + chunks - 1) / chunks;
}

}  // namespace backlight
