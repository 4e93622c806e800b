#pragma once
/// Attributes of tape nodes: one plain struct per op family, held in a variant on the node.
/// Rules read them with ctx.attrs<Conv2dAttrs>(). Defaults equal PyTorch's.
#include <array>
#include <cstdint>
#include <variant>

namespace backlight {

struct Conv2dAttrs {
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;
  int dilation_h = 1, dilation_w = 1;
  int groups = 1;
};

/// Max and average pooling (PyTorch semantics: padding counts as -inf for max; avg pooling
/// divides by the window size including padding when count_include_pad).
struct Pool2dAttrs {
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  int pad_h = 0, pad_w = 0;
  int dilation_h = 1, dilation_w = 1;  // max pooling only
  bool ceil_mode = false;
  bool count_include_pad = true;  // avg pooling only
};

struct AdaptivePoolAttrs {
  int64_t out_h = 1, out_w = 1;
};

struct LeakyReluAttrs {
  float negative_slope = 0.01f;
};

struct GeluAttrs {
  bool tanh_approximation = false;  ///< PyTorch approximate="tanh"
};

/// Softmax / log-softmax / concat axis.
struct AxisAttrs {
  int axis = -1;
};

struct NormAttrs {
  float eps = 1e-5f;
  int normalized_dims = 1;  ///< layernorm: how many trailing dims are normalised
};

struct ScaleAttrs {
  float factor = 1.0f;
};

struct PermuteAttrs {
  std::array<int, 8> perm{};
  int rank = 0;
};

struct SliceAttrs {
  int axis = 0;
  int64_t start = 0, end = 0, step = 1;
};

/// Constant padding: pads[2*d] before and pads[2*d+1] after dimension d.
struct PadAttrs {
  std::array<int64_t, 16> pads{};
  float value = 0.0f;
};

/// Sum / mean over a set of axes (bit d set = reduce dimension d).
struct ReduceAttrs {
  uint32_t axes_mask = 0;
  bool keepdim = false;
};

struct DropoutAttrs {
  float p = 0.5f;
};

using OpAttrs = std::variant<std::monostate, Conv2dAttrs, Pool2dAttrs, AdaptivePoolAttrs, LeakyReluAttrs, GeluAttrs,
                             AxisAttrs, NormAttrs, ScaleAttrs, PermuteAttrs, SliceAttrs, PadAttrs, ReduceAttrs,
                             DropoutAttrs>;

}  // namespace backlight
