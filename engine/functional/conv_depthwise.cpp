// Depthwise convolution (groups == C, any channel multiplier): direct loops over the window.
// A GEMM per group would have one output row per product, far below the GEMM's efficiency.
// Per output row and tap, the range of output columns whose input column is inside the image is
// computed once, so the innermost loop has no bounds test: a contiguous multiply-add the compiler
// vectorises at stride 1 (strided loads otherwise). Memory-bound: each input plane is read kh*kw
// times from L1/L2 (planes are at most 112x112x4 = 49 KiB).
#include <algorithm>
#include <cstring>

#include "engine/functional/conv_paths.h"
#include "engine/parallel.h"

namespace backlight::fn::conv_paths {

namespace {

// Output columns [lo, hi) whose input column ox*stride - pad + j*dil lies in [0, w).
void column_range(int64_t j, const ConvGeometry& g, int64_t& lo, int64_t& hi) {
  const int64_t s = g.a.stride_w, off = j * g.a.dilation_w - g.a.pad_w;  // ix = ox*s + off
  lo = off >= 0 ? 0 : (-off + s - 1) / s;
  hi = g.w - off <= 0 ? 0 : std::min<int64_t>(g.ow, (g.w - off + s - 1) / s);
  if (hi < lo) hi = lo;
}

}  // namespace

void forward_depthwise(const float* x, const float* w, const float* b, const ConvGeometry& g, float* y) {
  const auto& a = g.a;
  const int64_t mult = g.og();  // outputs per input channel
  const int64_t sw = a.stride_w;
  parallel_for(g.n * g.o, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t no = lo; no < hi; ++no) {
      const int64_t n = no / g.o, o = no % g.o, c = o / mult;
      const float* xc = x + (n * g.c + c) * g.h * g.w;
      const float* wo = w + o * g.kh * g.kw;
      float* yo = y + no * g.oh * g.ow;
      const float bias = b ? b[o] : 0.0f;
      for (int64_t oy = 0; oy < g.oh; ++oy) {
        float* yr = yo + oy * g.ow;
        std::fill(yr, yr + g.ow, bias);
        for (int64_t i = 0; i < g.kh; ++i) {
          const int64_t iy = oy * a.stride_h - a.pad_h + i * a.dilation_h;
          if (iy < 0 || iy >= g.h) continue;
          const float* xr = xc + iy * g.w;
          for (int64_t j = 0; j < g.kw; ++j) {
            int64_t c0, c1;
            column_range(j, g, c0, c1);
            const float wv = wo[i * g.kw + j];
            const int64_t off = j * a.dilation_w - a.pad_w;  // input column ox * sw + off
            if (sw == 1) {
              const float* xs = xr + (c0 + off);
              float* ys = yr + c0;
              for (int64_t k = 0; k < c1 - c0; ++k) ys[k] += wv * xs[k];
            } else {
              for (int64_t ox = c0; ox < c1; ++ox) yr[ox] += wv * xr[ox * sw + off];
            }
          }
        }
      }
    }
  });
}

void backward_input_depthwise(const float* gy, const float* w, const ConvGeometry& g, float* dx) {
  const auto& a = g.a;
  const int64_t mult = g.og();
  const int64_t sw = a.stride_w;
  parallel_for(g.n * g.c, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t nc = lo; nc < hi; ++nc) {
      const int64_t n = nc / g.c, c = nc % g.c;
      float* dxc = dx + nc * g.h * g.w;
      std::memset(dxc, 0, g.h * g.w * sizeof(float));
      for (int64_t m = 0; m < mult; ++m) {
        const int64_t o = c * mult + m;
        const float* go = gy + (n * g.o + o) * g.oh * g.ow;
        const float* wo = w + o * g.kh * g.kw;
        for (int64_t oy = 0; oy < g.oh; ++oy) {
          const float* gr = go + oy * g.ow;
          for (int64_t i = 0; i < g.kh; ++i) {
            const int64_t iy = oy * a.stride_h - a.pad_h + i * a.dilation_h;
            if (iy < 0 || iy >= g.h) continue;
            float* dr = dxc + iy * g.w;
            for (int64_t j = 0; j < g.kw; ++j) {
              int64_t c0, c1;
              column_range(j, g, c0, c1);
              const float wv = wo[i * g.kw + j];
              const int64_t off = j * a.dilation_w - a.pad_w;
              if (sw == 1) {
                float* ds = dr + (c0 + off);
                const float* gs = gr + c0;
                for (int64_t k = 0; k < c1 - c0; ++k) ds[k] += wv * gs[k];
              } else {
                for (int64_t ox = c0; ox < c1; ++ox) dr[ox * sw + off] += wv * gr[ox];
              }
            }
          }
        }
      }
    }
  });
}

}  // namespace backlight::fn::conv_paths
