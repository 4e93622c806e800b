#pragma once
/// 2-D convolution (no tape), PyTorch semantics (cross-correlation; stride, zero padding,
/// dilation, groups incl. depthwise). CPU, all cores. 3x3 stride-1 convolutions (dilation 1,
/// groups 1) with at least 16 input and output channels (not an RGB stem) run as Winograd
/// F(2x2, 3x3): 2.25x fewer multiplies, results equal to float32 round-off. Otherwise forward: implicit GEMM over column tiles (per-thread im2col
/// blocks, small images batched into one product; 1x1 stride-1 reads the input directly);
/// backward-input: stride 1 runs as the forward convolution of g with the flipped kernel, other
/// strides as W^T g plus col2im. Depthwise: direct loops. The paths and their selection are
/// described in conv_paths.h. Every scratch buffer comes from `ws`.
#include "engine/attrs.h"
#include "engine/tensor.h"

namespace backlight::fn {

struct ConvGeometry {
  int64_t n, c, h, w;       // input
  int64_t o, kh, kw;        // weight [o, c/groups, kh, kw]
  int64_t oh, ow;           // output
  Conv2dAttrs a;
  int64_t cg() const { return c / a.groups; }
  int64_t og() const { return o / a.groups; }
  int64_t k() const { return cg() * kh * kw; }  // im2col rows per group
};

/// Validates shapes (throws naming expected vs actual) and computes the output size.
ConvGeometry conv2d_geometry(const Shape& x, const Shape& w, const Conv2dAttrs& a);

/// y[n,o,oh,ow]; bias may be undefined.
Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dAttrs& a,
                      const Workspace* ws);
/// dx for upstream g[n,o,oh,ow] (the transposed convolution).
Tensor conv2d_backward_input(const Tensor& g, const Tensor& w, const Shape& x_shape, const Conv2dAttrs& a,
                             const Workspace* ws);
/// dW[o, c/groups, kh, kw].
Tensor conv2d_backward_weight(const Tensor& g, const Tensor& x, const Shape& w_shape, const Conv2dAttrs& a,
                              const Workspace* ws);
/// db[o] = sum of g over n, oh, ow.
Tensor conv2d_backward_bias(const Tensor& g, const Workspace* ws);
/// Transposed convolution x[N,C,H,W], w[C,O/groups,kH,kW], bias[O] (optional) -> [N,O,OH,OW]
/// (ops.h conv_transpose2d): conv2d_backward_input of x onto the output shape, plus the bias.
Tensor conv_transpose2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvTranspose2dAttrs& a,
                                const Workspace* ws);

}  // namespace backlight::fn
