#pragma once
/// 2-D pooling (no tape), PyTorch semantics: max pooling (padding acts as -inf, dilation,
/// ceil_mode, gradient to the first maximum of each window), average pooling (count_include_pad,
/// ceil_mode) and adaptive average pooling. All take x[N,C,H,W] contiguous float32 on the CPU and
/// run parallel over the N*C planes. Outputs and scratch come from `ws` (may be null).
///
/// The window structure is public (Pool2dGeometry) so rules (DeepLIFT, LRP) can walk the same
/// windows as the forward pass: max and average pooling windows are separable, one row range per
/// output row times one column range per output column.
#include <vector>

#include "engine/attrs.h"
#include "engine/tensor.h"

namespace backlight::fn {

/// Output length of one pooled dimension, PyTorch's pooling_output_shape:
/// floor-or-ceil((in + 2*pad - dilation*(kernel-1) - 1) / stride) + 1, and with ceil_mode the
/// last window is dropped when it would start in the right padding (at or past in + pad).
int64_t pool_output_size(int64_t in, int64_t kernel, int64_t pad, int64_t stride, int64_t dilation, bool ceil_mode);

/// The input range one output index reads along one axis.
struct PoolRange {
  int64_t begin;  ///< first input index inside the input (padding already skipped)
  int64_t end;    ///< one past the last input index read, clipped to the input
  /// Average pooling with count_include_pad: the window's extent including padding, clipped to
  /// the padded input (a ceil_mode window running past the right padding counts only up to it).
  int64_t padded_extent;
};

/// Validated pooling geometry of one input shape.
struct Pool2dGeometry {
  int64_t n, c, h, w;  ///< input [N,C,H,W]
  int64_t oh, ow;      ///< output [N,C,OH,OW]
  Pool2dAttrs a;
  /// rows[oy] / cols[ox]: input rows / columns read by output row oy / column ox. With dilation
  /// the window visits begin, begin + dilation, ... < end.
  std::vector<PoolRange> rows, cols;
};

/// Validates x ([N,C,H,W], kernel/stride/dilation >= 1, 0 <= pad <= kernel/2 as PyTorch, output
/// at least 1x1) and computes the windows. `op` names the caller in error messages; avgpool2d
/// rejects dilation != 1 (PyTorch's AvgPool2d has none).
Pool2dGeometry pool2d_geometry(const Shape& x, const Pool2dAttrs& a, const char* op);

// --- max pooling ------------------------------------------------------------------------------

/// y[N,C,OH,OW] and, when requested, the argmax map of the same shape: a float holding the exact
/// flat index iy*W + ix (inside the input plane) of the first maximum of each window, PyTorch's
/// tie rule (a NaN counts as a maximum). The map needs H*W <= 2^24 (exact floats); throws else.
struct MaxPool2dResult {
  Tensor y;
  Tensor argmax;  ///< undefined unless with_argmax
};
MaxPool2dResult maxpool2d_forward(const Tensor& x, const Pool2dAttrs& a, const Workspace* ws,
                                  bool with_argmax = false);

/// Largest H*W for which maxpool2d_forward can return an argmax map.
inline constexpr int64_t kMaxPoolArgmaxPlane = int64_t{1} << 24;

/// dx[N,C,H,W]: g[N,C,OH,OW] scattered to the first maximum of every window (accumulated where
/// windows overlap). Uses `argmax` from maxpool2d_forward when defined, else recomputes the
/// window maxima from x (which needs H*W < 2^31).
Tensor maxpool2d_backward(const Tensor& g, const Tensor& x, const Tensor& argmax, const Pool2dAttrs& a,
                          const Workspace* ws);

// --- average pooling (linear: forward = apply, backward = apply_transposed) --------------------

/// y = sum of each window / divisor. Divisor: count_include_pad ? window size including padding
/// (clipped to the padded input) : number of real input elements in the window.
Tensor avgpool2d_forward(const Tensor& x, const Pool2dAttrs& a, const Workspace* ws);
/// dx[x_shape]: every g[oy,ox] / divisor added to its window (the transposed averaging).
Tensor avgpool2d_backward(const Tensor& g, const Shape& x_shape, const Pool2dAttrs& a, const Workspace* ws);

// --- adaptive average pooling ------------------------------------------------------------------

/// Bin of output index i along an axis of length `in` split into `out` bins (PyTorch):
/// [floor(i*in/out), ceil((i+1)*in/out)). Bins overlap when in is not a multiple of out and
/// repeat input elements when out > in.
PoolRange adaptive_bin(int64_t i, int64_t in, int64_t out);

/// x[N,C,H,W] -> [N,C,out_h,out_w], the mean of each bin; out_h, out_w >= 1.
Tensor adaptive_avgpool2d_forward(const Tensor& x, int64_t out_h, int64_t out_w, const Workspace* ws);
/// dx[x_shape]: every g[oy,ox] / bin size added to its bin.
Tensor adaptive_avgpool2d_backward(const Tensor& g, const Shape& x_shape, const Workspace* ws);

}  // namespace backlight::fn
