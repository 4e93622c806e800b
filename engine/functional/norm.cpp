#include "engine/functional/norm.h"

#include <cmath>
#include <vector>

#include "engine/eigen.h"
#include "engine/error.h"
#include "engine/functional/cuda_ops.h"
#include "engine/functional/dispatch.h"
#include "engine/functional/elementwise.h"
#include "engine/parallel.h"

namespace backlight::fn {

namespace {

constexpr int64_t kGrain = 1 << 14;  // elements per task, so tiny planes/rows are batched

using Arr = Eigen::Map<Eigen::ArrayXf>;
using ConstArr = Eigen::Map<const Eigen::ArrayXf>;

Shape trailing_shape(const Shape& x, int normalized_dims) {
  return Shape(x.dims().subspan(x.rank() - normalized_dims));
}

struct Planes {
  int64_t n, c, inner;  // x viewed as [N, C, inner]
};

Planes planes_of(const Shape& x) { return {x[0], x[1], x.numel_range(2, x.rank())}; }

}  // namespace

// --- batch norm ---------------------------------------------------------------------------------

void batchnorm_check(const Shape& x, const Shape& weight, const Shape& bias, const Shape& mean, const Shape& var) {
  BL_CHECK_SHAPE(x.rank() >= 2 && x.rank() <= 4, "batchnorm: expected input [N,C], [N,C,L] or [N,C,H,W], got ", x);
  const Shape c{x[1]};
  const std::pair<const char*, const Shape*> params[] = {
      {"weight", &weight}, {"bias", &bias}, {"running_mean", &mean}, {"running_var", &var}};
  for (const auto& [what, s] : params)
    BL_CHECK_SHAPE(*s == c, "batchnorm: expected ", what, " ", c, " for input ", x, ", got ", *s);
}

ChannelAffine batchnorm_affine(const Tensor& weight, const Tensor& bias, const Tensor& mean, const Tensor& var,
                               float eps, const Workspace* ws) {
  BL_ON_CUDA("batchnorm", ws, weight, bias, mean, var) return cuda_ops::batchnorm_affine(weight, bias, mean, var, eps);
  const int64_t c = weight.numel();
  ChannelAffine a{Tensor::empty(Shape{c}, ws), Tensor::empty(Shape{c}, ws)};
  for (int64_t i = 0; i < c; ++i) {
    const float s = weight.data()[i] / std::sqrt(var.data()[i] + eps);
    a.scale.data()[i] = s;
    a.shift.data()[i] = bias.data()[i] - mean.data()[i] * s;
  }
  return a;
}

Tensor batchnorm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, const Tensor& mean,
                         const Tensor& var, float eps, const Workspace* ws) {
  batchnorm_check(x.shape(), weight.shape(), bias.shape(), mean.shape(), var.shape());
  const ChannelAffine a = batchnorm_affine(weight, bias, mean, var, eps, ws);
  BL_ON_CUDA("batchnorm", ws, x, a.scale) return cuda_ops::channel_affine(x, a.scale, a.shift);
  const Planes P = planes_of(x.shape());
  Tensor y = Tensor::empty(x.shape(), ws);
  const float* px = x.data();
  const float* ps = a.scale.data();
  const float* pt = a.shift.data();
  float* py = y.data();
  parallel_for(P.n * P.c, std::max<int64_t>(1, kGrain / std::max<int64_t>(P.inner, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      const float s = ps[p % P.c], t = pt[p % P.c];
      const float* xi = px + p * P.inner;
      float* yi = py + p * P.inner;
      for (int64_t i = 0; i < P.inner; ++i) yi[i] = xi[i] * s + t;
    }
  });
  return y;
}

