#include "engine/functional/reduce.h"

#include <algorithm>
#include <array>
#include <limits>
#include <vector>
#include <string>

#include "engine/error.h"
#include "engine/functional/cuda_ops.h"
#include "engine/functional/dispatch.h"
#include "engine/parallel.h"

namespace backlight::fn {

namespace {

constexpr int64_t kGrain = 1 << 14;
// Output columns per task when the innermost dim is kept: wide blocks read long contiguous rows
// (2.5x faster than 256 on a 4096^2 column sum); the double accumulators stay within L1.
constexpr int64_t kCols = 2048;

// The input seen as alternating runs of kept and reduced dims: unit dims dropped, neighbours
// of the same kind merged (mean over H,W of [N,C,H,W] is [N*C | H*W]). Input is contiguous.
struct Layout {
  int n = 0;
  std::array<int64_t, Shape::kMaxDims> size{}, stride{};
  std::array<bool, Shape::kMaxDims> reduced{};
};

Layout layout_of(const Shape& s, uint32_t mask) {
  Layout l;
  for (int d = 0; d < s.rank(); ++d) {
    if (s[d] == 1) continue;
    const bool red = (mask >> d) & 1u;
    if (l.n > 0 && l.reduced[l.n - 1] == red) {
      l.size[l.n - 1] *= s[d];
    } else {
      l.size[l.n] = s[d];
      l.reduced[l.n] = red;
      ++l.n;
    }
  }
  int64_t st = 1;
  for (int d = l.n - 1; d >= 0; --d) {
    l.stride[d] = st;
    st *= l.size[d];
  }
  return l;
}

// A few dims walked by a linear index (row-major), giving the source offset.
struct Dims {
  int n = 0;
  std::array<int64_t, Shape::kMaxDims> size{}, stride{};
  int64_t count = 1;
  void add(int64_t sz, int64_t st) {
    size[n] = sz;
    stride[n] = st;
    ++n;
    count *= sz;
  }
  int64_t offset(int64_t i) const {
    int64_t off = 0;
    for (int d = n - 1; d >= 0; --d) {
      off += (i % size[d]) * stride[d];
      i /= size[d];
    }
    return off;
  }
};

// Independent double lanes break the add-latency chain (a single accumulator runs at one add
// per 4 cycles) while keeping double accuracy.
double sum_row(const float* p, int64_t n) {
  double lane[8] = {};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k) lane[k] += p[i + k];
  for (; i < n; ++i) lane[0] += p[i];
  return ((lane[0] + lane[1]) + (lane[2] + lane[3])) + ((lane[4] + lane[5]) + (lane[6] + lane[7]));
}

Tensor reduce(const Tensor& x, uint32_t mask, bool keepdim, double scale, const Workspace* ws) {
  Tensor y = Tensor::empty(reduced_shape(x.shape(), mask, keepdim), ws);
  if (y.numel() == 0) return y;
  const Layout l = layout_of(x.shape(), mask);
  const float* px = x.data();
  float* py = y.data();
  if (l.n == 0 || l.reduced[l.n - 1]) {
    // Innermost run reduced: one contiguous row sum (or several) per output element.
    Dims kept, outer;
    int64_t inner = 1;
    for (int d = 0; d < l.n; ++d) {
      if (!l.reduced[d]) kept.add(l.size[d], l.stride[d]);
      else if (d == l.n - 1) inner = l.size[d];
      else outer.add(l.size[d], l.stride[d]);
    }
    const int64_t per_out = std::max<int64_t>(1, inner * outer.count);
    parallel_for(kept.count, std::max<int64_t>(1, kGrain / per_out), [&](int64_t lo, int64_t hi) {
      for (int64_t e = lo; e < hi; ++e) {
        const float* base = px + kept.offset(e);
        double acc = 0;
        for (int64_t r = 0; r < outer.count; ++r) acc += sum_row(base + outer.offset(r), inner);
        py[e] = static_cast<float>(acc * scale);
      }
    });
    return y;
  }
  // Innermost run kept: add whole source rows into a block of double column accumulators.
  const int64_t inner = l.size[l.n - 1];
  Dims outer, red;
  for (int d = 0; d < l.n - 1; ++d) (l.reduced[d] ? red : outer).add(l.size[d], l.stride[d]);
  // Narrower blocks when there are too few outer rows to occupy every thread.
  const int64_t split = outer.count >= num_threads() ? 1 : num_threads();
  const int64_t cols = std::clamp<int64_t>((inner + split - 1) / split, 256, kCols);
  const int64_t blocks = (inner + cols - 1) / cols;
  parallel_for(outer.count * blocks, std::max<int64_t>(1, kGrain / std::max<int64_t>(1, cols * red.count)),
               [&](int64_t lo, int64_t hi) {
                 double acc[kCols];
                 for (int64_t w = lo; w < hi; ++w) {
                   const int64_t o = w / blocks, c0 = (w % blocks) * cols, nc = std::min(cols, inner - c0);
                   const float* base = px + outer.offset(o) + c0;
                   std::fill_n(acc, nc, 0.0);
                   for (int64_t r = 0; r < red.count; ++r) {
                     const float* row = base + red.offset(r);
                     for (int64_t c = 0; c < nc; ++c) acc[c] += row[c];
                   }
                   float* out = py + o * inner + c0;
                   for (int64_t c = 0; c < nc; ++c) out[c] = static_cast<float>(acc[c] * scale);
                 }
               });
  return y;
}

}  // namespace

