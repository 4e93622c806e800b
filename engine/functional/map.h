#pragma once
/// Element-wise maps over whole tensors, threaded: y_i = f(x_i) and y_i = f(a_i, b_i) (same
/// shapes). The building block of activations, rule maps and parameter modifiers.
///
/// map_unary / map_binary take any callable and run on the CPU only. The named maps
/// (map_named / map_grad_named, the functions of engine/functional/map_math.h) run on the tensor's
/// device: a CUDA kernel cannot take a host lambda, so everything the engine maps on CUDA tensors
/// has a name there. On the CPU they instantiate the same templates (one switch per call).
#include "engine/error.h"
#include "engine/parallel.h"
#include "engine/tensor.h"
#include "engine/functional/map_math.h"

namespace backlight::fn {

inline constexpr int64_t kMapGrain = 1 << 14;

template <class F>
Tensor map_unary(const Tensor& x, const Workspace* ws, F f) {
  BL_CHECK(!x.is_cuda(), "map_unary: custom element-wise functions run on the CPU only, got a cuda tensor ",
           x.shape(), " (use a named map, fn::map_named, or copy to the host)");
  Tensor y = Tensor::empty(x.shape(), ws);
  const float* px = x.data();
  float* py = y.data();
  parallel_for(x.numel(), kMapGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) py[i] = f(px[i]);
  });
  return y;
}

template <class F>
Tensor map_binary(const Tensor& a, const Tensor& b, const Workspace* ws, F f) {
  BL_CHECK(!a.is_cuda() && !b.is_cuda(), "map_binary: custom element-wise functions run on the CPU only, got ",
           to_string(a.device()), " and ", to_string(b.device()), " tensors (use fn::map_grad_named)");
  Tensor y = Tensor::empty(a.shape(), ws);
  const float* pa = a.data();
  const float* pb = b.data();
  float* py = y.data();
  parallel_for(a.numel(), kMapGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) py[i] = f(pa[i], pb[i]);
  });
  return y;
}

/// y = f(x; p, q) for the named map `op`, on x's device.
Tensor map_named(const Tensor& x, const Workspace* ws, maps::Unary op, float p = 0.0f, float q = 0.0f);
/// y = g * f'(v; p, q) for the named derivative `op` (v: forward input or output, see maps::Grad).
Tensor map_grad_named(const Tensor& g, const Tensor& v, const Workspace* ws, maps::Grad op, float p = 0.0f,
                      float q = 0.0f);

}  // namespace backlight::fn