Tensor batchnorm_backward_input(const Tensor& g, const Tensor& weight, const Tensor& var, float eps,
                                const Workspace* ws) {
  BL_CHECK_SHAPE(g.dim() >= 2 && g.dim() <= 4 && weight.shape() == Shape{g.size(1)} && var.shape() == weight.shape(),
                 "batchnorm backward: expected gradient [N,C,...] with C = ", weight.numel(), ", got ", g.shape());
  BL_ON_CUDA("batchnorm backward", ws, g, weight, var) return cuda_ops::batchnorm_backward_input(g, weight, var, eps);
  const Planes P = planes_of(g.shape());
  std::vector<float> scale(P.c);
  for (int64_t c = 0; c < P.c; ++c) scale[c] = weight.data()[c] / std::sqrt(var.data()[c] + eps);
  Tensor dx = Tensor::empty(g.shape(), ws);
  const float* pg = g.data();
  float* pd = dx.data();
  parallel_for(P.n * P.c, std::max<int64_t>(1, kGrain / std::max<int64_t>(P.inner, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t p = lo; p < hi; ++p) {
      const float s = scale[p % P.c];
      const float* gi = pg + p * P.inner;
      float* di = pd + p * P.inner;
      for (int64_t i = 0; i < P.inner; ++i) di[i] = gi[i] * s;
    }
  });
  return dx;
}

BatchNormParamGrads batchnorm_backward_params(const Tensor& g, const Tensor& x, const Tensor& weight,
                                              const Tensor& mean, const Tensor& var, float eps, const Workspace* ws) {
  batchnorm_check(x.shape(), weight.shape(), weight.shape(), mean.shape(), var.shape());
  BL_CHECK_SHAPE(g.shape() == x.shape(), "batchnorm backward: expected gradient ", x.shape(), ", got ", g.shape());
  BL_ON_CUDA("batchnorm backward", ws, g, x, weight, mean, var)
    return cuda_ops::batchnorm_backward_params(g, x, weight, mean, var, eps);
  const Planes P = planes_of(x.shape());
  const Shape cs{P.c};
  BatchNormParamGrads r{Tensor::empty(cs, ws), Tensor::empty(cs, ws), Tensor::empty(cs, ws), Tensor::empty(cs, ws)};
  const float* pg = g.data();
  const float* px = x.data();
  parallel_for(P.c, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) {
      const float mu = mean.data()[c];
      double sg = 0, sgx = 0;  // sum g, sum g * (x - mean)
      for (int64_t n = 0; n < P.n; ++n) {
        const float* gi = pg + (n * P.c + c) * P.inner;
        const float* xi = px + (n * P.c + c) * P.inner;
        for (int64_t i = 0; i < P.inner; ++i) {
          sg += gi[i];
          sgx += static_cast<double>(gi[i]) * (xi[i] - mu);
        }
      }
      const double rstd = 1.0 / std::sqrt(static_cast<double>(var.data()[c]) + eps);
      const double w = weight.data()[c];
      r.weight.data()[c] = static_cast<float>(sgx * rstd);
      r.bias.data()[c] = static_cast<float>(sg);
      r.mean.data()[c] = static_cast<float>(-sg * w * rstd);
      r.var.data()[c] = static_cast<float>(-0.5 * w * rstd * rstd * rstd * sgx);
    }
  });
  return r;
}

// --- layer norm ---------------------------------------------------------------------------------

void layernorm_check(const Shape& x, const Tensor& weight, const Tensor& bias, int normalized_dims) {
  BL_CHECK_SHAPE(normalized_dims >= 1 && normalized_dims <= x.rank(), "layernorm: expected normalized_dims in [1, ",
                 x.rank(), "] for input ", x, ", got ", normalized_dims);
  const Shape t = trailing_shape(x, normalized_dims);
  if (weight.defined())
    BL_CHECK_SHAPE(weight.shape() == t, "layernorm: expected weight ", t, " (the trailing ", normalized_dims,
                   " dims of input ", x, "), got ", weight.shape());
  if (bias.defined())
    BL_CHECK_SHAPE(bias.shape() == t, "layernorm: expected bias ", t, " (the trailing ", normalized_dims,
                   " dims of input ", x, "), got ", bias.shape());
}

