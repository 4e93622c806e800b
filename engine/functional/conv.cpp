#include "engine/functional/conv.h"

#include <cstring>

#include "engine/eigen.h"
#include "engine/error.h"
#include "engine/parallel.h"

namespace backlight::fn {

ConvGeometry conv2d_geometry(const Shape& x, const Shape& w, const Conv2dAttrs& a) {
  BL_CHECK_SHAPE(x.rank() == 4, "conv2d: expected input [N,C,H,W], got ", x);
  BL_CHECK_SHAPE(w.rank() == 4, "conv2d: expected weight [O,C/groups,kH,kW], got ", w);
  BL_CHECK(a.groups >= 1 && a.stride_h >= 1 && a.stride_w >= 1 && a.dilation_h >= 1 && a.dilation_w >= 1 &&
               a.pad_h >= 0 && a.pad_w >= 0,
           "conv2d: groups, strides and dilations must be >= 1 and paddings >= 0");
  ConvGeometry g{x[0], x[1], x[2], x[3], w[0], w[2], w[3], 0, 0, a};
  BL_CHECK_SHAPE(g.c % a.groups == 0 && g.o % a.groups == 0, "conv2d: channels in (", g.c, ") and out (", g.o,
                 ") must be divisible by groups=", a.groups);
  BL_CHECK_SHAPE(w[1] == g.c / a.groups, "conv2d: expected weight [", g.o, ",", g.c / a.groups, ",kH,kW] for input ",
                 x, " with groups=", a.groups, ", got ", w);
  const int64_t eff_h = a.dilation_h * (g.kh - 1) + 1, eff_w = a.dilation_w * (g.kw - 1) + 1;
  BL_CHECK_SHAPE(g.h + 2 * a.pad_h >= eff_h && g.w + 2 * a.pad_w >= eff_w, "conv2d: input ", x,
                 " (padded by ", a.pad_h, ",", a.pad_w, ") is smaller than the dilated kernel ", eff_h, "x", eff_w);
  g.oh = (g.h + 2 * a.pad_h - eff_h) / a.stride_h + 1;
  g.ow = (g.w + 2 * a.pad_w - eff_w) / a.stride_w + 1;
  return g;
}

namespace {

bool is_pointwise(const ConvGeometry& g) {
  const auto& a = g.a;
  return g.kh == 1 && g.kw == 1 && a.stride_h == 1 && a.stride_w == 1 && a.pad_h == 0 && a.pad_w == 0;
}

bool is_depthwise(const ConvGeometry& g) { return g.a.groups > 1 && g.cg() == 1; }

// col[(c*kh+i)*kw+j, oh*ow] = x[c, oh*sh-ph+i*dh, ow*sw-pw+j*dw] (0 outside). One image, one group.
void im2col(const float* x, const ConvGeometry& g, float* col) {
  const auto& a = g.a;
  const int64_t rows = g.k(), ohw = g.oh * g.ow;
  parallel_for(rows, 4, [&](int64_t lo, int64_t hi) {
    for (int64_t r = lo; r < hi; ++r) {
      const int64_t c = r / (g.kh * g.kw), i = (r / g.kw) % g.kh, j = r % g.kw;
      const float* xc = x + c * g.h * g.w;
      float* dst = col + r * ohw;
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        const int64_t iy = oy * a.stride_h - a.pad_h + i * a.dilation_h;
        float* d = dst + oy * g.ow;
        if (iy < 0 || iy >= g.h) {
          std::memset(d, 0, g.ow * sizeof(float));
          continue;
        }
        const float* src = xc + iy * g.w;
        const int64_t off = j * a.dilation_w - a.pad_w;
        if (a.stride_w == 1) {
          // Contiguous run with zero borders.
          const int64_t lo_x = std::max<int64_t>(0, -off), hi_x = std::min<int64_t>(g.ow, g.w - off);
          for (int64_t ox = 0; ox < std::min(lo_x, g.ow); ++ox) d[ox] = 0;
          if (hi_x > lo_x) std::memcpy(d + lo_x, src + lo_x + off, (hi_x - lo_x) * sizeof(float));
          for (int64_t ox = std::max(hi_x, lo_x); ox < g.ow; ++ox) d[ox] = 0;
        } else {
          for (int64_t ox = 0; ox < g.ow; ++ox) {
            const int64_t ix = ox * a.stride_w + off;
            d[ox] = (ix >= 0 && ix < g.w) ? src[ix] : 0.0f;
          }
        }
      }
    }
  });
}

// dx[c, ...] += col (inverse of im2col). Parallel over channels: each owns its dx plane.
void col2im(const float* col, const ConvGeometry& g, float* dx) {
  const auto& a = g.a;
  const int64_t ohw = g.oh * g.ow;
  parallel_for(g.cg(), 1, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) {
      float* xc = dx + c * g.h * g.w;
      for (int64_t i = 0; i < g.kh; ++i)
        for (int64_t j = 0; j < g.kw; ++j) {
          const float* src = col + ((c * g.kh + i) * g.kw + j) * ohw;
          for (int64_t oy = 0; oy < g.oh; ++oy) {
            const int64_t iy = oy * a.stride_h - a.pad_h + i * a.dilation_h;
            if (iy < 0 || iy >= g.h) continue;
            float* d = xc + iy * g.w;
            const float* s = src + oy * g.ow;
            for (int64_t ox = 0; ox < g.ow; ++ox) {
              const int64_t ix = ox * a.stride_w - a.pad_w + j * a.dilation_w;
              if (ix >= 0 && ix < g.w) d[ix] += s[ox];
            }
          }
        }
    }
  });
}

