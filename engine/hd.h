#pragma once
/// BL_HD marks a function callable from host and device: __host__ __device__ under nvcc, nothing
/// in host C++. Per-element math written once this way runs in the CPU paths (and their tests) and
/// in the CUDA kernels alike (engine/functional/*_math.h, engine/rules/rule_math.h, kernels/detail/).

#ifdef __CUDACC__
#define BL_HD __host__ __device__
#else
#define BL_HD
#endif