uint32_t reduce_mask(const Shape& s, std::span<const int> axes, const char* op) {
  if (axes.empty()) return s.rank() == 0 ? 0u : (1u << s.rank()) - 1u;
  auto show = [&] {
    std::string t = "(";
    for (size_t i = 0; i < axes.size(); ++i) t += (i ? "," : "") + std::to_string(axes[i]);
    return t + ")";
  };
  uint32_t mask = 0;
  for (int ax : axes) {
    const int a = ax < 0 ? ax + s.rank() : ax;
    BL_CHECK_SHAPE(a >= 0 && a < s.rank(), op, ": axis ", ax, " out of range for shape ", s, " (rank ", s.rank(),
                   ")");
    BL_CHECK_SHAPE(!((mask >> a) & 1u), op, ": axis ", ax, " given twice in axes ", show(), " for shape ", s);
    mask |= 1u << a;
  }
  return mask;
}

Shape reduced_shape(const Shape& s, uint32_t mask, bool keepdim) {
  Shape out;
  for (int d = 0; d < s.rank(); ++d) {
    if (!((mask >> d) & 1u)) out.push_back(s[d]);
    else if (keepdim) out.push_back(1);
  }
  return out;
}

int64_t reduce_count(const Shape& s, uint32_t mask) {
  int64_t n = 1;
  for (int d = 0; d < s.rank(); ++d)
    if ((mask >> d) & 1u) n *= s[d];
  return n;
}

Tensor sum(const Tensor& x, uint32_t mask, bool keepdim, const Workspace* ws) {
  BL_ON_CUDA("sum", ws, x) return cuda_ops::reduce(x, mask, keepdim, 1.0f);
  return reduce(x, mask, keepdim, 1.0, ws);
}

Tensor mean(const Tensor& x, uint32_t mask, bool keepdim, const Workspace* ws) {
  BL_ON_CUDA("mean", ws, x)
    return cuda_ops::reduce(x, mask, keepdim, static_cast<float>(1.0 / static_cast<double>(reduce_count(x.shape(), mask))));
  // 1/0 = inf turns the empty sum 0 into NaN, PyTorch's mean of nothing.
  return reduce(x, mask, keepdim, 1.0 / static_cast<double>(reduce_count(x.shape(), mask)), ws);
}

