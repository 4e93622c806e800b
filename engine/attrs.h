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
  int normalized_dims = 1;  ///< layernorm: how many trailing dims are normalised (group_norm: rank - 1)
  int64_t groups = 1;       ///< group_norm: channel groups (C / groups channels normalised together)
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

/// pow with a constant exponent.
struct PowAttrs {
  float exponent = 2.0f;
};

/// clip / clamp bounds (+-infinity: unbounded); hardsigmoid's clamp(alpha x + beta, 0, 1).
struct ClipAttrs {
  float min = 0.0f, max = 0.0f;
};
struct HardSigmoidAttrs {
  float alpha = 1.0f / 6.0f, beta = 0.5f;  ///< PyTorch's; ONNX's default is alpha 0.2
};

/// Transposed convolution (PyTorch ConvTranspose2d): the adjoint of conv2d with `conv`'s
/// geometry; output_padding adds rows/columns at the bottom/right (< stride or dilation).
struct ConvTranspose2dAttrs {
  Conv2dAttrs conv;
  int output_pad_h = 0, output_pad_w = 0;
};

/// Spatial resize of [N,C,H,W] (ONNX Resize / torch F.interpolate). Source coordinate of output
/// index o along an axis of input length L and output length M, with inv = 1/scale (1/scale
/// given, or L/M):
///   asymmetric o*inv; half_pixel (o+0.5)*inv-0.5; pytorch_half_pixel the same but 0 when M == 1;
///   align_corners o*(L-1)/(M-1) (0 when M == 1).
/// nearest rounds it (floor: torch's "nearest"; round_prefer_ceil with half_pixel: "nearest-exact"),
/// linear interpolates between floor and floor+1 (clamped to the edge) as torch's bilinear.
struct ResizeAttrs {
  enum class Mode : uint8_t { Nearest, Linear };
  enum class Coord : uint8_t { Asymmetric, HalfPixel, PytorchHalfPixel, AlignCorners };
  enum class Round : uint8_t { Floor, Ceil, RoundPreferFloor, RoundPreferCeil };
  Mode mode = Mode::Nearest;
  Coord coord = Coord::Asymmetric;
  Round round = Round::Floor;
  int64_t out_h = 1, out_w = 1;
  float inv_scale_h = 1.0f, inv_scale_w = 1.0f;
};

using OpAttrs = std::variant<std::monostate, Conv2dAttrs, Pool2dAttrs, AdaptivePoolAttrs, LeakyReluAttrs, GeluAttrs,
                             AxisAttrs, NormAttrs, ScaleAttrs, PermuteAttrs, SliceAttrs, PadAttrs, ReduceAttrs,
                             DropoutAttrs, PowAttrs, ClipAttrs, HardSigmoidAttrs, ConvTranspose2dAttrs, ResizeAttrs>;

}  // namespace backlight