// Depthwise: one filter per channel, direct loops (a GEMM with one output row is slow).
void depthwise_forward(const float* x, const float* w, const float* b, const ConvGeometry& g, float* y) {
  const auto& a = g.a;
  const int64_t mult = g.og();  // outputs per input channel
  parallel_for(g.n * g.o, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t no = lo; no < hi; ++no) {
      const int64_t n = no / g.o, o = no % g.o, c = o / mult;
      const float* xc = x + (n * g.c + c) * g.h * g.w;
      const float* wo = w + o * g.kh * g.kw;
      float* yo = y + no * g.oh * g.ow;
      const float bias = b ? b[o] : 0.0f;
      for (int64_t oy = 0; oy < g.oh; ++oy)
        for (int64_t ox = 0; ox < g.ow; ++ox) {
          float s = bias;
          for (int64_t i = 0; i < g.kh; ++i) {
            const int64_t iy = oy * a.stride_h - a.pad_h + i * a.dilation_h;
            if (iy < 0 || iy >= g.h) continue;
            for (int64_t j = 0; j < g.kw; ++j) {
              const int64_t ix = ox * a.stride_w - a.pad_w + j * a.dilation_w;
              if (ix >= 0 && ix < g.w) s += xc[iy * g.w + ix] * wo[i * g.kw + j];
            }
          }
          yo[oy * g.ow + ox] = s;
        }
    }
  });
}

void depthwise_backward_input(const float* gy, const float* w, const ConvGeometry& g, float* dx) {
  const auto& a = g.a;
  const int64_t mult = g.og();
  parallel_for(g.n * g.c, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t nc = lo; nc < hi; ++nc) {
      const int64_t n = nc / g.c, c = nc % g.c;
      float* dxc = dx + nc * g.h * g.w;
      std::memset(dxc, 0, g.h * g.w * sizeof(float));
      for (int64_t m = 0; m < mult; ++m) {
        const int64_t o = c * mult + m;
        const float* go = gy + (n * g.o + o) * g.oh * g.ow;
        const float* wo = w + o * g.kh * g.kw;
        for (int64_t oy = 0; oy < g.oh; ++oy)
          for (int64_t ox = 0; ox < g.ow; ++ox) {
            const float v = go[oy * g.ow + ox];
            for (int64_t i = 0; i < g.kh; ++i) {
              const int64_t iy = oy * a.stride_h - a.pad_h + i * a.dilation_h;
              if (iy < 0 || iy >= g.h) continue;
              for (int64_t j = 0; j < g.kw; ++j) {
                const int64_t ix = ox * a.stride_w - a.pad_w + j * a.dilation_w;
                if (ix >= 0 && ix < g.w) dxc[iy * g.w + ix] += v * wo[i * g.kw + j];
              }
            }
          }
      }
    }
  });
}

}  // namespace

Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dAttrs& a,
                      const Workspace* ws) {
  const ConvGeometry g = conv2d_geometry(x.shape(), w.shape(), a);
  if (bias.defined())
    BL_CHECK_SHAPE(bias.dim() == 1 && bias.size(0) == g.o, "conv2d: expected bias [", g.o, "], got ", bias.shape());
  Tensor y = Tensor::empty(Shape{g.n, g.o, g.oh, g.ow}, ws);
  if (is_depthwise(g)) {
    depthwise_forward(x.data(), w.data(), bias.defined() ? bias.data() : nullptr, g, y.data());
    return y;
  }
  const int64_t ohw = g.oh * g.ow, K = g.k();
  const bool pointwise = is_pointwise(g);
  Tensor col = pointwise ? Tensor() : Tensor::empty(Shape{K, ohw}, ws);
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t gi = 0; gi < a.groups; ++gi) {
      const float* xg = x.data() + (n * g.c + gi * g.cg()) * g.h * g.w;
      const float* cp = xg;
      if (!pointwise) {
        im2col(xg, g, col.data());
        cp = col.data();
      }
      auto Y = mat(y.data() + (n * g.o + gi * g.og()) * ohw, g.og(), ohw);
      Y.noalias() = mat(w.data() + gi * g.og() * K, g.og(), K) * mat(cp, K, ohw);
    }
  if (bias.defined()) {
    float* py = y.data();
    const float* pb = bias.data();
    parallel_for(g.n * g.o, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t no = lo; no < hi; ++no) {
        const float b = pb[no % g.o];
        float* p = py + no * ohw;
        for (int64_t i = 0; i < ohw; ++i) p[i] += b;
      }
    });
  }
  return y;
}