Tensor reduce_backward(const Tensor& g, const Shape& x_shape, uint32_t mask, float scale, const Workspace* ws) {
  const Shape gs = reduced_shape(x_shape, mask, false);
  BL_CHECK_SHAPE(g.numel() == gs.numel(), "reduce_backward: expected a gradient of shape ", gs,
                 " (or with kept dims) for input ", x_shape, ", got ", g.shape());
  BL_ON_CUDA("reduce_backward", ws, g) return cuda_ops::reduce_backward(g, x_shape, mask, scale);
  Tensor dx = Tensor::empty(x_shape, ws);
  if (dx.numel() == 0) return dx;
  const Layout l = layout_of(x_shape, mask);
  const float* pg = g.data();
  float* pd = dx.data();
  if (l.n == 0) {
    pd[0] = pg[0] * scale;
    return dx;
  }
  // Strides of g along the runs: contiguous over kept runs, 0 along reduced ones.
  std::array<int64_t, Shape::kMaxDims> gst{};
  int64_t run = 1;
  for (int d = l.n - 1; d >= 0; --d) {
    gst[d] = l.reduced[d] ? 0 : run;
    if (!l.reduced[d]) run *= l.size[d];
  }
  const int64_t inner = l.size[l.n - 1], gin = gst[l.n - 1];
  parallel_for(dx.numel() / inner, std::max<int64_t>(1, kGrain / inner), [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      int64_t rem = row, off = 0;
      for (int d = l.n - 2; d >= 0; --d) {
        off += (rem % l.size[d]) * gst[d];
        rem /= l.size[d];
      }
      float* out = pd + row * inner;
      if (gin == 0) {
        std::fill_n(out, inner, pg[off] * scale);
      } else {
        for (int64_t j = 0; j < inner; ++j) out[j] = pg[off + j] * scale;
      }
    }
  });
  return dx;
}

namespace {

// Offset into the reduced (keepdim) tensor of every input element: the walk is sequential (amax
// is rare in classification graphs; a row-parallel version is not worth its code yet).
template <class F>
void for_each_reduced(const Shape& s, uint32_t mask, F f) {
  const int r = s.rank();
  std::array<int64_t, Shape::kMaxDims> out_stride{}, idx{};
  int64_t st = 1;
  for (int d = r - 1; d >= 0; --d) {
    out_stride[d] = ((mask >> d) & 1u) ? 0 : st;
    if (!((mask >> d) & 1u)) st *= s[d];
  }
  int64_t off = 0;
  for (int64_t i = 0, n = s.numel(); i < n; ++i) {
    f(i, off);
    for (int d = r - 1; d >= 0; --d) {  // increment the multi-index
      off += out_stride[d];
      if (++idx[d] < s[d]) break;
      off -= out_stride[d] * s[d];
      idx[d] = 0;
    }
  }
}

void check_cpu(const Tensor& t, const char* op) {
  BL_CHECK(!t.is_cuda(), op, ": runs on the CPU only (no CUDA kernel yet), got a cuda tensor ", t.shape(),
           "; run the model on the CPU (--device cpu)");
}

}  // namespace

Tensor amax(const Tensor& x, uint32_t mask, bool keepdim, const Workspace* ws) {
  check_cpu(x, "amax");
  BL_CHECK_SHAPE(x.numel() > 0 || mask == 0, "amax: cannot reduce an empty tensor ", x.shape());
  Tensor y = Tensor::full(reduced_shape(x.shape(), mask, keepdim), -std::numeric_limits<float>::infinity(), ws);
  const float* px = x.data();
  float* py = y.data();
  for_each_reduced(x.shape(), mask, [&](int64_t i, int64_t o) {
    const float v = px[i];
    if (v > py[o] || v != v) py[o] = py[o] != py[o] ? py[o] : v;  // the first NaN stays
  });
  return y;
}

Tensor amax_backward(const Tensor& g, const Tensor& x, const Tensor& y, uint32_t mask, const Workspace* ws) {
  check_cpu(g, "amax backward");
  BL_CHECK_SHAPE(g.numel() == y.numel(), "amax backward: gradient ", g.shape(), " does not match output ", y.shape());
  std::vector<float> count(static_cast<size_t>(y.numel()), 0.0f);
  const float *px = x.data(), *py = y.data(), *pg = g.data();
  for_each_reduced(x.shape(), mask, [&](int64_t i, int64_t o) { count[o] += px[i] == py[o] ? 1.0f : 0.0f; });
  Tensor out = Tensor::empty(x.shape(), ws);
  float* po = out.data();
  for_each_reduced(x.shape(), mask, [&](int64_t i, int64_t o) {
    po[i] = pg[o] / count[o] * (px[i] == py[o] ? 1.0f : 0.0f);
  });
  return out;
}

}  // namespace backlight::fn
