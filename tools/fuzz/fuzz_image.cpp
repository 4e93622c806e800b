// libFuzzer target for image decoding through the CLI's loader (io/image_io.h:
// decode_image, with the decoded-pixel cap): any byte string must decode to [3,H,W] within the
// cap or throw backlight::Error - never read out of bounds, allocate past the cap, hang or abort.
// Built and run for a bounded time by tools/fuzz/run; seeds in tools/fuzz/seeds/image (tiny PNG,
// JPEG, BMP files and a PNG header claiming 16000 x 16000).
#include <cstddef>
#include <cstdint>

#include "engine/error.h"
#include "io/image_io.h"

namespace {
// Small enough that the fuzzer's memory limit is never the thing that stops a large claim.
constexpr int64_t kFuzzMaxPixels = 4'000'000;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const backlight::Tensor t = backlight::cli::decode_image({data, size}, "fuzz-input", kFuzzMaxPixels);
    if (t.dim() != 3 || t.size(0) != 3 || t.size(1) * t.size(2) > kFuzzMaxPixels) __builtin_trap();
    float sink = 0;
    for (int64_t i = 0; i < t.numel(); ++i) sink += t.data()[i];
    (void)sink;
  } catch (const backlight::Error&) {
  }
  return 0;
}
