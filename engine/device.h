#pragma once
/// Where a tensor's storage lives. CUDA tensors exist only in CUDA builds (-DBACKLIGHT_CUDA=ON)
/// and only through a CUDA workspace (Workspace::for_cuda), whose context (stream, cuBLAS and
/// cuDNN handles, device allocator) the tensor's ops then use; see docs/cuda.md.
namespace backlight {

enum class Device { CPU, CUDA };

/// "cpu" / "cuda", for messages.
inline const char* to_string(Device d) { return d == Device::CUDA ? "cuda" : "cpu"; }

/// Whether this binary has the CUDA backend compiled in (device tensors are possible at all).
#ifdef BACKLIGHT_HAVE_CUDA
inline constexpr bool kCudaBuild = true;
#else
inline constexpr bool kCudaBuild = false;
#endif

namespace cuda {
class Context;  // engine/cuda/context.h
}

}  // namespace backlight
