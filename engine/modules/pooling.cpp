#include "engine/modules/pooling.h"

#include "engine/error.h"
#include "engine/ops/ops.h"

namespace backlight {

namespace {
Pool2dAttrs pool_attrs(const char* who, Size2 kernel, Size2 stride, Size2 padding, Size2 dilation, bool ceil_mode,
                       bool count_include_pad) {
  if (stride == Size2(0)) stride = kernel;
  BL_CHECK(kernel.h > 0 && kernel.w > 0, who, ": expected kernel_size > 0, got (", kernel.h, ",", kernel.w, ")");
  BL_CHECK(stride.h > 0 && stride.w > 0, who, ": expected stride > 0, got (", stride.h, ",", stride.w, ")");
  BL_CHECK(dilation.h > 0 && dilation.w > 0, who, ": expected dilation > 0, got (", dilation.h, ",", dilation.w, ")");
  // PyTorch: "pad should be at most half of kernel size".
  BL_CHECK(padding.h >= 0 && padding.w >= 0 && 2 * padding.h <= kernel.h && 2 * padding.w <= kernel.w, who,
           ": expected 0 <= padding <= kernel_size/2, got padding (", padding.h, ",", padding.w, ") for kernel (",
           kernel.h, ",", kernel.w, ")");
  return Pool2dAttrs{.kernel_h = kernel.h, .kernel_w = kernel.w, .stride_h = stride.h, .stride_w = stride.w,
                     .pad_h = padding.h, .pad_w = padding.w, .dilation_h = dilation.h, .dilation_w = dilation.w,
                     .ceil_mode = ceil_mode, .count_include_pad = count_include_pad};
}
}  // namespace

MaxPool2d::MaxPool2d(Size2 kernel_size, MaxPool2dOptions o)
    : attrs_(pool_attrs("MaxPool2d", kernel_size, o.stride, o.padding, o.dilation, o.ceil_mode, true)) {}
Var MaxPool2d::forward(const Var& x) const { return maxpool2d(x, attrs_, op_name()); }

AvgPool2d::AvgPool2d(Size2 kernel_size, AvgPool2dOptions o)
    : attrs_(pool_attrs("AvgPool2d", kernel_size, o.stride, o.padding, 1, o.ceil_mode, o.count_include_pad)) {}
Var AvgPool2d::forward(const Var& x) const { return avgpool2d(x, attrs_, op_name()); }

AdaptiveAvgPool2d::AdaptiveAvgPool2d(Size2 output_size) : output_size_(output_size) {
  BL_CHECK(output_size.h > 0 && output_size.w > 0, "AdaptiveAvgPool2d: expected output_size > 0, got (",
           output_size.h, ",", output_size.w, ")");
}
Var AdaptiveAvgPool2d::forward(const Var& x) const {
  return adaptive_avgpool2d(x, output_size_.h, output_size_.w, op_name());
}

}  // namespace backlight
