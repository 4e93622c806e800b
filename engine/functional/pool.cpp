#include "engine/functional/pool.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <string_view>

#include "engine/error.h"
#include "engine/functional/cuda_ops.h"
#include "engine/functional/dispatch.h"
#include "engine/parallel.h"

namespace backlight::fn {

namespace {

// Floor division (PyTorch's div_rtn): the numerator is negative when the kernel does not fit.
int64_t div_floor(int64_t a, int64_t b) {
  const int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

// Window of output index o along one axis: PyTorch walks the dilated kernel from o*stride - pad,
// skipping taps in the left padding, and clips at the input end.
PoolRange pool_range(int64_t o, int64_t in, int64_t k, int64_t pad, int64_t stride, int64_t dilation) {
  const int64_t start = o * stride - pad;
  const int64_t span_end = start + (k - 1) * dilation + 1;
  int64_t begin = start;
  if (begin < 0) begin += ((-begin + dilation - 1) / dilation) * dilation;
  const int64_t end = std::min(span_end, in);
  const int64_t padded_end = std::min(span_end, in + pad);
  // With dilation every tap can fall into padding (begin >= end): an empty window.
  return {std::min(begin, end), end, padded_end - start};
}

void check_output_shape(const Tensor& g, const Pool2dGeometry& geo, const char* op) {
  BL_CHECK_SHAPE(g.shape() == Shape({geo.n, geo.c, geo.oh, geo.ow}), op, " backward: expected gradient [", geo.n,
                 ",", geo.c, ",", geo.oh, ",", geo.ow, "], got ", g.shape());
}

// First maximum of one window (PyTorch: strictly greater, or NaN). Starts at the first tap so an
// all -inf window still names an input element; -1 only for an empty window.
struct WindowMax {
  float value;
  int64_t index;
};

inline void take_max(WindowMax& m, float v, int64_t index) {
  // Selects rather than a branch: on real activations the comparison is unpredictable.
  const bool take = v > m.value || std::isnan(v);
  m.value = take ? v : m.value;
  m.index = take ? index : m.index;
}

inline WindowMax window_max(const float* plane, int64_t w, const PoolRange& r, const PoolRange& c, int64_t dh,
                            int64_t dw) {
  WindowMax m{-std::numeric_limits<float>::infinity(), -1};
  if (r.begin >= r.end || c.begin >= c.end) return m;
  m.index = r.begin * w + c.begin;
  for (int64_t iy = r.begin; iy < r.end; iy += dh)
    for (int64_t ix = c.begin; ix < c.end; ix += dw) take_max(m, plane[iy * w + ix], iy * w + ix);
  return m;
}

// The interior of one output row, columns [lo, hi): KxK windows lying wholly inside the input,
// dilation 1, stride S. Compile-time trip counts and stride let the compiler vectorise across
// output columns with plain interleaved loads (no gathers); the flat index fits int32 (the
// dispatcher checks H*W).
template <int K, int S, class Emit>
inline void interior_row(const float* plane, int64_t w, int64_t y0, int64_t pad_w, int64_t o, int64_t lo,
                         int64_t hi, Emit& emit) {
  const float* rows[K];
  int32_t row_base[K];
  for (int i = 0; i < K; ++i) {
    rows[i] = plane + (y0 + i) * w;
    row_base[i] = static_cast<int32_t>((y0 + i) * w - pad_w);
  }
  for (int64_t ox = lo; ox < hi; ++ox) {
    float best = -std::numeric_limits<float>::infinity();
    int32_t index = row_base[0] + static_cast<int32_t>(ox * S);
    for (int i = 0; i < K; ++i)
      for (int j = 0; j < K; ++j) {
        const float v = rows[i][ox * S + j - pad_w];
        const bool take = v > best || std::isnan(v);  // as take_max
        best = take ? v : best;
        index = take ? row_base[i] + static_cast<int32_t>(ox * S + j) : index;
      }
    emit(o + ox, WindowMax{best, index});
  }
}

// Visits every window of one plane, emit(output offset, WindowMax). K > 0: the kernel is KxK
// with dilation 1 and stride S, and windows away from the borders take interior_row (VGG's 2x2/2
// and ResNet's 3x3/2 stem pool spend nearly all their time there).
template <int K, int S, class Emit>
void maxpool_plane(const float* plane, const Pool2dGeometry& geo, Emit&& emit) {
  const auto& a = geo.a;
  int64_t ox_lo = geo.ow, ox_hi = geo.ow;  // interior columns [ox_lo, ox_hi)
  if constexpr (K > 0) {
    ox_lo = std::min<int64_t>(geo.ow, (a.pad_w + S - 1) / S);
    ox_hi = geo.w + a.pad_w >= K ? std::min<int64_t>(geo.ow, (geo.w + a.pad_w - K) / S + 1) : 0;
    ox_hi = std::max(ox_hi, ox_lo);
  }
  for (int64_t oy = 0; oy < geo.oh; ++oy) {
    const PoolRange& r = geo.rows[oy];
    const int64_t o = oy * geo.ow;
    const bool full_rows = K > 0 && r.end - r.begin == K;
    const int64_t lo = full_rows ? ox_lo : geo.ow, hi = full_rows ? ox_hi : geo.ow;
    for (int64_t ox = 0; ox < lo; ++ox)
      emit(o + ox, window_max(plane, geo.w, r, geo.cols[ox], a.dilation_h, a.dilation_w));
    if constexpr (K > 0) interior_row<K, S>(plane, geo.w, r.begin, a.pad_w, o, lo, hi, emit);
    for (int64_t ox = hi; ox < geo.ow; ++ox)
      emit(o + ox, window_max(plane, geo.w, r, geo.cols[ox], a.dilation_h, a.dilation_w));
  }
}

template <class Emit>
void maxpool_plane_dispatch(const float* plane, const Pool2dGeometry& geo, Emit&& emit) {
  const auto& a = geo.a;
  const bool fast = a.kernel_h == a.kernel_w && a.dilation_h == 1 && a.dilation_w == 1 &&
                    geo.h * geo.w < std::numeric_limits<int32_t>::max();
  const int k = fast ? a.kernel_w : 0, s = a.stride_w;
  if (k == 2 && s == 2) return maxpool_plane<2, 2>(plane, geo, emit);
  if (k == 3 && s == 2) return maxpool_plane<3, 2>(plane, geo, emit);
  if (k == 2 && s == 1) return maxpool_plane<2, 1>(plane, geo, emit);
  if (k == 3 && s == 1) return maxpool_plane<3, 1>(plane, geo, emit);
  maxpool_plane<0, 1>(plane, geo, emit);
}

// Mean pooling over separable windows: shared by avgpool2d and adaptive_avgpool2d (whose bins
// are windows with padded_extent = size and count_include_pad).
int64_t divisor(const Pool2dGeometry& geo, const PoolRange& r, const PoolRange& c) {
  return geo.a.count_include_pad ? r.padded_extent * c.padded_extent : (r.end - r.begin) * (c.end - c.begin);
}

Tensor mean_pool_forward(const Tensor& x, const Pool2dGeometry& geo, const Workspace* ws) {
  BL_ON_CUDA("avgpool2d", ws, x) return cuda_ops::mean_pool_forward(x, geo);
  Tensor y = Tensor::empty(Shape{geo.n, geo.c, geo.oh, geo.ow}, ws);
  const float* px = x.data();
  float* py = y.data();
  parallel_for(geo.n * geo.c, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      const float* plane = px + p * geo.h * geo.w;
      float* out = py + p * geo.oh * geo.ow;
      for (int64_t oy = 0; oy < geo.oh; ++oy) {
        const PoolRange& r = geo.rows[oy];
        for (int64_t ox = 0; ox < geo.ow; ++ox) {
          const PoolRange& c = geo.cols[ox];
          float s = 0.0f;
          for (int64_t iy = r.begin; iy < r.end; ++iy) {
            const float* row = plane + iy * geo.w;
            for (int64_t ix = c.begin; ix < c.end; ++ix) s += row[ix];
          }
          const int64_t d = divisor(geo, r, c);
          out[oy * geo.ow + ox] = d > 0 ? s / static_cast<float>(d) : 0.0f;
        }
      }
    }
  });
  return y;
}

Tensor mean_pool_backward(const Tensor& g, const Pool2dGeometry& geo, const Workspace* ws) {
  BL_ON_CUDA("avgpool2d backward", ws, g) return cuda_ops::mean_pool_backward(g, geo);
  Tensor dx = Tensor::empty(Shape{geo.n, geo.c, geo.h, geo.w}, ws);
  const float* pg = g.data();
  float* pd = dx.data();
  parallel_for(geo.n * geo.c, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      float* plane = pd + p * geo.h * geo.w;
      const float* gp = pg + p * geo.oh * geo.ow;
      std::memset(plane, 0, geo.h * geo.w * sizeof(float));
      for (int64_t oy = 0; oy < geo.oh; ++oy) {
        const PoolRange& r = geo.rows[oy];
        for (int64_t ox = 0; ox < geo.ow; ++ox) {
          const PoolRange& c = geo.cols[ox];
          const int64_t d = divisor(geo, r, c);
          if (d <= 0) continue;
          const float v = gp[oy * geo.ow + ox] / static_cast<float>(d);
          for (int64_t iy = r.begin; iy < r.end; ++iy) {
            float* row = plane + iy * geo.w;
            for (int64_t ix = c.begin; ix < c.end; ++ix) row[ix] += v;
          }
        }
      }
    }
  });
  return dx;
}

