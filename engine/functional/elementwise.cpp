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

// An iteration space with adjacent dimensions merged wherever every operand continues
// contiguously (or stays broadcast) across them: [N,C,H,W] x [N,C,1,1] becomes [N*C, H*W] with
// inner strides 1 and 0, so the inner loop is long and its strides are one of a few known forms.
struct Collapsed {
  std::vector<int64_t> dims;
  std::vector<std::vector<int64_t>> strides;  // per operand
};

Collapsed collapse(const Shape& out, std::initializer_list<std::vector<int64_t>> operand_strides) {
  Collapsed c;
  for (int d = 0; d < out.rank(); ++d) {
    if (out[d] == 1) continue;  // size-1 dimensions move nothing
    c.dims.push_back(out[d]);
  }
  c.strides.reserve(operand_strides.size());
  for (const std::vector<int64_t>& st : operand_strides) {
    std::vector<int64_t> kept;
    for (int d = 0; d < out.rank(); ++d)
      if (out[d] != 1) kept.push_back(st[d]);
    c.strides.push_back(std::move(kept));
  }
  // Merge from the innermost dimension outwards: d-1 and d merge when, for every operand,
  // stride[d-1] == stride[d] * dims[d].
  for (int d = static_cast<int>(c.dims.size()) - 1; d >= 1; --d) {
    bool ok = true;
    for (const auto& st : c.strides) ok = ok && st[d - 1] == st[d] * c.dims[d];
    if (!ok) continue;
    c.dims[d - 1] *= c.dims[d];
    c.dims.erase(c.dims.begin() + d);
    for (auto& st : c.strides) {
      st[d - 1] = st[d];
      st.erase(st.begin() + d);
    }
  }
  if (c.dims.empty()) {
    c.dims.push_back(1);
    for (auto& st : c.strides) st.push_back(0);
  }
  return c;
}

// o[j] = f(a[j * sa], b[j * sb]) for j < n, with the common stride pairs spelled out so that the
// compiler vectorises them (a runtime stride blocks it).
template <class F>
inline void apply_row(float* o, const float* a, const float* b, int64_t n, int64_t sa, int64_t sb, F f) {
  if (sa == 1 && sb == 1)
    for (int64_t j = 0; j < n; ++j) o[j] = f(a[j], b[j]);
  else if (sa == 1 && sb == 0) {
    const float y = b[0];
    for (int64_t j = 0; j < n; ++j) o[j] = f(a[j], y);
  } else if (sa == 0 && sb == 1) {
    const float x = a[0];
    for (int64_t j = 0; j < n; ++j) o[j] = f(x, b[j]);
  } else
    for (int64_t j = 0; j < n; ++j) o[j] = f(a[j * sa], b[j * sb]);
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
  if (n == 0) return;
  const Collapsed c = collapse(os, {broadcast_strides(a.shape(), os), broadcast_strides(b.shape(), os)});
  const int r = static_cast<int>(c.dims.size());
  const std::vector<int64_t>& sa = c.strides[0];
  const std::vector<int64_t>& sb = c.strides[1];
  // The innermost dimension runs as a tight loop; outer indices are decoded per row.
  const int64_t inner = c.dims[r - 1];
  const int64_t rows = n / inner;
  parallel_for(rows, std::max<int64_t>(1, kGrain / inner), [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      int64_t rem = row, oa = 0, ob = 0;
      for (int d = r - 2; d >= 0; --d) {
        const int64_t idx = rem % c.dims[d];
        rem /= c.dims[d];
        oa += idx * sa[d];
        ob += idx * sb[d];
      }
      apply_row(po + row * inner, pa + oa, pb + ob, inner, sa[r - 1], sb[r - 1], f);
    }
  });
}

// Sum of n floats in double, eight independent partial sums (the order is fixed, so results do
// not depend on threads; one chain of dependent adds ran at a quarter of the load rate).
inline double row_sum(const float* p, int64_t n) {
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) s[k] += p[j + k];
  double t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; j < n; ++j) t += p[j];
  return t;
}

