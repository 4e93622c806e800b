// Depthwise convolution (groups == C, any channel multiplier): direct loops over the window.
// A GEMM per group would have one output row per product, far below the GEMM's efficiency.
#include <cstring>

#include "engine/functional/conv_paths.h"
#include "engine/parallel.h"

namespace backlight::fn::conv_paths {

// Depthwise: one filter per channel, direct loops (a GEMM with one output row is slow).
void forward_depthwise(const float* x, const float* w, const float* b, const ConvGeometry& g, float* y) {
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

void backward_input_depthwise(const float* gy, const float* w, const ConvGeometry& g, float* dx) {
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

}  // namespace backlight::fn::conv_paths