Pool2dGeometry avg_geometry(const Shape& x, const Pool2dAttrs& a) {
  BL_CHECK(a.dilation_h == 1 && a.dilation_w == 1, "avgpool2d: dilation is not supported (PyTorch's AvgPool2d has ",
           "none), got ", a.dilation_h, "x", a.dilation_w);
  return pool2d_geometry(x, a, "avgpool2d");
}

Pool2dGeometry adaptive_geometry(const Shape& x, int64_t out_h, int64_t out_w) {
  BL_CHECK_SHAPE(x.rank() == 4, "adaptive_avgpool2d: expected input [N,C,H,W], got ", x);
  BL_CHECK_SHAPE(x[2] >= 1 && x[3] >= 1, "adaptive_avgpool2d: expected non-empty H and W, got ", x);
  BL_CHECK(out_h >= 1 && out_w >= 1, "adaptive_avgpool2d: expected output size >= 1x1, got ", out_h, "x", out_w);
  Pool2dGeometry geo{x[0], x[1], x[2], x[3], out_h, out_w, Pool2dAttrs{}, {}, {}};
  geo.a.count_include_pad = true;  // a bin has no padding: its padded extent is its size
  geo.rows.reserve(out_h);
  geo.cols.reserve(out_w);
  for (int64_t i = 0; i < out_h; ++i) geo.rows.push_back(adaptive_bin(i, geo.h, out_h));
  for (int64_t i = 0; i < out_w; ++i) geo.cols.push_back(adaptive_bin(i, geo.w, out_w));
  return geo;
}

}  // namespace

