// conv2d: geometry, path dispatch (paths in conv_gemm.cpp / conv_winograd.cpp / conv_depthwise.cpp),
// weight and bias gradients.
#include "engine/functional/conv.h"

#include <cstring>

#include "engine/eigen.h"
#include "engine/error.h"
#include "engine/finite.h"
#include "engine/functional/conv_paths.h"
#include "engine/functional/cuda_ops.h"
#include "engine/functional/dispatch.h"
#include "engine/parallel.h"

namespace backlight::fn {

namespace {

// Winograd F(2x2, 3x3) does 16 multiplies per 2x2 outputs and channel pair where the GEMM
// paths do 36, but it adds transforms per tile and channel (input, output) and per call
// (weights), and its 16 products are C deep and O rows tall (O deep, C tall for the input
// gradient), where the GEMM paths' are 9C deep. With few channels on either side the products
// are too small for the 6x16 kernel and the transforms dominate. Measured one thread, 224x224
// and 112x112 maps (bench_conv, winograd rows vs gemm rows): depth 3-4 runs 0.4-0.9x of the
// GEMM path, 8 1.1-1.4x, 16 1.3-1.8x; 3 rows with depth 64 (an RGB stem's input gradient) 0.5x
// of col2im. So both channel counts must be >= 16: every 3x3 stride-1 layer of ResNet-18 and
// VGG-16 except VGG's stem.
bool use_winograd(const ConvGeometry& g) { return conv_paths::winograd_applies(g) && g.c >= 16 && g.o >= 16; }

// Winograd's transforms add and subtract neighbouring inputs (and weights), so one Inf becomes
// Inf - Inf = NaN in outputs whose window never saw it, and 0 (padding) x Inf weight reaches
// outputs PyTorch leaves finite. With a non-finite operand the GEMM path runs instead; the scan
// reads the operands once (< 1% of the conv's multiply-adds at >= 16 output channels).
bool finite_operands(const Tensor& a, const Tensor& b) { return all_finite(a.span()) && all_finite(b.span()); }

}  // namespace

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

Tensor conv2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const Conv2dAttrs& a,
                      const Workspace* ws) {
  const ConvGeometry g = conv2d_geometry(x.shape(), w.shape(), a);
  if (bias.defined())
    BL_CHECK_SHAPE(bias.dim() == 1 && bias.size(0) == g.o, "conv2d: expected bias [", g.o, "], got ", bias.shape());
  BL_ON_CUDA("conv2d", ws, x, w, bias) return cuda_ops::conv2d_forward(x, w, bias, g);
  Tensor y = Tensor::empty(Shape{g.n, g.o, g.oh, g.ow}, ws);
  const float* b = bias.defined() ? bias.data() : nullptr;
  if (conv_paths::is_depthwise(g)) conv_paths::forward_depthwise(x.data(), w.data(), b, g, y.data());
  else if (use_winograd(g) && finite_operands(x, w)) conv_paths::forward_winograd(x.data(), w.data(), b, g, y.data(), ws);
  else conv_paths::forward_gemm(x.data(), w.data(), b, g, y.data(), ws);
  return y;
}

