// Resize: per-axis tables of (i0, i1, w0, w1) for every output index, then one pass per plane.
#include "engine/functional/resize.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "engine/error.h"
#include "engine/parallel.h"

namespace backlight::fn {

namespace {

struct Tap {
  int64_t i0 = 0, i1 = 0;
  float w0 = 1.0f, w1 = 0.0f;
};

// Source coordinate of output index o (ResizeAttrs' formulas, in float as torch computes them).
float source(const ResizeAttrs& a, int64_t o, int64_t in, int64_t out, float inv) {
  using C = ResizeAttrs::Coord;
  const float of = static_cast<float>(o);
  switch (a.coord) {
    case C::Asymmetric: return of * inv;
    case C::HalfPixel: return (of + 0.5f) * inv - 0.5f;
    case C::PytorchHalfPixel: return out > 1 ? (of + 0.5f) * inv - 0.5f : 0.0f;
    case C::AlignCorners:
      return out > 1 ? of * (static_cast<float>(in - 1) / static_cast<float>(out - 1)) : 0.0f;  // torch's order
  }
  return of;
}

int64_t round_index(ResizeAttrs::Round r, float s) {
  using R = ResizeAttrs::Round;
  switch (r) {
    case R::Floor: return static_cast<int64_t>(std::floor(s));
    case R::Ceil: return static_cast<int64_t>(std::ceil(s));
    case R::RoundPreferFloor: return static_cast<int64_t>(s - std::floor(s) == 0.5f ? std::floor(s) : std::round(s));
    case R::RoundPreferCeil: return static_cast<int64_t>(s - std::floor(s) == 0.5f ? std::ceil(s) : std::round(s));
  }
  return 0;
}

std::vector<Tap> taps(const ResizeAttrs& a, int64_t in, int64_t out, float inv) {
  std::vector<Tap> t(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    const float s = source(a, o, in, out, inv);
    Tap& k = t[static_cast<size_t>(o)];
    if (a.mode == ResizeAttrs::Mode::Nearest) {
      k.i0 = k.i1 = std::clamp<int64_t>(round_index(a.round, s), 0, in - 1);
      continue;
    }
    // torch's area_pixel_compute_source_index clamps negative sources to 0 (align_corners=False).
    const float c = s < 0.0f ? 0.0f : s;
    k.i0 = std::min<int64_t>(static_cast<int64_t>(c), in - 1);
    k.i1 = std::min<int64_t>(k.i0 + 1, in - 1);
    k.w1 = c - static_cast<float>(k.i0);
    k.w0 = 1.0f - k.w1;
  }
  return t;
}

void check(const Tensor& t, const Shape& x, const ResizeAttrs& a, const char* op) {
  BL_CHECK(!t.is_cuda(), op, ": runs on the CPU only (no CUDA kernel yet), got a cuda tensor ", t.shape(),
           "; run the model on the CPU (--device cpu)");
  BL_CHECK_SHAPE(x.rank() == 4 && x[2] > 0 && x[3] > 0, op, ": expected input [N,C,H,W], got ", x);
  BL_CHECK(a.out_h > 0 && a.out_w > 0, op, ": output size ", a.out_h, "x", a.out_w, " must be positive");
  // A hostile or mistaken scale (found by fuzzing the ONNX importer) would allocate terabytes.
  constexpr int64_t kMaxSide = int64_t{1} << 16;
  BL_CHECK(a.out_h <= kMaxSide && a.out_w <= kMaxSide, op, ": output size ", a.out_h, "x", a.out_w,
           " exceeds ", kMaxSide, " per side");
}

}  // namespace

Tensor resize_forward(const Tensor& x, const ResizeAttrs& a, const Workspace* ws) {
  check(x, x.shape(), a, "resize");
  const int64_t planes = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
  const std::vector<Tap> th = taps(a, h, a.out_h, a.inv_scale_h), tw = taps(a, w, a.out_w, a.inv_scale_w);
  Tensor y = Tensor::empty(Shape{x.size(0), x.size(1), a.out_h, a.out_w}, ws);
  const float* px = x.data();
  float* py = y.data();
  const bool nearest = a.mode == ResizeAttrs::Mode::Nearest;
  parallel_for(planes, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      const float* src = px + p * h * w;
      float* dst = py + p * a.out_h * a.out_w;
      for (int64_t oh = 0; oh < a.out_h; ++oh) {
        const Tap& r = th[static_cast<size_t>(oh)];
        const float* r0 = src + r.i0 * w;
        const float* r1 = src + r.i1 * w;
        for (int64_t ow = 0; ow < a.out_w; ++ow) {
          const Tap& c = tw[static_cast<size_t>(ow)];
          dst[oh * a.out_w + ow] = nearest ? r0[c.i0]
                                           : r.w0 * (c.w0 * r0[c.i0] + c.w1 * r0[c.i1]) +
                                                 r.w1 * (c.w0 * r1[c.i0] + c.w1 * r1[c.i1]);
        }
      }
    }
  });
  return y;
}

Tensor resize_backward(const Tensor& g, const Shape& x_shape, const ResizeAttrs& a, const Workspace* ws) {
  check(g, x_shape, a, "resize backward");
  BL_CHECK_SHAPE(g.dim() == 4 && g.size(2) == a.out_h && g.size(3) == a.out_w && g.size(0) == x_shape[0] &&
                     g.size(1) == x_shape[1],
                 "resize backward: gradient ", g.shape(), " does not match the output of ", x_shape);
  const int64_t planes = x_shape[0] * x_shape[1], h = x_shape[2], w = x_shape[3];
  const std::vector<Tap> th = taps(a, h, a.out_h, a.inv_scale_h), tw = taps(a, w, a.out_w, a.inv_scale_w);
  Tensor dx = Tensor::zeros(x_shape, ws);
  const float* pg = g.data();
  float* pd = dx.data();
  const bool nearest = a.mode == ResizeAttrs::Mode::Nearest;
  parallel_for(planes, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      const float* src = pg + p * a.out_h * a.out_w;
      float* d = pd + p * h * w;
      for (int64_t oh = 0; oh < a.out_h; ++oh) {
        const Tap& r = th[static_cast<size_t>(oh)];
        for (int64_t ow = 0; ow < a.out_w; ++ow) {
          const Tap& c = tw[static_cast<size_t>(ow)];
          const float v = src[oh * a.out_w + ow];
          if (nearest) {
            d[r.i0 * w + c.i0] += v;
            continue;
          }
          d[r.i0 * w + c.i0] += r.w0 * c.w0 * v;
          d[r.i0 * w + c.i1] += r.w0 * c.w1 * v;
          d[r.i1 * w + c.i0] += r.w1 * c.w0 * v;
          d[r.i1 * w + c.i1] += r.w1 * c.w1 * v;
        }
      }
    }
  });
  return dx;
}

}  // namespace backlight::fn