int64_t pool_output_size(int64_t in, int64_t kernel, int64_t pad, int64_t stride, int64_t dilation,
                         bool ceil_mode) {
  int64_t out = div_floor(in + 2 * pad - dilation * (kernel - 1) - 1 + (ceil_mode ? stride - 1 : 0), stride) + 1;
  if (ceil_mode && (out - 1) * stride >= in + pad) --out;
  return out;
}

Pool2dGeometry pool2d_geometry(const Shape& x, const Pool2dAttrs& a, const char* op) {
  BL_CHECK_SHAPE(x.rank() == 4, op, ": expected input [N,C,H,W], got ", x);
  BL_CHECK_SHAPE(x[2] >= 1 && x[3] >= 1, op, ": expected non-empty H and W, got ", x);
  BL_CHECK(a.kernel_h >= 1 && a.kernel_w >= 1, op, ": expected kernel >= 1, got ", a.kernel_h, "x", a.kernel_w);
  BL_CHECK(a.stride_h >= 1 && a.stride_w >= 1, op, ": expected stride >= 1, got ", a.stride_h, "x", a.stride_w);
  BL_CHECK(a.dilation_h >= 1 && a.dilation_w >= 1, op, ": expected dilation >= 1, got ", a.dilation_h, "x",
           a.dilation_w);
  BL_CHECK(a.pad_h >= 0 && a.pad_w >= 0 && a.pad_h <= a.kernel_h / 2 && a.pad_w <= a.kernel_w / 2, op,
           ": expected padding between 0 and half the kernel size, got padding ", a.pad_h, "x", a.pad_w,
           " for kernel ", a.kernel_h, "x", a.kernel_w);
  Pool2dGeometry geo{x[0], x[1], x[2], x[3], 0, 0, a, {}, {}};
  geo.oh = pool_output_size(geo.h, a.kernel_h, a.pad_h, a.stride_h, a.dilation_h, a.ceil_mode);
  geo.ow = pool_output_size(geo.w, a.kernel_w, a.pad_w, a.stride_w, a.dilation_w, a.ceil_mode);
  BL_CHECK_SHAPE(geo.oh >= 1 && geo.ow >= 1, op, ": input ", x, " is too small for kernel ", a.kernel_h, "x",
                 a.kernel_w, " (padding ", a.pad_h, "x", a.pad_w, ", dilation ", a.dilation_h, "x", a.dilation_w,
                 "): output would be ", geo.oh, "x", geo.ow);
  geo.rows.reserve(geo.oh);
  geo.cols.reserve(geo.ow);
  for (int64_t o = 0; o < geo.oh; ++o)
    geo.rows.push_back(pool_range(o, geo.h, a.kernel_h, a.pad_h, a.stride_h, a.dilation_h));
  for (int64_t o = 0; o < geo.ow; ++o)
    geo.cols.push_back(pool_range(o, geo.w, a.kernel_w, a.pad_w, a.stride_w, a.dilation_w));
  return geo;
}