Tensor conv2d_backward_input(const Tensor& gy, const Tensor& w, const Shape& x_shape, const Conv2dAttrs& a,
                             const Workspace* ws) {
  const ConvGeometry g = conv2d_geometry(x_shape, w.shape(), a);
  BL_CHECK_SHAPE(gy.shape() == Shape({g.n, g.o, g.oh, g.ow}), "conv2d backward: expected gradient [", g.n, ",", g.o,
                 ",", g.oh, ",", g.ow, "], got ", gy.shape());
  BL_ON_CUDA("conv2d backward", ws, gy, w) return cuda_ops::conv2d_backward_input(gy, w, g);
  Tensor dx = Tensor::empty(x_shape, ws);
  if (conv_paths::is_depthwise(g)) conv_paths::backward_input_depthwise(gy.data(), w.data(), g, dx.data());
  else if (use_winograd(g) && finite_operands(gy, w)) conv_paths::backward_input_winograd(gy.data(), w.data(), g, dx.data(), ws);
  // Both GEMM paths do the same multiply-adds; their overheads differ: the flipped path builds
  // im2col rows from g (O/g * kH*kW rows), col2im scatters C/g * kH*kW rows into dx. With few
  // input channels (a stem conv on RGB) col2im moves far less memory.
  // The flipped path also multiplies the weights by the zero border of the padded gradient, so it
  // too needs finite weights (0 x Inf = NaN where PyTorch's col2im adds nothing).
  else if (conv_paths::flipped_backward_applies(g) && 2 * g.cg() >= g.og() && all_finite(w.span()))
    conv_paths::backward_input_flipped(gy.data(), w.data(), g, dx.data(), ws);
  else conv_paths::backward_input_col2im(gy.data(), w.data(), g, dx.data(), ws);
  return dx;
}

Tensor conv2d_backward_weight(const Tensor& gy, const Tensor& x, const Shape& w_shape, const Conv2dAttrs& a,
                              const Workspace* ws) {
  const ConvGeometry g = conv2d_geometry(x.shape(), w_shape, a);
  BL_CHECK_SHAPE(gy.shape() == Shape({g.n, g.o, g.oh, g.ow}), "conv2d backward: expected gradient [", g.n, ",", g.o,
                 ",", g.oh, ",", g.ow, "], got ", gy.shape());
  BL_ON_CUDA("conv2d backward", ws, gy, x) return cuda_ops::conv2d_backward_weight(gy, x, g);
  const int64_t ohw = g.oh * g.ow, K = g.k();
  const bool pointwise = conv_paths::is_pointwise(g);
  Tensor dw = Tensor::zeros(w_shape, ws);
  Tensor col = pointwise ? Tensor() : Tensor::empty(Shape{K, ohw}, ws);
  // Per image and group: dW_g += g_{n,g} col^T (Eigen threads the product; im2col rows in parallel).
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t gi = 0; gi < a.groups; ++gi) {
      const float* xg = x.data() + (n * g.c + gi * g.cg()) * g.h * g.w;
      const float* cp = xg;
      if (!pointwise) {
        parallel_for(K, 8, [&](int64_t lo, int64_t hi) {
          conv_paths::im2col_tile(xg, g, lo, hi, 0, ohw, col.data() + lo * ohw, ohw);
        });
        cp = col.data();
      }
      auto G = mat(gy.data() + (n * g.o + gi * g.og()) * ohw, g.og(), ohw);
      mat(dw.data() + gi * g.og() * K, g.og(), K).noalias() += G * mat(cp, K, ohw).transpose();
    }
  return dw;
}

Tensor conv2d_backward_bias(const Tensor& gy, const Workspace* ws) {
  BL_CHECK_SHAPE(gy.dim() == 4, "conv2d backward bias: expected gradient [N,O,OH,OW], got ", gy.shape());
  BL_ON_CUDA("conv2d backward bias", ws, gy) return cuda_ops::conv2d_backward_bias(gy);
  const int64_t n = gy.size(0), o = gy.size(1), hw = gy.size(2) * gy.size(3);
  Tensor db = Tensor::empty(Shape{o}, ws);
  const float* pg = gy.data();
  float* pd = db.data();
  parallel_for(o, 8, [&](int64_t lo, int64_t hi) {
    for (int64_t c = lo; c < hi; ++c) {
      double s = 0;
      for (int64_t i = 0; i < n; ++i) {
        const float* p = pg + (i * o + c) * hw;
        for (int64_t k = 0; k < hw; ++k) s += p[k];
      }
      pd[c] = static_cast<float>(s);
    }
  });
  return db;
}

}  // namespace backlight::fn