LayerNormResult layernorm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, int normalized_dims,
                                  float eps, const Workspace* ws) {
  layernorm_check(x.shape(), weight, bias, normalized_dims);
  const int64_t d = trailing_shape(x.shape(), normalized_dims).numel();
  BL_ON_CUDA("layernorm", ws, x, weight, bias) return cuda_ops::layernorm_forward(x, weight, bias, d, eps);
  const int64_t m = d > 0 ? x.numel() / d : 0;
  LayerNormResult r{Tensor::empty(x.shape(), ws), Tensor::empty(Shape{m}, ws), Tensor::empty(Shape{m}, ws)};
  const float* px = x.data();
  float* py = r.y.data();
  parallel_for(m, std::max<int64_t>(1, kGrain / std::max<int64_t>(d, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      const ConstArr xr(px + row * d, d);
      Arr yr(py + row * d, d);
      // Two passes: one-pass E[x^2] - E[x]^2 cancels badly for rows with a large mean.
      const float mu = xr.mean();
      const float rstd = 1.0f / std::sqrt((xr - mu).square().mean() + eps);
      r.mean.data()[row] = mu;
      r.rstd.data()[row] = rstd;
      yr = (xr - mu) * rstd;
      if (weight.defined()) yr *= ConstArr(weight.data(), d);
      if (bias.defined()) yr += ConstArr(bias.data(), d);
    }
  });
  return r;
}

Tensor layernorm_backward_input(const Tensor& g, const Tensor& x, const Tensor& weight, const Tensor& mean,
                                const Tensor& rstd, int normalized_dims, const Workspace* ws) {
  layernorm_check(x.shape(), weight, Tensor(), normalized_dims);
  BL_CHECK_SHAPE(g.shape() == x.shape(), "layernorm backward: expected gradient ", x.shape(), ", got ", g.shape());
  const int64_t d = trailing_shape(x.shape(), normalized_dims).numel();
  const int64_t m = d > 0 ? x.numel() / d : 0;
  BL_CHECK_SHAPE(mean.numel() == m && rstd.numel() == m, "layernorm backward: expected row statistics [", m,
                 "], got ", mean.shape(), " and ", rstd.shape());
  BL_ON_CUDA("layernorm backward", ws, g, x, weight, mean, rstd)
    return cuda_ops::layernorm_backward_input(g, x, weight, mean, rstd, d);
  Tensor dx = Tensor::empty(x.shape(), ws);
  const float* pg = g.data();
  const float* px = x.data();
  float* pd = dx.data();
  parallel_for(m, std::max<int64_t>(1, kGrain / std::max<int64_t>(d, 1)), [&](int64_t lo, int64_t hi) {
    for (int64_t row = lo; row < hi; ++row) {
      const ConstArr xr(px + row * d, d);
      Arr dr(pd + row * d, d);
      const float mu = mean.data()[row], rs = rstd.data()[row];
      // dr holds g * weight first, then the result.
      dr = ConstArr(pg + row * d, d);
      if (weight.defined()) dr *= ConstArr(weight.data(), d);
      const float a = dr.mean();
      const float b = (dr * ((xr - mu) * rs)).mean();
      dr = rs * (dr - a - (xr - mu) * (rs * b));
    }
  });
  return dx;
}

LayerNormParamGrads layernorm_backward_params(const Tensor& g, const Tensor& x, const Tensor& mean,
                                              const Tensor& rstd, int normalized_dims, const Workspace* ws) {
  layernorm_check(x.shape(), Tensor(), Tensor(), normalized_dims);
  BL_CHECK_SHAPE(g.shape() == x.shape(), "layernorm backward: expected gradient ", x.shape(), ", got ", g.shape());
  const Shape t = trailing_shape(x.shape(), normalized_dims);
  const int64_t d = t.numel();
  BL_ON_CUDA("layernorm backward", ws, g, x, mean, rstd) return cuda_ops::layernorm_backward_params(g, x, mean, rstd, t);
  const int64_t m = d > 0 ? x.numel() / d : 0;
  LayerNormParamGrads r{Tensor::zeros(t, ws), Tensor::zeros(t, ws)};
  const float* pg = g.data();
  const float* px = x.data();
  // Parallel over columns: every task owns a slice of the [D] results and reads its slice of
  // each row, so no partial sums need merging.
  parallel_for(d, 256, [&](int64_t lo, int64_t hi) {
    Arr sw(r.weight.data() + lo, hi - lo), sb(r.bias.data() + lo, hi - lo);
    for (int64_t row = 0; row < m; ++row) {
      const ConstArr gr(pg + row * d + lo, hi - lo), xr(px + row * d + lo, hi - lo);
      sw += gr * ((xr - mean.data()[row]) * rstd.data()[row]);
      sb += gr;
    }
  });
  return r;
}