MaxPool2dResult maxpool2d_forward(const Tensor& x, const Pool2dAttrs& a, const Workspace* ws, bool with_argmax) {
  const Pool2dGeometry geo = pool2d_geometry(x.shape(), a, "maxpool2d");
  BL_CHECK(!with_argmax || geo.h * geo.w <= kMaxPoolArgmaxPlane, "maxpool2d: an argmax map needs H*W <= 2^24, got ",
           x.shape());
  BL_ON_CUDA("maxpool2d", ws, x) return cuda_ops::maxpool2d_forward(x, geo, with_argmax);
  MaxPool2dResult res;
  const Shape out_shape{geo.n, geo.c, geo.oh, geo.ow};
  res.y = Tensor::empty(out_shape, ws);
  if (with_argmax) res.argmax = Tensor::empty(out_shape, ws);
  const float* px = x.data();
  float* py = res.y.data();
  float* pa = with_argmax ? res.argmax.data() : nullptr;
  const int64_t ohw = geo.oh * geo.ow;
  parallel_for(geo.n * geo.c, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      const float* plane = px + p * geo.h * geo.w;
      float* out = py + p * ohw;
      float* arg = pa ? pa + p * ohw : nullptr;
      if (arg)
        maxpool_plane_dispatch(plane, geo, [&](int64_t o, const WindowMax& m) {
          out[o] = m.value;
          arg[o] = static_cast<float>(static_cast<int32_t>(m.index));  // exact: H*W <= 2^24
        });
      else
        maxpool_plane_dispatch(plane, geo, [&](int64_t o, const WindowMax& m) { out[o] = m.value; });
    }
  });
  return res;
}

