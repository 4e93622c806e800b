#include "engine/functional/softmax.h"

#include <algorithm>
#include <cmath>

#include "engine/error.h"
#include "engine/parallel.h"

namespace backlight::fn {

namespace {

// A tensor seen as [outer, len, inner] around the axis. Work items are (outer, block of up to
// kBlock inner columns): the lanes of a block sit side by side in memory, so every pass over
// the axis reads contiguous runs (one run of length `len` when inner == 1).
constexpr int64_t kBlock = 64;

struct Lanes {
  int64_t outer, len, inner;
};

Lanes lanes_of(const Shape& s, int axis, const char* op) {
  const int r = s.rank();
  BL_CHECK_SHAPE(r >= 1 && axis >= -r && axis < r, op, ": axis ", axis, " out of range for input ", s);
  const int a = axis < 0 ? axis + r : axis;
  return {s.numel_range(0, a), s[a], s.numel_range(a + 1, r)};
}

// f(base, width): lanes base + j (j < width), element l of lane j at base + l*inner + j.
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
  Tensor y = Tensor::empty(x.shape(), ws);
  const float* px = x.data();
  float* py = y.data();
  for_each_block(L, [&](int64_t base, int64_t width) {
    float mx[kBlock], sum[kBlock];
    const float* xb = px + base;
    float* yb = py + base;
    for (int64_t j = 0; j < width; ++j) mx[j] = xb[j], sum[j] = 0.0f;
    for (int64_t l = 1; l < L.len; ++l)
      for (int64_t j = 0; j < width; ++j) mx[j] = std::max(mx[j], xb[l * L.inner + j]);
    for (int64_t l = 0; l < L.len; ++l)
      for (int64_t j = 0; j < width; ++j) {
        const float e = std::exp(xb[l * L.inner + j] - mx[j]);
        if constexpr (!kLog) yb[l * L.inner + j] = e;
        sum[j] += e;
      }
    for (int64_t j = 0; j < width; ++j) sum[j] = kLog ? mx[j] + std::log(sum[j]) : 1.0f / sum[j];
    for (int64_t l = 0; l < L.len; ++l)
      for (int64_t j = 0; j < width; ++j) {
        if constexpr (kLog)
          yb[l * L.inner + j] = xb[l * L.inner + j] - sum[j];
        else
          yb[l * L.inner + j] *= sum[j];
      }
  });
  return y;
}

template <bool kLog>
Tensor backward(const Tensor& g, const Tensor& y, int axis, const Workspace* ws, const char* op) {
  BL_CHECK_SHAPE(g.shape() == y.shape(), op, " backward: expected gradient ", y.shape(), ", got ", g.shape());
  const Lanes L = lanes_of(y.shape(), axis, op);
  Tensor dx = Tensor::empty(y.shape(), ws);
  const float* pg = g.data();
  const float* py = y.data();
  float* pd = dx.data();
  for_each_block(L, [&](int64_t base, int64_t width) {
    float dot[kBlock];
    const float* gb = pg + base;
    const float* yb = py + base;
    float* db = pd + base;
    for (int64_t j = 0; j < width; ++j) dot[j] = 0.0f;
    for (int64_t l = 0; l < L.len; ++l)
      for (int64_t j = 0; j < width; ++j) {
        const int64_t i = l * L.inner + j;
        dot[j] += kLog ? gb[i] : gb[i] * yb[i];
      }
    for (int64_t l = 0; l < L.len; ++l)
      for (int64_t j = 0; j < width; ++j) {
        const int64_t i = l * L.inner + j;
        db[i] = kLog ? gb[i] - std::exp(yb[i]) * dot[j] : yb[i] * (gb[i] - dot[j]);
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
