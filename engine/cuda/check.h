#pragma once
/// Error checking for CUDA, cuBLAS and cuDNN calls: every failing call becomes a
/// backlight::Error naming the call (its source text), the status name and its description, and
/// the file:line, e.g.
///   cudaMalloc(&ptr, bytes) failed: out of memory (cudaErrorMemoryAllocation) at engine/cuda/context.cu:40
///
/// The message builders and cuBLAS's status names (older cuBLAS has no status-string function)
/// are plain C++17 without CUDA headers, so the CPU tests check them; the BL_*_CHECK macros are
/// used in .cu files, which include the CUDA headers first.
#include <string>

#include "engine/error.h"

namespace backlight::cuda {

/// "call failed: description (NAME) at file:line".
inline std::string failure_message(const char* call, const char* description, const char* name, const char* file,
                                   int line) {
  return detail::concat(call, " failed: ", description, " (", name, ") at ", file, ":", line);
}

/// Name and description of a cublasStatus_t value (numbering of cublas_api.h, stable since
/// CUDA 6; engine/cuda/context.cu static_asserts it against the header).
struct StatusText {
  const char* name;
  const char* description;
};
inline StatusText cublas_status_text(int status) {
  switch (status) {
    case 0: return {"CUBLAS_STATUS_SUCCESS", "success"};
    case 1: return {"CUBLAS_STATUS_NOT_INITIALIZED", "cuBLAS library not initialized"};
    case 3: return {"CUBLAS_STATUS_ALLOC_FAILED", "resource allocation failed"};
    case 7: return {"CUBLAS_STATUS_INVALID_VALUE", "an invalid value was passed"};
    case 8: return {"CUBLAS_STATUS_ARCH_MISMATCH", "feature absent on this device architecture"};
    case 11: return {"CUBLAS_STATUS_MAPPING_ERROR", "access to GPU memory space failed"};
    case 13: return {"CUBLAS_STATUS_EXECUTION_FAILED", "GPU program failed to execute"};
    case 14: return {"CUBLAS_STATUS_INTERNAL_ERROR", "an internal cuBLAS operation failed"};
    case 15: return {"CUBLAS_STATUS_NOT_SUPPORTED", "functionality not supported"};
    case 16: return {"CUBLAS_STATUS_LICENSE_ERROR", "license error"};
    default: return {"CUBLAS_STATUS_UNKNOWN", "unknown cuBLAS status"};
  }
}

}  // namespace backlight::cuda

/// Throws backlight::Error unless the CUDA runtime call returns cudaSuccess.
#define BL_CUDA_CHECK(call)                                                                                   \
  do {                                                                                                        \
    const cudaError_t bl_status_ = (call);                                                                    \
    if (bl_status_ != cudaSuccess) {                                                                          \
      cudaGetLastError(); /* clear a sticky non-fatal error so the next call starts clean */                  \
      throw ::backlight::Error(::backlight::cuda::failure_message(#call, cudaGetErrorString(bl_status_),      \
                                                                  cudaGetErrorName(bl_status_), __FILE__,     \
                                                                  __LINE__));                                 \
    }                                                                                                         \
  } while (0)

/// Checks the launch of the kernel just enqueued (configuration errors surface here).
#define BL_CUDA_CHECK_LAUNCH(kernel_name) BL_CUDA_CHECK(cudaGetLastError() /* launch of kernel_name */)

#define BL_CUBLAS_CHECK(call)                                                                                 \
  do {                                                                                                        \
    const cublasStatus_t bl_status_ = (call);                                                                 \
    if (bl_status_ != CUBLAS_STATUS_SUCCESS) {                                                                \
      const ::backlight::cuda::StatusText bl_text_ =                                                          \
          ::backlight::cuda::cublas_status_text(static_cast<int>(bl_status_));                                \
      throw ::backlight::Error(::backlight::cuda::failure_message(#call, bl_text_.description, bl_text_.name, \
                                                                  __FILE__, __LINE__));                       \
    }                                                                                                         \
  } while (0)

#define BL_CUDNN_CHECK(call)                                                                                  \
  do {                                                                                                        \
    const cudnnStatus_t bl_status_ = (call);                                                                  \
    if (bl_status_ != CUDNN_STATUS_SUCCESS) {                                                                 \
      throw ::backlight::Error(::backlight::cuda::failure_message(#call, cudnnGetErrorString(bl_status_),     \
                                                                  "cudnnStatus_t", __FILE__, __LINE__));      \
    }                                                                                                         \
  } while (0)
