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

}  // namespace backlight::math
