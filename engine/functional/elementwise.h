#pragma once
/// Element-wise tensor functions (no tape): in-place accumulation, numpy-style broadcasting
/// binary ops and the reduction that undoes a broadcast (for their gradients).
#include "engine/functional/binary_math.h"
#include "engine/tensor.h"

namespace backlight::fn {

/// acc += g (same shape).
void add_inplace(Tensor& acc, const Tensor& g);
/// out = a + b (same shapes).
void add_into(Tensor& out, const Tensor& a, const Tensor& b);
/// out = a * s.
Tensor scale(const Tensor& a, float s, const Workspace* ws);

/// The ops of engine/functional/binary_math.h (maps::Binary).
using BinaryOp = maps::Binary;

/// Result shape of broadcasting a and b (numpy rules); throws naming `op` and both shapes.
Shape broadcast_shape(const Shape& a, const Shape& b, const char* op);
/// a (op) b with broadcasting.
Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b, const Workspace* ws);
/// Sums g (of the broadcast shape) down to `shape` (the inverse of broadcasting).
Tensor sum_to(const Tensor& g, const Shape& shape, const Workspace* ws);
/// sum_to(binary(Mul, a, b), shape) with the same float results. When a and b have the same
/// shape and `shape` keeps only leading dims of it (a squeeze-excitation gate's gradient:
/// [N,C,H,W] products summed to [N,C,1,1]) on the CPU, each row's products are summed as they are
/// made, in the order sum_to adds them, without the [N,C,H,W] temporary; otherwise it is the
/// two calls.
Tensor mul_sum_to(const Tensor& a, const Tensor& b, const Shape& shape, const Workspace* ws);

}  // namespace backlight::fn
