#pragma once
/// Naive 2-D convolution references (STYLE pattern 7: `*_ref`, tests and benches only).
///
/// Each gradient is written per element, straight from the definition of the cross-correlation
/// y[n,o,oy,ox] = b[o] + sum_{c,i,j} x[n, g*cg + c, oy*sh - ph + i*dh, ox*sw - pw + j*dw] w[o,c,i,j]
/// (g = o / og the group, zero outside the image), accumulated in double. The `*_at` functions
/// give one element, so a bench can validate a large layer on a random sample of elements; the
/// whole-tensor functions loop over them. Slow by design: O(output * C/groups * kH * kW).
#include <cstdint>

#include "engine/functional/conv.h"

namespace backlight::fn::ref {

/// y[n,o,oy,ox] (bias may be null).
inline double conv2d_forward_at(const float* x, const float* w, const float* b, const ConvGeometry& g, int64_t n,
                                int64_t o, int64_t oy, int64_t ox) {
  const auto& a = g.a;
  const int64_t c0 = (o / g.og()) * g.cg();
  double s = b ? b[o] : 0.0;
  for (int64_t c = 0; c < g.cg(); ++c)
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t iy = oy * a.stride_h - a.pad_h + i * a.dilation_h;
      if (iy < 0 || iy >= g.h) continue;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t ix = ox * a.stride_w - a.pad_w + j * a.dilation_w;
        if (ix < 0 || ix >= g.w) continue;
        s += static_cast<double>(x[((n * g.c + c0 + c) * g.h + iy) * g.w + ix]) *
             w[((o * g.cg() + c) * g.kh + i) * g.kw + j];
      }
    }
  return s;
}

/// dx[n,c,iy,ix] for upstream gy[n,o,oh,ow]: the sum over every (o, i, j) whose window covers
/// (iy, ix).
inline double conv2d_backward_input_at(const float* gy, const float* w, const ConvGeometry& g, int64_t n, int64_t c,
                                       int64_t iy, int64_t ix) {
  const auto& a = g.a;
  const int64_t grp = c / g.cg(), cl = c % g.cg();
  double s = 0;
  for (int64_t o = grp * g.og(); o < (grp + 1) * g.og(); ++o)
    for (int64_t i = 0; i < g.kh; ++i) {
      const int64_t ty = iy + a.pad_h - i * a.dilation_h;
      if (ty < 0 || ty % a.stride_h) continue;
      const int64_t oy = ty / a.stride_h;
      if (oy >= g.oh) continue;
      for (int64_t j = 0; j < g.kw; ++j) {
        const int64_t tx = ix + a.pad_w - j * a.dilation_w;
        if (tx < 0 || tx % a.stride_w) continue;
        const int64_t ox = tx / a.stride_w;
        if (ox >= g.ow) continue;
        s += static_cast<double>(gy[((n * g.o + o) * g.oh + oy) * g.ow + ox]) *
             w[((o * g.cg() + cl) * g.kh + i) * g.kw + j];
      }
    }
  return s;
}

/// dW[o,c,i,j] = sum over n, oy, ox of gy[n,o,oy,ox] * x[n, grp*cg + c, ...].
inline double conv2d_backward_weight_at(const float* gy, const float* x, const ConvGeometry& g, int64_t o, int64_t c,
                                        int64_t i, int64_t j) {
  const auto& a = g.a;
  const int64_t cx = (o / g.og()) * g.cg() + c;
  double s = 0;
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      const int64_t iy = oy * a.stride_h - a.pad_h + i * a.dilation_h;
      if (iy < 0 || iy >= g.h) continue;
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const int64_t ix = ox * a.stride_w - a.pad_w + j * a.dilation_w;
        if (ix < 0 || ix >= g.w) continue;
        s += static_cast<double>(gy[((n * g.o + o) * g.oh + oy) * g.ow + ox]) *
             x[((n * g.c + cx) * g.h + iy) * g.w + ix];
      }
    }
  return s;
}

/// Whole-tensor references (bias may be undefined).
inline Tensor conv2d_ref_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dAttrs& a) {
  const ConvGeometry g = conv2d_geometry(x.shape(), w.shape(), a);
  Tensor y = Tensor::empty(Shape{g.n, g.o, g.oh, g.ow});
  float* p = y.data();
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t o = 0; o < g.o; ++o)
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox)
          *p++ = static_cast<float>(
              conv2d_forward_at(x.data(), w.data(), bias.defined() ? bias.data() : nullptr, g, n, o, oy, ox));
  return y;
}

inline Tensor conv2d_ref_backward_input(const Tensor& gy, const Tensor& w, const Shape& x_shape,
                                        const Conv2dAttrs& a) {
  const ConvGeometry g = conv2d_geometry(x_shape, w.shape(), a);
  Tensor dx = Tensor::empty(x_shape);
  float* p = dx.data();
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t c = 0; c < g.c; ++c)
      for (int64_t iy = 0; iy < g.h; ++iy)
        for (int64_t ix = 0; ix < g.w; ++ix)
          *p++ = static_cast<float>(conv2d_backward_input_at(gy.data(), w.data(), g, n, c, iy, ix));
  return dx;
}

inline Tensor conv2d_ref_backward_weight(const Tensor& gy, const Tensor& x, const Shape& w_shape,
                                         const Conv2dAttrs& a) {
  const ConvGeometry g = conv2d_geometry(x.shape(), w_shape, a);
  Tensor dw = Tensor::empty(w_shape);
  float* p = dw.data();
  for (int64_t o = 0; o < g.o; ++o)
    for (int64_t c = 0; c < g.cg(); ++c)
      for (int64_t i = 0; i < g.kh; ++i)
        for (int64_t j = 0; j < g.kw; ++j)
          *p++ = static_cast<float>(conv2d_backward_weight_at(gy.data(), x.data(), g, o, c, i, j));
  return dw;
}

}  // namespace backlight::fn::ref
