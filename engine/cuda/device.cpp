#include "engine/cuda/device.h"

#include "engine/error.h"

namespace backlight {

#ifndef BACKLIGHT_HAVE_CUDA
int cuda_device_count() { return 0; }
bool cuda_compiled() { return false; }
std::string cuda_device_summary() { return "CUDA backend not compiled in (configure with -DBACKLIGHT_CUDA=ON)"; }
#endif

void require_cuda_device(const char* who) {
  BL_CHECK(cuda_compiled(), who, ": device 'cuda' requested, but this build has no CUDA backend "
                                 "(rebuild with -DBACKLIGHT_CUDA=ON); use --device cpu");
  BL_CHECK(cuda_device_count() > 0, who, ": device 'cuda' requested, but no CUDA device was found (",
           cuda_device_summary(), "); use --device cpu");
}

}  // namespace backlight
