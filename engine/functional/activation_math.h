#pragma once
/// Per-element activation math and derivatives, written once. BL_HD marks functions callable
/// from host and device, so the CUDA backend compiles the very formulas the CPU tests run.
#include <cmath>

#include "engine/hd.h"

namespace backlight::math {

// Kink convention (PyTorch's): relu'(0) = 0, relu6'(0) = relu6'(6) = 0, leaky'(0) = slope.
// NaN propagates as in PyTorch: every select is written so that a NaN input takes the branch that
// returns it (`x <= 0 ? 0 : x`, never `x > 0 ? x : 0`, which would turn NaN into 0). The *_vjp
// forms are PyTorch's backward selects (threshold_backward, hardtanh_backward,
// leaky_relu_backward): the gradient is passed or zeroed, never multiplied by 0 (so an infinite
// or NaN upstream gradient at a clamped element gives 0, and a NaN input passes the gradient).
BL_HD inline float relu(float x) { return x <= 0.0f ? 0.0f : x; }
BL_HD inline float relu_grad(float x) { return x <= 0.0f ? 0.0f : 1.0f; }
BL_HD inline float relu_vjp(float g, float x) { return x <= 0.0f ? 0.0f : g; }
BL_HD inline float relu6(float x) { return x <= 0.0f ? 0.0f : (x >= 6.0f ? 6.0f : x); }
BL_HD inline float relu6_grad(float x) { return (x > 0.0f && x < 6.0f) ? 1.0f : 0.0f; }
BL_HD inline float relu6_vjp(float g, float x) { return (x > 0.0f && x < 6.0f) ? g : 0.0f; }  // NaN: 0
BL_HD inline float leaky_relu(float x, float s) { return x > 0.0f ? x : s * x; }
BL_HD inline float leaky_relu_grad(float x, float s) { return x > 0.0f ? 1.0f : s; }
BL_HD inline float leaky_relu_vjp(float g, float x, float s) { return x > 0.0f ? g : g * s; }
/// max(x, 0) and min(x, 0) that keep NaN (LRP's z+ / z- weight and input modifiers).
BL_HD inline float positive_part(float x) { return x <= 0.0f ? 0.0f : x; }
BL_HD inline float negative_part(float x) { return x >= 0.0f ? 0.0f : x; }
BL_HD inline float sigmoid(float x) { return 1.0f / (1.0f + expf(-x)); }
BL_HD inline float sigmoid_grad_from_y(float y) { return y * (1.0f - y); }
BL_HD inline float tanh_grad_from_y(float y) { return 1.0f - y * y; }

constexpr float kSqrt2OverPi = 0.7978845608028654f;
constexpr float kInvSqrt2 = 0.7071067811865476f;
constexpr float kInvSqrt2Pi = 0.3989422804014327f;
constexpr float kGeluCubic = 0.044715f;

BL_HD inline float gelu(float x) { return 0.5f * x * (1.0f + erff(x * kInvSqrt2)); }
BL_HD inline float gelu_grad(float x) {
  return 0.5f * (1.0f + erff(x * kInvSqrt2)) + x * kInvSqrt2Pi * expf(-0.5f * x * x);
}
BL_HD inline float gelu_tanh(float x) {
  return 0.5f * x * (1.0f + tanhf(kSqrt2OverPi * (x + kGeluCubic * x * x * x)));
}
BL_HD inline float gelu_tanh_grad(float x) {
  const float u = kSqrt2OverPi * (x + kGeluCubic * x * x * x);
  const float t = tanhf(u);
  const float du = kSqrt2OverPi * (1.0f + 3.0f * kGeluCubic * x * x);
  return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * du;
}

// --- ONNX import's element-wise ops (PyTorch's formulas and backward selects, so NaN and +-Inf
// propagate as there; checked by tools/reference/make_onnx_ops_fixtures.py).
constexpr float kTwoOverSqrtPi = 1.1283791670955126f;

BL_HD inline float exp_grad_from_y(float y) { return y; }
BL_HD inline float log_vjp(float g, float x) { return g / x; }
BL_HD inline float sqrt_vjp(float g, float y) { return g / (2.0f * y); }
BL_HD inline float erf_grad(float x) { return kTwoOverSqrtPi * expf(-x * x); }
/// |x|' = sgn(x): 0 at 0 and at NaN (torch.sgn).
BL_HD inline float abs_vjp(float g, float x) { return x > 0.0f ? g : (x < 0.0f ? -g : 0.0f); }
/// x^p with PyTorch's special exponents (0.5 sqrt, -0.5 rsqrt, 2, 3, -1, -2 as products), so
/// -0, +-Inf and NaN give what torch.pow gives.
BL_HD inline float pow_scalar(float x, float p) {
  if (p == 2.0f) return x * x;
  if (p == 3.0f) return x * x * x;
  if (p == 0.5f) return sqrtf(x);
  if (p == -0.5f) return 1.0f / sqrtf(x);
  if (p == -1.0f) return 1.0f / x;
  if (p == -2.0f) return 1.0f / (x * x);
  if (p == 1.0f) return x;
  if (p == 0.0f) return 1.0f;
  return powf(x, p);
}
/// d x^p / dx = p x^(p-1), and 0 for p = 0 (torch's pow_backward).
BL_HD inline float pow_vjp(float g, float x, float p) { return p == 0.0f ? 0.0f : g * (p * pow_scalar(x, p - 1.0f)); }
/// clamp(x, lo, hi): NaN stays NaN; gradient passes where lo <= x <= hi (torch.clamp's backward).
BL_HD inline float clamp_min(float x, float lo) { return x < lo ? lo : x; }
BL_HD inline float clamp_max(float x, float hi) { return x > hi ? hi : x; }
BL_HD inline float clamp_min_vjp(float g, float x, float lo) { return x >= lo ? g : 0.0f; }
BL_HD inline float clamp_max_vjp(float g, float x, float hi) { return x <= hi ? g : 0.0f; }
/// SiLU x * sigmoid(x) (torch: x / (1 + exp(-x))) and its derivative s (1 + x (1 - s)).
BL_HD inline float silu(float x) { return x / (1.0f + expf(-x)); }
BL_HD inline float silu_grad(float x) {
  const float s = sigmoid(x);
  return s * (1.0f + x * (1.0f - s));
}
/// HardSigmoid max(0, min(1, alpha x + beta)) (torch: alpha 1/6, beta 1/2); gradient alpha
/// strictly inside (0, 1), else 0 (NaN: 0).
BL_HD inline float hard_sigmoid(float x, float alpha, float beta) {
  const float t = alpha * x + beta;
  return t <= 0.0f ? 0.0f : (t >= 1.0f ? 1.0f : t);
}
BL_HD inline float hard_sigmoid_vjp(float g, float x, float alpha, float beta) {
  const float t = alpha * x + beta;
  return (t > 0.0f && t < 1.0f) ? g * alpha : 0.0f;
}
/// HardSwish x * relu6(x + 3) / 6 and torch's (vectorised) backward: 0 below -3, g from 3 on,
/// g (x/3 + 1/2) between (so NaN gives NaN). torch's scalar tail loop differs at x = 3 and NaN;
/// tensors of more than a few elements take the vectorised path, which this follows.
BL_HD inline float hard_swish(float x) { return x * relu6(x + 3.0f) / 6.0f; }
BL_HD inline float hard_swish_vjp(float g, float x) {
  return x < -3.0f ? 0.0f : (x >= 3.0f ? g : g * (x / 3.0f + 0.5f));
}

}  // namespace backlight::math
