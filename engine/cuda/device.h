#pragma once
/// CUDA device discovery. Safe on machines without a GPU or without the CUDA build: it never
/// throws, it reports zero devices.
#include <string>

namespace backlight {

/// Number of CUDA devices (0 when the CUDA backend is not compiled in or no device exists).
int cuda_device_count();
/// Whether this binary was built with the CUDA backend.
bool cuda_compiled();
/// One line per device ("0: NVIDIA A100, 80 GiB, sm_80"), or why there are none.
std::string cuda_device_summary();
/// Throws backlight::Error explaining why `who` cannot run on CUDA when no device is usable.
void require_cuda_device(const char* who);

}  // namespace backlight
