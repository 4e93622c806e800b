#pragma once
/// Vectorisable float exp / erf and the activations built on them, for the CPU element-wise
/// maps (engine/functional/map.cpp, softmax.cpp).
///
/// Why: glibc's expf / erff are scalar calls (a vector variant exists only under -ffast-math),
/// so a map over x / (1 + expf(-x)) ran one element per call: on EfficientNet-B0 integrated
/// gradients SiLU's forward, its gradient and the scalar expf were 23% of the run (perf, issue
/// 16). These functions are straight-line float/int arithmetic with selects and no calls, so
/// the compiler vectorises the map loops that inline them (AVX2/AVX-512 with -march=native).
///
/// Accuracy (tests/engine/test_vec_math.cpp sweeps them against the libm-based scalar math of
/// activation_math.h, which the CUDA kernels use): exp within 2 ulp of expf over the whole
/// float range (Cephes' range reduction x = n ln2 + r and degree-6 polynomial, scaled by 2^n in
/// two factors so subnormal results come out right); erf within 5e-7 absolute (Eigen 3.4's
/// rational approximation on [-4, 4], the one TensorFlow/XLA use; erf is +-1 in float beyond).
/// Special values as libm: exp(+inf) = inf, exp(-inf) = 0, overflow to inf above 88.72,
/// erf(+-inf) = +-1, NaN in gives NaN out.
///
/// Host only (the CUDA kernels keep the device's own expf/erff through activation_math.h).
#include <bit>
#include <cstdint>

#include "engine/functional/activation_math.h"

namespace backlight::vmath {

/// e^x, within 2 ulp of expf.
inline float exp(float x) {
  const bool nan = x != x;
  // Clamp (compares are false for NaN, which is replaced just below): below -104 the result is
  // 0 in float, above 89 inf; in between 2^n stays representable as two normal factors.
  float xc = x < -104.0f ? -104.0f : x;
  xc = xc > 89.0f ? 89.0f : xc;
  xc = nan ? 0.0f : xc;
  // n = round(x / ln2) by the 1.5 * 2^23 trick (round to nearest; contraction is off in ISO C++).
  const float t = xc * 1.44269504088896341f + 12582912.0f;
  const float fn = t - 12582912.0f;
  // r = x - n ln2 in two steps (ln2 = hi + lo, hi with 9 significant bits so n * hi is exact).
  float r = xc - fn * 0.693359375f;
  r = r + fn * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * (r * r) + r + 1.0f;
  // 2^n = 2^n1 * 2^n2 with n1, n2 in [-75, 64]: each factor is a normal float, and the second
  // multiply rounds once into the subnormal range.
  const int32_t n = static_cast<int32_t>(fn);
  const int32_t n1 = n >> 1, n2 = n - n1;
  const float s1 = std::bit_cast<float>((n1 + 127) << 23);
  const float s2 = std::bit_cast<float>((n2 + 127) << 23);
  const float y = p * s1 * s2;
  return nan ? x : y;
}

/// erf(x), within 5e-7 absolute of erff (4e-7 measured at -O3).
inline float erf(float x) {
  float xc = x > 4.0f ? 4.0f : x;  // NaN passes both clamps
  xc = xc < -4.0f ? -4.0f : xc;
  const float x2 = xc * xc;
  float p = -2.72614225801306e-10f;
  p = p * x2 + 2.77068142495902e-08f;
  p = p * x2 + -2.10102402082508e-06f;
  p = p * x2 + -5.69250639462346e-05f;
  p = p * x2 + -7.34990630326855e-04f;
  p = p * x2 + -2.95459980854025e-03f;
  p = p * x2 + -1.60960333262415e-02f;
  p = p * xc;
  float q = -1.45660718464996e-05f;
  q = q * x2 + -2.13374055278905e-04f;
  q = q * x2 + -1.68282697438203e-03f;
  q = q * x2 + -7.37332916720468e-03f;
  q = q * x2 + -1.42647390514189e-02f;
  const float e = p / q;
  return e > 1.0f ? 1.0f : (e < -1.0f ? -1.0f : e);  // NaN passes
}

// The activations of activation_math.h with exp / erf replaced (same formulas otherwise).
inline float sigmoid(float x) { return 1.0f / (1.0f + exp(-x)); }
inline float silu(float x) { return x / (1.0f + exp(-x)); }
inline float silu_grad(float x) {
  const float s = sigmoid(x);
  return s * (1.0f + x * (1.0f - s));
}
inline float gelu(float x) { return 0.5f * x * (1.0f + erf(x * math::kInvSqrt2)); }
inline float gelu_grad(float x) {
  return 0.5f * (1.0f + erf(x * math::kInvSqrt2)) + x * math::kInvSqrt2Pi * exp(-0.5f * x * x);
}
inline float erf_grad(float x) { return math::kTwoOverSqrtPi * exp(-x * x); }

}  // namespace backlight::vmath
