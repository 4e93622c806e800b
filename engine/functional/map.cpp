#include "engine/functional/map.h"

#include <cmath>

#include "engine/functional/cuda_ops.h"
#include "engine/functional/dispatch.h"
#include "engine/functional/vec_math.h"

namespace backlight::fn {

Tensor map_named(const Tensor& x, const Workspace* ws, maps::Unary op, float p, float q) {
  BL_ON_CUDA("map", ws, x) return cuda_ops::map_unary(x, op, p, q);
  // One instantiation per map, each a lambda (a function pointer would be an indirect call per
  // element and block vectorisation), so the switch costs one branch per call. exp and erf come
  // from vec_math.h, whose inlined arithmetic vectorises (libm's are scalar calls).
  using U = maps::Unary;
  switch (op) {
    case U::Relu: return map_unary(x, ws, [](float v) { return math::relu(v); });
    case U::Relu6: return map_unary(x, ws, [](float v) { return math::relu6(v); });
    case U::LeakyRelu: return map_unary(x, ws, [p](float v) { return math::leaky_relu(v, p); });
    case U::Sigmoid: return map_unary(x, ws, [](float v) { return vmath::sigmoid(v); });
    case U::Tanh: return map_unary(x, ws, [](float v) { return std::tanh(v); });
    case U::Gelu: return map_unary(x, ws, [](float v) { return vmath::gelu(v); });
    case U::GeluTanh: return map_unary(x, ws, [](float v) { return math::gelu_tanh(v); });
    case U::PositivePart: return map_unary(x, ws, [](float v) { return math::positive_part(v); });
    case U::NegativePart: return map_unary(x, ws, [](float v) { return math::negative_part(v); });
    case U::Square: return map_unary(x, ws, [](float v) { return v * v; });
    case U::GammaPositive: return map_unary(x, ws, [p](float v) { return v + p * math::positive_part(v); });
    case U::GammaNegative: return map_unary(x, ws, [p](float v) { return v + p * math::negative_part(v); });
    case U::Scale: return map_unary(x, ws, [p](float v) { return p * v; });
    case U::Abs: return map_unary(x, ws, [](float v) { return std::fabs(v); });
    case U::Exp: return map_unary(x, ws, [](float v) { return vmath::exp(v); });
    case U::Log: return map_unary(x, ws, [](float v) { return std::log(v); });
    case U::Sqrt: return map_unary(x, ws, [](float v) { return std::sqrt(v); });
    case U::Erf: return map_unary(x, ws, [](float v) { return vmath::erf(v); });
    case U::Pow: return map_unary(x, ws, [p](float v) { return math::pow_scalar(v, p); });
    case U::Clip: return map_unary(x, ws, [p, q](float v) { return math::clamp_max(math::clamp_min(v, p), q); });
    case U::Silu: return map_unary(x, ws, [](float v) { return vmath::silu(v); });
    case U::HardSigmoid: return map_unary(x, ws, [p, q](float v) { return math::hard_sigmoid(v, p, q); });
    case U::HardSwish: return map_unary(x, ws, [](float v) { return math::hard_swish(v); });
  }
  return map_unary(x, ws, [op, p, q](float v) { return maps::apply_unary(op, v, p, q); });
}

Tensor map_grad_named(const Tensor& g, const Tensor& v, const Workspace* ws, maps::Grad op, float p, float q) {
  BL_ON_CUDA("map backward", ws, g, v) return cuda_ops::map_grad(g, v, op, p, q);
  using G = maps::Grad;
  auto with = [&](auto dfdv) { return map_binary(g, v, ws, [dfdv](float gi, float vi) { return gi * dfdv(vi); }); };
  switch (op) {
    // Piecewise maps select the gradient (PyTorch's backward), never multiply it by 0.
    case G::Relu: return map_binary(g, v, ws, [](float gi, float x) { return math::relu_vjp(gi, x); });
    case G::Relu6: return map_binary(g, v, ws, [](float gi, float x) { return math::relu6_vjp(gi, x); });
    case G::LeakyRelu: return map_binary(g, v, ws, [p](float gi, float x) { return math::leaky_relu_vjp(gi, x, p); });
    case G::Sigmoid: return with([](float v) { return math::sigmoid_grad_from_y(v); });
    case G::Tanh: return with([](float v) { return math::tanh_grad_from_y(v); });
    case G::Gelu: return with([](float v) { return vmath::gelu_grad(v); });
    case G::GeluTanh: return with([](float v) { return math::gelu_tanh_grad(v); });
    case G::Exp: return with([](float y) { return math::exp_grad_from_y(y); });
    case G::Erf: return with([](float x) { return vmath::erf_grad(x); });
    case G::Silu: return with([](float x) { return vmath::silu_grad(x); });
    // MobileNetV3's activations: their own instantiations (the shared form below switches per
    // element, which blocks vectorisation), same per-element functions.
    case G::HardSwish: return map_binary(g, v, ws, [](float gi, float x) { return math::hard_swish_vjp(gi, x); });
    case G::HardSigmoid:
      return map_binary(g, v, ws, [p, q](float gi, float x) { return math::hard_sigmoid_vjp(gi, x, p, q); });
    // Selects and quotients: the shared per-element form.
    case G::Log: case G::Sqrt: case G::Abs: case G::Pow: case G::Clip:
      return map_binary(g, v, ws, [op, p, q](float gi, float vi) { return maps::apply_grad(op, gi, vi, p, q); });
  }
  return with([](float) { return 1.0f; });
}

}  // namespace backlight::fn