// --- group norm ---------------------------------------------------------------------------------

namespace {

// [C, 1, ..., 1]: broadcasts a per-channel vector against [N, C, ...].
Shape channel_shape(const Shape& x) {
  std::vector<int64_t> d(static_cast<size_t>(x.rank() - 1), 1);
  d[0] = x[1];
  return Shape(d);
}

// x viewed as [N, groups, C / groups * positions]: one layer-norm row per (image, group).
Shape group_rows(const Shape& x, int64_t groups) {
  return Shape{x[0], groups, x.numel_range(1, x.rank()) / groups};
}

}  // namespace

void group_norm_check(const Shape& x, const Tensor& weight, const Tensor& bias, int64_t groups) {
  BL_CHECK_SHAPE(x.rank() >= 2, "group_norm: expected input [N, C, ...], got ", x);
  BL_CHECK_SHAPE(groups >= 1 && x[1] % groups == 0, "group_norm: ", groups, " groups do not divide the ", x[1],
                 " channels of input ", x);
  const Shape c{x[1]};
  if (weight.defined())
    BL_CHECK_SHAPE(weight.shape() == c, "group_norm: expected weight ", c, " for input ", x, ", got ", weight.shape());
  if (bias.defined())
    BL_CHECK_SHAPE(bias.shape() == c, "group_norm: expected bias ", c, " for input ", x, ", got ", bias.shape());
}

GroupNormResult group_norm_forward(const Tensor& x, const Tensor& weight, const Tensor& bias, int64_t groups,
                                   float eps, const Workspace* ws) {
  group_norm_check(x.shape(), weight, bias, groups);
  LayerNormResult r = layernorm_forward(x.reshape(group_rows(x.shape(), groups)), Tensor(), Tensor(), 1, eps, ws);
  GroupNormResult out{Tensor(), r.y.reshape(x.shape()), std::move(r.mean), std::move(r.rstd)};
  out.y = out.xhat;
  const Shape cs = channel_shape(x.shape());
  if (weight.defined()) out.y = binary(BinaryOp::Mul, out.y, weight.reshape(cs), ws);
  if (bias.defined()) out.y = binary(BinaryOp::Add, out.y, bias.reshape(cs), ws);
  return out;
}

Tensor group_norm_backward_input(const Tensor& g, const Tensor& x, const Tensor& weight, const Tensor& mean,
                                 const Tensor& rstd, int64_t groups, const Workspace* ws) {
  group_norm_check(x.shape(), weight, Tensor(), groups);
  BL_CHECK_SHAPE(g.shape() == x.shape(), "group_norm backward: expected gradient ", x.shape(), ", got ", g.shape());
  const Tensor gw = weight.defined() ? binary(BinaryOp::Mul, g, weight.reshape(channel_shape(x.shape())), ws) : g;
  const Shape rows = group_rows(x.shape(), groups);
  return layernorm_backward_input(gw.reshape(rows), x.reshape(rows), Tensor(), mean, rstd, 1, ws).reshape(x.shape());
}

GroupNormParamGrads group_norm_backward_params(const Tensor& g, const Tensor& xhat, const Workspace* ws) {
  BL_CHECK_SHAPE(g.shape() == xhat.shape() && g.dim() >= 2, "group_norm backward: expected gradient ", xhat.shape(),
                 ", got ", g.shape());
  const Shape cs = channel_shape(g.shape()), c{g.size(1)};
  return {sum_to(binary(BinaryOp::Mul, g, xhat, ws), cs, ws).reshape(c), sum_to(g, cs, ws).reshape(c)};
}

}  // namespace backlight::fn