Tensor maxpool2d_backward(const Tensor& g, const Tensor& x, const Tensor& argmax, const Pool2dAttrs& a,
                          const Workspace* ws) {
  const Pool2dGeometry geo = pool2d_geometry(x.shape(), a, "maxpool2d");
  check_output_shape(g, geo, "maxpool2d");
  if (argmax.defined())
    BL_CHECK_SHAPE(argmax.shape() == g.shape(), "maxpool2d backward: expected argmax map ", g.shape(), ", got ",
                   argmax.shape());
  BL_CHECK(argmax.defined() || geo.h * geo.w <= std::numeric_limits<int32_t>::max(),
           "maxpool2d backward: recomputing the maxima needs H*W < 2^31, got ", x.shape());
  BL_ON_CUDA("maxpool2d backward", ws, g, x, argmax) return cuda_ops::maxpool2d_backward(g, x, argmax, geo);
  Tensor dx = Tensor::empty(x.shape(), ws);
  const float* px = x.data();
  const float* pg = g.data();
  const float* pa = argmax.defined() ? argmax.data() : nullptr;
  float* pd = dx.data();
  const int64_t ohw = geo.oh * geo.ow, hw = geo.h * geo.w;
  parallel_for(geo.n * geo.c, 1, [&](int64_t lo, int64_t hi) {
    // Recomputing: the window maxima go to a scratch index map first, so the max search stays
    // vectorizable (a scatter in the same loop would serialise it).
    std::vector<int32_t> scratch(pa ? 0 : ohw);
    for (int64_t p = lo; p < hi; ++p) {
      float* plane = pd + p * hw;
      const float* gp = pg + p * ohw;
      std::memset(plane, 0, hw * sizeof(float));
      if (pa) {
        const float* ap = pa + p * ohw;
        for (int64_t o = 0; o < ohw; ++o) {
          const int64_t idx = static_cast<int64_t>(ap[o]);
          if (idx >= 0) plane[idx] += gp[o];
        }
        continue;
      }
      int32_t* idx = scratch.data();
      maxpool_plane_dispatch(px + p * hw, geo,
                             [idx](int64_t o, const WindowMax& m) { idx[o] = static_cast<int32_t>(m.index); });
      for (int64_t o = 0; o < ohw; ++o)
        if (idx[o] >= 0) plane[idx[o]] += gp[o];
    }
  });
  return dx;
}

Tensor avgpool2d_forward(const Tensor& x, const Pool2dAttrs& a, const Workspace* ws) {
  return mean_pool_forward(x, avg_geometry(x.shape(), a), ws);
}

Tensor avgpool2d_backward(const Tensor& g, const Shape& x_shape, const Pool2dAttrs& a, const Workspace* ws) {
  const Pool2dGeometry geo = avg_geometry(x_shape, a);
  check_output_shape(g, geo, "avgpool2d");
  return mean_pool_backward(g, geo, ws);
}

PoolRange adaptive_bin(int64_t i, int64_t in, int64_t out) {
  const int64_t begin = (i * in) / out;
  const int64_t end = ((i + 1) * in + out - 1) / out;
  return {begin, end, end - begin};
}

Tensor adaptive_avgpool2d_forward(const Tensor& x, int64_t out_h, int64_t out_w, const Workspace* ws) {
  return mean_pool_forward(x, adaptive_geometry(x.shape(), out_h, out_w), ws);
}

Tensor adaptive_avgpool2d_backward(const Tensor& g, const Shape& x_shape, const Workspace* ws) {
  BL_CHECK_SHAPE(g.dim() == 4, "adaptive_avgpool2d backward: expected gradient [N,C,OH,OW], got ", g.shape());
  const Pool2dGeometry geo = adaptive_geometry(x_shape, g.size(2), g.size(3));
  check_output_shape(g, geo, "adaptive_avgpool2d");
  return mean_pool_backward(g, geo, ws);
}

}  // namespace backlight::fn
