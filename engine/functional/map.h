#pragma once
/// Element-wise maps over whole tensors, threaded: y_i = f(x_i) and y_i = f(a_i, b_i) (same
/// shapes). The building block of activations, rule maps and parameter modifiers.
#include "engine/parallel.h"
#include "engine/tensor.h"

namespace backlight::fn {

inline constexpr int64_t kMapGrain = 1 << 14;

template <class F>
Tensor map_unary(const Tensor& x, const Workspace* ws, F f) {
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
  Tensor y = Tensor::empty(a.shape(), ws);
  const float* pa = a.data();
  const float* pb = b.data();
  float* py = y.data();
  parallel_for(a.numel(), kMapGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) py[i] = f(pa[i], pb[i]);
  });
  return y;
}

}  // namespace backlight::fn
