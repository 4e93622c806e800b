// libFuzzer target for the ONNX importer: any byte string must either load (and run its
// validating forward pass) or throw backlight::Error - never read out of bounds, overflow, hang
// or abort. Built and run for a bounded time by tools/fuzz/run (called from tools/check); seeds
// are the committed ONNX fixtures. Inputs above 64 KiB are skipped (the seeds are smaller).
#include <cstddef>
#include <cstdint>

#include "engine/error.h"
#include "models/onnx/model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > (size_t{1} << 16)) return 0;
  try {
    backlight::load_onnx_model_from_bytes({data, size}, "fuzz-input");
  } catch (const backlight::Error&) {
  }
  return 0;
}
