// libFuzzer target for the safetensors parsers (parse_safetensors, read_safetensors_bytes): any byte string must either decode or throw
// backlight::Error - never read out of bounds, overflow, hang or abort. Built and run for a
// bounded time by tools/fuzz/run (called from tools/check); seeds are the committed fixtures.
#include <cstddef>
#include <cstdint>

#include "engine/error.h"
#include "models/embedded_weights.h"
#include "models/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const backlight::SafeTensorsFile f = backlight::parse_safetensors({data, size}, "fuzz-input");
    // Touch every decoded value so a bad length would show up under ASan.
    float sink = 0;
    for (const auto& [name, t] : f.tensors)
      for (int64_t i = 0; i < t.numel(); ++i) sink += t.data()[i];
    (void)sink;
  } catch (const backlight::Error&) {
  }
  try {  // the embedded-weights reader parses the same format (its own, stricter F32-only path)
    (void)backlight::read_safetensors_bytes({data, size}, "fuzz-input");
  } catch (const backlight::Error&) {
  }
  return 0;
}
