// conv_transpose2d on tensors: the input-gradient of conv2d (so it runs wherever conv2d's
// backward runs, cuDNN included), plus the bias.
#include "engine/error.h"
#include "engine/functional/conv.h"
#include "engine/functional/elementwise.h"

namespace backlight::fn {

namespace {

Shape transposed_output(const Tensor& x, const Tensor& w, const ConvTranspose2dAttrs& a) {
  BL_CHECK_SHAPE(x.dim() == 4 && w.dim() == 4 && x.size(1) == w.size(0), "conv_transpose2d: expected input [N,C,H,W] "
                 "and weight [C,O/groups,kH,kW] with the same C, got ", x.shape(), " and ", w.shape());
  const Conv2dAttrs& c = a.conv;
  BL_CHECK(c.groups >= 1 && x.size(1) % c.groups == 0, "conv_transpose2d: groups ", c.groups, " must divide ",
           x.size(1), " input channels");
  BL_CHECK(a.output_pad_h >= 0 && a.output_pad_w >= 0 &&
               (a.output_pad_h < c.stride_h || a.output_pad_h < c.dilation_h) &&
               (a.output_pad_w < c.stride_w || a.output_pad_w < c.dilation_w),
           "conv_transpose2d: output padding (", a.output_pad_h, ", ", a.output_pad_w,
           ") must be smaller than stride or dilation");
  const int64_t oh = (x.size(2) - 1) * c.stride_h - 2 * c.pad_h + c.dilation_h * (w.size(2) - 1) + a.output_pad_h + 1;
  const int64_t ow = (x.size(3) - 1) * c.stride_w - 2 * c.pad_w + c.dilation_w * (w.size(3) - 1) + a.output_pad_w + 1;
  BL_CHECK_SHAPE(oh > 0 && ow > 0, "conv_transpose2d: output would be ", oh, "x", ow, " for input ", x.shape());
  return Shape{x.size(0), w.size(1) * c.groups, oh, ow};
}

}  // namespace

Tensor conv_transpose2d_forward(const Tensor& x, const Tensor& w, const Tensor& bias, const ConvTranspose2dAttrs& a,
                                const Workspace* ws) {
  // The input-gradient of the conv2d that maps the output shape back to x's.
  Tensor y = conv2d_backward_input(x, w, transposed_output(x, w, a), a.conv, ws);
  if (!bias.defined()) return y;
  BL_CHECK_SHAPE(bias.numel() == y.size(1), "conv_transpose2d: bias of ", bias.numel(), " elements for ", y.size(1),
                 " output channels");
  return binary(BinaryOp::Add, y, bias.reshape(Shape{1, y.size(1), 1, 1}), ws);
}

}  // namespace backlight::fn