// row_sum of the float products a[j] * b[j] (each rounded to float first, as binary(Mul) stores
// them), same partial sums and order.
inline double row_dot(const float* a, const float* b, int64_t n) {
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= n; j += 8)
    for (int k = 0; k < 8; ++k) s[k] += static_cast<float>(a[j + k] * b[j + k]);
  double t = ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
  for (; j < n; ++j) t += static_cast<float>(a[j] * b[j]);
  return t;
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
  if (g.numel() == 0) return out;
  const Collapsed c = collapse(gs, {broadcast_strides(shape, gs)});
  const std::vector<int64_t>& so = c.strides[0];
  const int r = static_cast<int>(c.dims.size());
  const float* pg = g.data();
  float* po = out.data();
  const int64_t inner = c.dims[r - 1];
  const int64_t rows = g.numel() / inner;
  const int64_t io = so[r - 1];
  const auto target = [&](int64_t row) {
    int64_t rem = row, off = 0;
    for (int d = r - 2; d >= 0; --d) {
      off += (rem % c.dims[d]) * so[d];
      rem /= c.dims[d];
    }
    return off;
  };
  if (io == 0) {
    // Reductions along the inner dimension (a squeeze-excitation gate's gradient [N,C,H,W] ->
    // [N,C,1,1]): row sums in parallel, then added into their targets in row order.
    std::vector<double> sums(static_cast<size_t>(rows));
    parallel_for(rows, std::max<int64_t>(1, kGrain / inner), [&](int64_t lo, int64_t hi) {
      for (int64_t row = lo; row < hi; ++row) sums[row] = row_sum(pg + row * inner, inner);
    });
    for (int64_t row = 0; row < rows; ++row) po[target(row)] += static_cast<float>(sums[row]);
    return out;
  }
  // Sequential over rows: the target is small (a bias, a broadcast operand), and concurrent
  // rows would write the same target elements.
  for (int64_t row = 0; row < rows; ++row) {
    const float* src = pg + row * inner;
    float* dst = po + target(row);
    if (io == 1)
      for (int64_t j = 0; j < inner; ++j) dst[j] += src[j];
    else
      for (int64_t j = 0; j < inner; ++j) dst[j * io] += src[j];
  }
  return out;
}

Tensor mul_sum_to(const Tensor& a, const Tensor& b, const Shape& shape, const Workspace* ws) {
  const Shape& s = a.shape();
  // Fast path: equal operand shapes, target = leading dims of s followed by ones ([N,C,1,1] of
  // [N,C,H,W]), host tensors. Then sum_to's collapsed form is rows of `inner` contiguous
  // elements, each summed by row_sum into its own target element (io == 0 there).
  bool fast = b.shape() == s && shape.rank() == s.rank() && !(ws && ws->cuda_context()) && !a.is_cuda() &&
              !b.is_cuda() && shape != s && a.numel() > 0;
  int lead = 0;  // dims kept whole
  if (fast) {
    while (lead < s.rank() && shape[lead] == s[lead]) ++lead;
    for (int d = lead; d < s.rank(); ++d) fast = fast && shape[d] == 1;
  }
  if (!fast) return sum_to(binary(BinaryOp::Mul, a, b, ws), shape, ws);
  Tensor out = Tensor::empty(shape, ws);
  const int64_t rows = shape.numel(), inner = a.numel() / rows;
  const float* pa = a.data();
  const float* pb = b.data();
  float* po = out.data();
  parallel_for(rows, std::max<int64_t>(1, kGrain / std::max<int64_t>(inner, 1)), [&](int64_t lo, int64_t hi) {
    // sum_to starts from zeros and adds the float of the double row sum: 0.0f + x == x.
    for (int64_t row = lo; row < hi; ++row)
      po[row] = 0.0f + static_cast<float>(row_dot(pa + row * inner, pb + row * inner, inner));
  });
  return out;
}

}  // namespace backlight::fn
