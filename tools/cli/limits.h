#pragma once
/// The CLI's thread limit (docs/cli.md, "Errors and limits"): values beyond it are refused up
/// front, naming the flag and the accepted range, instead of reaching OpenMP. (The decoded-pixel
/// cap, kDefaultMaxPixels, lives with the image reader: image_io.h.)

namespace backlight::cli {

/// Largest --threads: 4 x the hardware threads (std::thread::hardware_concurrency(); 4 when it
/// is unknown). OpenMP runtimes crash or refuse far below INT_MAX (libgomp segfaults at 65536).
int max_threads();

}  // namespace backlight::cli