Tensor conv2d_backward_input(const Tensor& gy, const Tensor& w, const Shape& x_shape, const Conv2dAttrs& a,
                             const Workspace* ws) {
  const ConvGeometry g = conv2d_geometry(x_shape, w.shape(), a);
  BL_CHECK_SHAPE(gy.shape() == Shape({g.n, g.o, g.oh, g.ow}), "conv2d backward: expected gradient [", g.n, ",", g.o,
                 ",", g.oh, ",", g.ow, "], got ", gy.shape());
  Tensor dx = Tensor::empty(x_shape, ws);
  if (is_depthwise(g)) {
    depthwise_backward_input(gy.data(), w.data(), g, dx.data());
    return dx;
  }
  const int64_t ohw = g.oh * g.ow, K = g.k();
  const bool pointwise = is_pointwise(g);
  Tensor col = pointwise ? Tensor() : Tensor::empty(Shape{K, ohw}, ws);
  if (!pointwise) dx.fill(0.0f);
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t gi = 0; gi < a.groups; ++gi) {
      float* dxg = dx.data() + (n * g.c + gi * g.cg()) * g.h * g.w;
      auto W = mat(w.data() + gi * g.og() * K, g.og(), K);
      auto G = mat(gy.data() + (n * g.o + gi * g.og()) * ohw, g.og(), ohw);
      if (pointwise) {
        mat(dxg, K, ohw).noalias() = W.transpose() * G;
      } else {
        mat(col.data(), K, ohw).noalias() = W.transpose() * G;
        col2im(col.data(), g, dxg);
      }
    }
  return dx;
}

Tensor conv2d_backward_weight(const Tensor& gy, const Tensor& x, const Shape& w_shape, const Conv2dAttrs& a,
                              const Workspace* ws) {
  const ConvGeometry g = conv2d_geometry(x.shape(), w_shape, a);
  const int64_t ohw = g.oh * g.ow, K = g.k();
  Tensor dw = Tensor::zeros(w_shape, ws);
  Tensor col = Tensor::empty(Shape{K, ohw}, ws);
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t gi = 0; gi < a.groups; ++gi) {
      const float* xg = x.data() + (n * g.c + gi * g.cg()) * g.h * g.w;
      const float* cp = xg;
      if (!is_pointwise(g)) {
        im2col(xg, g, col.data());
        cp = col.data();
      }
      auto G = mat(gy.data() + (n * g.o + gi * g.og()) * ohw, g.og(), ohw);
      mat(dw.data() + gi * g.og() * K, g.og(), K).noalias() += G * mat(cp, K, ohw).transpose();
    }
  return dw;
}

Tensor conv2d_backward_bias(const Tensor& gy, const Workspace* ws) {
  const int64_t n = gy.size(0), o = gy.size(1), hw = gy.numel() / std::max<int64_t>(1, n * o);
  Tensor db = Tensor::zeros(Shape{o}, ws);
  for (int64_t i = 0; i < n; ++i)
    for (int64_t c = 0; c < o; ++c) {
      const float* p = gy.data() + (i * o + c) * hw;
      double s = 0;
      for (int64_t k = 0; k < hw; ++k) s += p[k];
      db.data()[c] += static_cast<float>(s);
    }
  return db;
}

}  // namespace backlight::fn
