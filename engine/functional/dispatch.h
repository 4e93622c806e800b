#pragma once
/// Device dispatch of the functional layer. Every fn:: entry point that has a CUDA version starts
///
///   BL_ON_CUDA("linear", ws, x, w, bias) return cuda_ops::linear_forward(...);
///
/// after its shape checks (which both devices share). On the CPU this costs one pointer test per
/// tensor per call, never anything per element. When any input (or the workspace) is on CUDA,
/// every defined input must be on the same CUDA context, else a backlight::Error names the op and
/// the devices. In a CPU-only build no device tensor can exist (Workspace::for_cuda and
/// Tensor::to(cuda) throw "this build has no CUDA backend"), and the CUDA call sits in a
/// discarded `if constexpr` branch, so cuda_ops needs no definition there: no link errors.
#include <initializer_list>

#include "engine/tensor.h"

namespace backlight::fn {

/// Throws unless all defined tensors and the workspace (when it is a CUDA one) share one device
/// and CUDA context; `op` names the caller.
void check_same_device(const char* op, const Workspace* ws, std::initializer_list<const Tensor*> tensors);

/// True when the op must run on CUDA (see above); checks devices only then.
template <class... T>
bool on_cuda(const char* op, const Workspace* ws, const T&... tensors) {
  if (!(tensors.is_cuda() || ...) && !(ws && ws->cuda_context())) return false;
  check_same_device(op, ws, {&tensors...});
  return true;
}

}  // namespace backlight::fn

/// `BL_ON_CUDA(op, ws, tensors...) statement;` runs statement (a return of the CUDA version)
/// when the inputs are on CUDA; compiled out of CPU-only builds.
#define BL_ON_CUDA(...)                          \
  if (::backlight::fn::on_cuda(__VA_ARGS__))     \
    if constexpr (::backlight::kCudaBuild)
