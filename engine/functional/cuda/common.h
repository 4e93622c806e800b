#pragma once
// Shared helpers of the Tensor-level CUDA wrappers (CUDA builds only).
#include "engine/error.h"
#include "engine/tensor.h"
#include "engine/cuda/ops.h"

namespace backlight::fn::cuda_ops {

// The context every input shares (dispatch.h checked that).
inline cuda::Context& ctx_of(const Tensor& t) { return *t.cuda_context(); }
// An uninitialised output on the context of `like`.
inline Tensor out_like(const Shape& s, const Tensor& like) { return Tensor::empty_like(s, like); }
// Device pointers; null for undefined tensors (optional bias, weight).
inline const float* dptr(const Tensor& t) { return t.defined() ? t.device_data() : nullptr; }
inline float* dptr(Tensor& t) { return t.defined() ? t.device_data() : nullptr; }

// Row-major strides of s (rank <= 8).
inline void contiguous_strides(const Shape& s, int64_t* out) {
  int64_t st = 1;
  for (int d = s.rank() - 1; d >= 0; --d) {
    out[d] = st;
    st *= s[d];
  }
}

}  // namespace backlight::fn::cuda_ops
