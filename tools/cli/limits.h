#pragma once
/// The CLI's documented limits (docs/cli.md, "Errors and limits"): values beyond them are refused
/// up front, naming the flag and the accepted range, instead of reaching OpenMP or the decoder.
#include <cstdint>

namespace backlight::cli {

/// Default cap on the pixels of one decoded image (width x height), 50 megapixels: a 3-channel
/// float tensor of that size is 600 MB. `explain --max-pixels N` raises it.
inline constexpr int64_t kDefaultMaxPixels = 50'000'000;

/// Largest --threads: 4 x the hardware threads (std::thread::hardware_concurrency(); 4 when it
/// is unknown). OpenMP runtimes crash or refuse far below INT_MAX (libgomp segfaults at 65536).
int max_threads();

}  // namespace backlight::cli
