// CUDA device discovery for the CUDA build. cudaGetDeviceCount fails cleanly (no device, no
// driver) on machines without a GPU; that is reported as zero devices, never thrown.
#include <cuda_runtime.h>

#include <string>

#include "engine/cuda/device.h"

namespace backlight {

int cuda_device_count() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky error
    return 0;
  }
  return n;
}

bool cuda_compiled() { return true; }

std::string cuda_device_summary() {
  int n = 0;
  const cudaError_t err = cudaGetDeviceCount(&n);
  if (err != cudaSuccess) {
    cudaGetLastError();
    return std::string("no CUDA device: ") + cudaGetErrorString(err);
  }
  if (n == 0) return "no CUDA device";
  std::string s;
  for (int i = 0; i < n; ++i) {
    cudaDeviceProp p{};
    if (cudaGetDeviceProperties(&p, i) != cudaSuccess) continue;
    s += std::to_string(i) + ": " + p.name + ", " + std::to_string(p.totalGlobalMem >> 30) + " GiB, sm_" +
         std::to_string(p.major) + std::to_string(p.minor) + "\n";
  }
  return s;
}

}  // namespace backlight
