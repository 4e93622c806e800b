#pragma once
/// Named element-wise maps for the CUDA backend. A device kernel cannot take the C++ lambdas the
/// CPU ops pass to fn::map_unary, so every map the engine runs on device has a name here and its
/// formula comes from the shared BL_HD math (activation_math.h); tests check on the CPU that
/// apply_unary / apply_grad agree with those functions. C++17, no CUDA headers.
#include "engine/functional/activation_math.h"

namespace backlight::maps {

/// y = f(x; p, q).
enum class Unary {
  Relu,
  Relu6,
  LeakyRelu,  ///< p = negative slope
  Sigmoid,
  Tanh,
  Gelu,
  GeluTanh,
  PositivePart,   ///< max(x, 0)  (z+ weights, guided backprop / deconvnet signal)
  NegativePart,   ///< min(x, 0)
  Square,         ///< x^2 (w^2 rule)
  GammaPositive,  ///< x + p * max(x, 0)  (LRP-gamma weights)
  GammaNegative,  ///< x + p * min(x, 0)
  Scale,          ///< p * x
  Abs,            ///< |x| (saliency's absolute gradient)
  Exp,
  Log,
  Sqrt,
  Erf,
  Pow,          ///< x^p (constant exponent)
  Clip,         ///< clamp(x, p, q)
  Silu,         ///< x * sigmoid(x)
  HardSigmoid,  ///< clamp(p x + q, 0, 1)
  HardSwish,    ///< x * relu6(x + 3) / 6
};

/// y = g * f'(v; p), v being the forward input or output as the derivative needs.
enum class Grad {
  Relu,       ///< v = x
  Relu6,      ///< v = x
  LeakyRelu,  ///< v = x, p = slope
  Sigmoid,    ///< v = y
  Tanh,       ///< v = y
  Gelu,       ///< v = x
  GeluTanh,   ///< v = x
  Exp,          ///< v = y
  Log,          ///< v = x
  Sqrt,         ///< v = y
  Erf,          ///< v = x
  Abs,          ///< v = x
  Pow,          ///< v = x, p = exponent
  Clip,         ///< v = x, p = min, q = max
  Silu,         ///< v = x
  HardSigmoid,  ///< v = x, p = alpha, q = beta
  HardSwish,    ///< v = x
};

BL_HD inline float apply_unary(Unary op, float x, float p, float q = 0.0f) {
  switch (op) {
    case Unary::Relu: return math::relu(x);
    case Unary::Relu6: return math::relu6(x);
    case Unary::LeakyRelu: return math::leaky_relu(x, p);
    case Unary::Sigmoid: return math::sigmoid(x);
    case Unary::Tanh: return tanhf(x);
    case Unary::Gelu: return math::gelu(x);
    case Unary::GeluTanh: return math::gelu_tanh(x);
    case Unary::PositivePart: return math::positive_part(x);
    case Unary::NegativePart: return math::negative_part(x);
    case Unary::Square: return x * x;
    case Unary::GammaPositive: return x + p * math::positive_part(x);
    case Unary::GammaNegative: return x + p * math::negative_part(x);
    case Unary::Scale: return p * x;
    case Unary::Abs: return fabsf(x);
    case Unary::Exp: return expf(x);
    case Unary::Log: return logf(x);
    case Unary::Sqrt: return sqrtf(x);
    case Unary::Erf: return erff(x);
    case Unary::Pow: return math::pow_scalar(x, p);
    case Unary::Clip: return math::clamp_max(math::clamp_min(x, p), q);
    case Unary::Silu: return math::silu(x);
    case Unary::HardSigmoid: return math::hard_sigmoid(x, p, q);
    case Unary::HardSwish: return math::hard_swish(x);
  }
  return x;
}

BL_HD inline float apply_grad(Grad op, float g, float v, float p, float q = 0.0f) {
  switch (op) {
    case Grad::Relu: return math::relu_vjp(g, v);
    case Grad::Relu6: return math::relu6_vjp(g, v);
    case Grad::LeakyRelu: return math::leaky_relu_vjp(g, v, p);
    case Grad::Sigmoid: return g * math::sigmoid_grad_from_y(v);
    case Grad::Tanh: return g * math::tanh_grad_from_y(v);
    case Grad::Gelu: return g * math::gelu_grad(v);
    case Grad::GeluTanh: return g * math::gelu_tanh_grad(v);
    case Grad::Exp: return g * math::exp_grad_from_y(v);
    case Grad::Log: return math::log_vjp(g, v);
    case Grad::Sqrt: return math::sqrt_vjp(g, v);
    case Grad::Erf: return g * math::erf_grad(v);
    case Grad::Abs: return math::abs_vjp(g, v);
    case Grad::Pow: return math::pow_vjp(g, v, p);
    case Grad::Clip: return math::clamp_max_vjp(math::clamp_min_vjp(g, v, p), v, q);
    case Grad::Silu: return g * math::silu_grad(v);
    case Grad::HardSigmoid: return math::hard_sigmoid_vjp(g, v, p, q);
    case Grad::HardSwish: return math::hard_swish_vjp(g, v);
  }
  return g;
}

}  // namespace backlight::maps
