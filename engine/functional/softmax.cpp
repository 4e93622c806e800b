#include "engine/functional/softmax.h"

#include <algorithm>
#include <cmath>

#include "engine/eigen.h"
#include "engine/error.h"
#include "engine/functional/cuda_ops.h"
#include "engine/functional/dispatch.h"
#include "engine/parallel.h"

namespace backlight::fn {

namespace {

// exp dominates; Eigen's packet exp is vectorised (std::exp in a loop is not: glibc's vector
// expf is only used under -ffast-math), so every exp below runs on contiguous Eigen arrays.
using Arr = Eigen::Map<Eigen::ArrayXf>;
using ConstArr = Eigen::Map<const Eigen::ArrayXf>;

// A tensor seen as [outer, len, inner] around the axis.
struct Lanes {
  int64_t outer, len, inner;
};

Lanes lanes_of(const Shape& s, int axis, const char* op) {
  const int r = s.rank();
  BL_CHECK_SHAPE(r >= 1 && axis >= -r && axis < r, op, ": axis ", axis, " out of range for input ", s);
  const int a = axis < 0 ? axis + r : axis;
  return {s.numel_range(0, a), s[a], s.numel_range(a + 1, r)};
}

// Work items: (outer, block of up to kBlock adjacent lanes); f(base, width) with element l of
// lane j at base + l*inner + j. Every pass along the axis then reads contiguous runs of `width`
// floats, or one run of `len` floats when inner == 1 (width 1, the softmax-over-classes case).
constexpr int64_t kBlock = 64;

template <class F>
void for_each_block(const Lanes& L, F&& f) {
  if (L.outer * L.len * L.inner == 0) return;
  const int64_t width = std::min(L.inner, kBlock);
  const int64_t blocks = (L.inner + width - 1) / width;
  const int64_t grain = std::max<int64_t>(1, (1 << 14) / (L.len * width));
  parallel_for(L.outer * blocks, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      const int64_t o = t / blocks, j0 = (t % blocks) * width;
      f(o * L.len * L.inner + j0, std::min(width, L.inner - j0));
    }
  });
}

template <bool kLog>
Tensor forward(const Tensor& x, int axis, const Workspace* ws, const char* op) {
  const Lanes L = lanes_of(x.shape(), axis, op);
  BL_ON_CUDA(op, ws, x) return cuda_ops::softmax_forward(x, kLog, L.outer, L.len, L.inner);
  Tensor y = Tensor::empty(x.shape(), ws);
  const float* px = x.data();
  float* py = y.data();
  const int64_t n = L.len, s = L.inner;
  for_each_block(L, [&](int64_t base, int64_t width) {
    const float* xb = px + base;
    float* yb = py + base;
    if (s == 1) {
      const ConstArr xr(xb, n);
      Arr yr(yb, n);
      const float mx = xr.maxCoeff();
      if constexpr (kLog) {
        yr = (xr - mx).exp();
        yr = xr - (mx + std::log(yr.sum()));
      } else {
        yr = (xr - mx).exp();
        yr *= 1.0f / yr.sum();
      }
      return;
    }
    float mx_buf[kBlock], sum_buf[kBlock];
    Arr mx(mx_buf, width), sum(sum_buf, width);
    mx = ConstArr(xb, width);
    for (int64_t l = 1; l < n; ++l) mx = mx.max(ConstArr(xb + l * s, width));
    sum.setZero();
    for (int64_t l = 0; l < n; ++l) {
      Arr yl(yb + l * s, width);
      yl = (ConstArr(xb + l * s, width) - mx).exp();
      sum += yl;
    }
    if constexpr (kLog) {
      sum = mx + sum.log();
      for (int64_t l = 0; l < n; ++l) Arr(yb + l * s, width) = ConstArr(xb + l * s, width) - sum;
    } else {
      sum = sum.inverse();
      for (int64_t l = 0; l < n; ++l) Arr(yb + l * s, width) *= sum;
    }
  });
  return y;
}

// softmax: dx = y * (g - sum(g*y)); log_softmax: dx = g - exp(y) * sum(g).
template <bool kLog>
Tensor backward(const Tensor& g, const Tensor& y, int axis, const Workspace* ws, const char* op) {
  BL_CHECK_SHAPE(g.shape() == y.shape(), op, " backward: expected gradient ", y.shape(), ", got ", g.shape());
  const Lanes L = lanes_of(y.shape(), axis, op);
  BL_ON_CUDA(op, ws, g, y) return cuda_ops::softmax_backward(g, y, kLog, L.outer, L.len, L.inner);
  Tensor dx = Tensor::empty(y.shape(), ws);
  const float* pg = g.data();
  const float* py = y.data();
  float* pd = dx.data();
  const int64_t n = L.len, s = L.inner;
  for_each_block(L, [&](int64_t base, int64_t width) {
    const float* gb = pg + base;
    const float* yb = py + base;
    float* db = pd + base;
    if (s == 1) {
      const ConstArr gr(gb, n), yr(yb, n);
      Arr dr(db, n);
      if constexpr (kLog)
        dr = gr - yr.exp() * gr.sum();
      else
        dr = yr * (gr - (gr * yr).sum());
      return;
    }
    float dot_buf[kBlock];
    Arr dot(dot_buf, width);
    dot.setZero();
    for (int64_t l = 0; l < n; ++l) {
      const ConstArr gl(gb + l * s, width), yl(yb + l * s, width);
      if constexpr (kLog)
        dot += gl;
      else
        dot += gl * yl;
    }
    for (int64_t l = 0; l < n; ++l) {
      const ConstArr gl(gb + l * s, width), yl(yb + l * s, width);
      Arr dl(db + l * s, width);
      if constexpr (kLog)
        dl = gl - yl.exp() * dot;
      else
        dl = yl * (gl - dot);
    }
  });
  return dx;
}

}  // namespace

Tensor softmax_forward(const Tensor& x, int axis, const Workspace* ws) {
  return forward<false>(x, axis, ws, "softmax");
}
Tensor log_softmax_forward(const Tensor& x, int axis, const Workspace* ws) {
  return forward<true>(x, axis, ws, "log_softmax");
}
Tensor softmax_backward(const Tensor& g, const Tensor& y, int axis, const Workspace* ws) {
  return backward<false>(g, y, axis, ws, "softmax");
}
Tensor log_softmax_backward(const Tensor& g, const Tensor& y, int axis, const Workspace* ws) {
  return backward<true>(g, y, axis, ws, "log_softmax");
}

}  // namespace backlight::fn
