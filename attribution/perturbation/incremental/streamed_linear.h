#pragma once
/// A linear layer whose weight is far larger than the caches (VGG's 25088 x 4096 classifier,
/// 400 MB), applied to the few dozen rows of one batch of incremental occlusion: the cost is
/// reading the weight, so it is read exactly once per call. The engine's GEMM (fn::gemm) computes
/// C[out, rows] = W x^T with W read in place (each 6-row panel packed into L1 per depth block)
/// and x^T built per depth block; threads split the output features. Bit-identical to
/// fn::linear_forward where fn::gemm is the AVX2 kernel (same FMA chain per element, bias added
/// after; see linear.h), equal up to float32 summation order elsewhere. CPU; output and scratch
/// from `ws`.
#include "engine/tensor.h"

namespace backlight::incremental {

/// y[..., out] = x[..., in] W[out, in]^T (+ bias[out]; bias may be undefined).
Tensor streamed_linear(const Tensor& x, const Tensor& weight, const Tensor& bias, const Workspace& ws);

}  // namespace backlight::incremental
