// libFuzzer target for the .npy reader (io/npy.h: parse_npy and parse_npy_array): any byte string must either decode or
// throw backlight::Error - never read out of bounds, overflow, hang or abort. Built and run for a
// bounded time by tools/fuzz/run; seeds in tools/fuzz/seeds/npy (valid files, v1 and v2 headers,
// a zero dimension, a huge claimed shape).
#include <cstddef>
#include <cstdint>

#include "engine/error.h"
#include "io/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const backlight::Tensor t = backlight::cli::parse_npy({data, size}, "fuzz-input");
    float sink = 0;  // touch every value so a bad length shows up under ASan
    for (int64_t i = 0; i < t.numel(); ++i) sink += t.data()[i];
    (void)sink;
  } catch (const backlight::Error&) {
  }
  try {  // the integer (token id) paths of load_npy_array
    const backlight::cli::NpyArray a = backlight::cli::parse_npy_array({data, size}, "fuzz-input");
    float sink = 0;
    for (int64_t i = 0; i < a.values.numel(); ++i) sink += a.values.data()[i];
    (void)sink;
  } catch (const backlight::Error&) {
  }
  return 0;
}
