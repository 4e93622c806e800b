#pragma once
/// The stream argument of the *_cuda kernel tiers: cudaStream_t, named without including
/// cuda_runtime.h so that host code (C++20, no CUDA headers) can declare and pass it. A null
/// stream is CUDA's default stream; the attribution methods pass their context's stream
/// (kernels/dispatch.h).
struct CUstream_st;

namespace backlight {

using CudaStream = CUstream_st*;

}  // namespace backlight
