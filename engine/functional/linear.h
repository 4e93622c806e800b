#pragma once
/// Dense products (no tape): linear layers and batched matmul. Linear (forward and input gradient)
/// runs on fn::gemm (gemm.h; below 8 rows on matrix-vector loops with the same arithmetic) where
/// its AVX2 kernel is built, otherwise on Eigen GEMM; batched matmul and the weight/bias
/// gradients on Eigen.
///
/// Batch invariance (AVX2 kernel, CPU): linear_forward and linear_backward_input give every row
/// the same bits whether it is computed alone or at any position of a batch, at any rank and
/// thread count (each element is one in-order FMA chain over the depth, then + bias; tested at
/// ranks 2-4, 1-13 / 193 / 401 rows, 1-4 threads: tests/engine/test_linear_batch_invariance.cpp).
/// Perturbation methods rely on it: an unperturbed row of a batch reproduces the unperturbed
/// output exactly. The Eigen fallback and CUDA make no such promise.
#include "engine/tensor.h"

namespace backlight::fn {

/// y[..., out] = x[..., in] W[out, in]^T (+ b[out]). bias may be undefined.
Tensor linear_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Workspace* ws);
/// dx[..., in] = g[..., out] W.
Tensor linear_backward_input(const Tensor& g, const Tensor& w, const Shape& x_shape, const Workspace* ws);
/// dW[out, in] = sum over rows of g^T x.
Tensor linear_backward_weight(const Tensor& g, const Tensor& x, const Workspace* ws);
/// db[out] = sum over rows of g.
Tensor linear_backward_bias(const Tensor& g, const Workspace* ws);

/// Batched matmul: a[..., m, k] b[..., k, n] -> [..., m, n]; leading (batch) dims broadcast.
/// transpose_a / transpose_b use the transposed last two dims of a / b without copying.
Tensor matmul(const Tensor& a, const Tensor& b, const Workspace* ws, bool transpose_a = false,
              bool transpose_b = false);

}  // namespace backlight::fn
