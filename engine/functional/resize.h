#pragma once
/// Nearest and bilinear resize of [N,C,H,W] (ResizeAttrs in engine/attrs.h; ONNX Resize and
/// torch F.interpolate), CPU only: a CUDA tensor throws naming the op.
#include "engine/attrs.h"
#include "engine/tensor.h"

namespace backlight::fn {

/// y[N,C,out_h,out_w]. Linear mode multiplies all four neighbours by their weights as torch's
/// upsample_bilinear2d does (so a NaN neighbour with weight 0 still gives NaN, as there).
Tensor resize_forward(const Tensor& x, const ResizeAttrs& a, const Workspace* ws);
/// dx: every output gradient added back to the input elements it was read from, with their weights.
Tensor resize_backward(const Tensor& g, const Shape& x_shape, const ResizeAttrs& a, const Workspace* ws);

}  // namespace backlight::fn
