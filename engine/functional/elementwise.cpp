#include "engine/functional/elementwise.h"

#include <algorithm>

#include "engine/error.h"
#include "engine/functional/cuda_ops.h"
#include "engine/functional/dispatch.h"
#include "engine/parallel.h"

namespace backlight::fn {

namespace {
constexpr int64_t kGrain = 1 << 14;
}

void add_inplace(Tensor& acc, const Tensor& g) {
  BL_CHECK_SHAPE(acc.shape() == g.shape(), "add_inplace: shapes ", acc.shape(), " and ", g.shape(), " differ");
  BL_ON_CUDA("add_inplace", nullptr, acc, g) return cuda_ops::add_inplace(acc, g);
  float* a = acc.data();
  const float* b = g.data();
  parallel_for(acc.numel(), kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) a[i] += b[i];
  });
}

void add_into(Tensor& out, const Tensor& a, const Tensor& b) {
  BL_CHECK_SHAPE(a.shape() == b.shape() && out.numel() == a.numel(), "add_into: shapes ", a.shape(), " and ",
                 b.shape(), " differ");
  BL_ON_CUDA("add_into", nullptr, out, a, b) return cuda_ops::add_into(out, a, b);
  float* o = out.data();
  const float* x = a.data();
  const float* y = b.data();
  parallel_for(a.numel(), kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) o[i] = x[i] + y[i];
  });
}

Tensor scale(const Tensor& a, float s, const Workspace* ws) {
  BL_ON_CUDA("scale", ws, a) return cuda_ops::scale(a, s);
  Tensor out = Tensor::empty(a.shape(), ws);
  float* o = out.data();
  const float* x = a.data();
  parallel_for(a.numel(), kGrain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) o[i] = x[i] * s;
  });
  return out;
}

Shape broadcast_shape(const Shape& a, const Shape& b, const char* op) {
  const int r = std::max(a.rank(), b.rank());
  std::vector<int64_t> d(r);
  for (int i = 0; i < r; ++i) {
    const int ia = a.rank() - r + i, ib = b.rank() - r + i;
    const int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    BL_CHECK_SHAPE(da == db || da == 1 || db == 1, op, ": shapes ", a, " and ", b,
                   " cannot be broadcast (dimension ", i, ": ", da, " vs ", db, ")");
    d[i] = da == 1 ? db : da;
  }
  return Shape(d);
}

namespace {

// Element strides of `s` seen through broadcast shape `out` (0 where s is broadcast).
std::vector<int64_t> broadcast_strides(const Shape& s, const Shape& out) {
  const int r = out.rank();
  std::vector<int64_t> st(r, 0);
  for (int i = 0; i < r; ++i) {
    const int is = s.rank() - r + i;
    if (is >= 0 && s[is] != 1) st[i] = s.stride(is);
  }
  return st;
}

template <class F>
void broadcast_apply(const Tensor& a, const Tensor& b, Tensor& out, F f) {
  const Shape& os = out.shape();
  const int64_t n = out.numel();
  const float* pa = a.data();
  const float* pb = b.data();
  float* po = out.data();
  if (a.shape() == os && b.shape() == os) {
    parallel_for(n, kGrain, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) po[i] = f(pa[i], pb[i]);
    });
    return;
  }
  const int r = os.rank();
  const std::vector<int64_t> sa = broadcast_strides(a.shape(), os), sb = broadcast_strides(b.shape(), os);
  // The innermost dimension runs as a tight loop; outer indices are decoded per row.
  const int64_t inner = r ? os[r - 1] : 1;
  const int64_t rows = inner ? n / inner : 0;
  const int64_t ia_in = r ? sa[r - 1] : 0, ib_in = r ? sb[r - 1] : 0;
  parallel_for(rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(inner, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      int64_t rem = row, oa = 0, ob = 0;
      for (int d = r - 2; d >= 0; --d) {
        const int64_t idx = rem % os[d];
        rem /= os[d];
        oa += idx * sa[d];
        ob += idx * sb[d];
      }
      float* o = po + row * inner;
      for (int64_t j = 0; j < inner; ++j) o[j] = f(pa[oa + j * ia_in], pb[ob + j * ib_in]);
    }
  });
}

}  // namespace

Tensor binary(BinaryOp op, const Tensor& a, const Tensor& b, const Workspace* ws) {
  static constexpr const char* kNames[] = {"add", "sub", "mul", "div", "maximum", "minimum", "gate", "gate_not",
                                           "max_weight", "pow", "pow_grad_base", "pow_grad_exponent"};
  const char* name = kNames[static_cast<int>(op)];
  const Shape out_shape = broadcast_shape(a.shape(), b.shape(), name);
  BL_ON_CUDA(name, ws, a, b) return cuda_ops::binary(static_cast<int>(op), a, b, out_shape);
  Tensor out = Tensor::empty(out_shape, ws);
  switch (op) {
    case BinaryOp::Add: broadcast_apply(a, b, out, [](float x, float y) { return x + y; }); break;
    case BinaryOp::Sub: broadcast_apply(a, b, out, [](float x, float y) { return x - y; }); break;
    case BinaryOp::Mul: broadcast_apply(a, b, out, [](float x, float y) { return x * y; }); break;
    case BinaryOp::Div: broadcast_apply(a, b, out, [](float x, float y) { return x / y; }); break;
    case BinaryOp::Max:
    case BinaryOp::Min:
    case BinaryOp::Gate:
    case BinaryOp::GateNot:
    case BinaryOp::MaxWeight:
    case BinaryOp::Pow:
    case BinaryOp::PowGradBase:
    case BinaryOp::PowGradExponent:
      broadcast_apply(a, b, out, [op](float x, float y) { return maps::apply_binary(op, x, y); });
      break;
  }
  return out;
}

Tensor sum_to(const Tensor& g, const Shape& shape, const Workspace* ws) {
  if (g.shape() == shape) return g;
  const Shape& gs = g.shape();
  BL_CHECK_SHAPE(shape.rank() <= gs.rank(), "sum_to: cannot reduce ", gs, " to ", shape);
  BL_ON_CUDA("sum_to", ws, g) return cuda_ops::sum_to(g, shape);
  Tensor out = Tensor::zeros(shape, ws);
  const std::vector<int64_t> so = broadcast_strides(shape, gs);
  const int r = gs.rank();
  const float* pg = g.data();
  float* po = out.data();
  // Sequential over rows: the target is small (a bias, a broadcast operand), and concurrent
  // rows would write the same target elements.
  const int64_t inner = r ? gs[r - 1] : 1;
  const int64_t rows = inner ? g.numel() / inner : 0;
  const int64_t io = r ? so[r - 1] : 0;
  for (int64_t row = 0; row < rows; ++row) {
    int64_t rem = row, off = 0;
    for (int d = r - 2; d >= 0; --d) {
      off += (rem % gs[d]) * so[d];
      rem /= gs[d];
    }
    const float* src = pg + row * inner;
    if (io == 0) {
      double s = 0;
      for (int64_t j = 0; j < inner; ++j) s += src[j];
      po[off] += static_cast<float>(s);
    } else {
      for (int64_t j = 0; j < inner; ++j) po[off + j * io] += src[j];
    }
  }
  return out;
}

}  // namespace backlight::fn
