#include "engine/modules/conv.h"

#include <cmath>

#include "engine/error.h"
#include "engine/modules/init.h"
#include "engine/ops/ops.h"

namespace backlight {

Conv2d::Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, std::mt19937_64& rng,
               Conv2dOptions options)
    : in_channels_(in_channels), out_channels_(out_channels), kernel_(kernel_size), options_(options) {
  const Conv2dOptions& o = options_;
  BL_CHECK(in_channels > 0 && out_channels > 0, "Conv2d: expected in_channels > 0 and out_channels > 0, got ",
           in_channels, " and ", out_channels);
  BL_CHECK(kernel_.h > 0 && kernel_.w > 0, "Conv2d: expected kernel_size > 0, got (", kernel_.h, ",", kernel_.w, ")");
  BL_CHECK(o.stride.h > 0 && o.stride.w > 0 && o.dilation.h > 0 && o.dilation.w > 0 && o.padding.h >= 0 &&
               o.padding.w >= 0,
           "Conv2d: expected stride > 0, dilation > 0, padding >= 0");
  BL_CHECK(o.groups > 0 && in_channels % o.groups == 0 && out_channels % o.groups == 0,
           "Conv2d: expected groups > 0 dividing in_channels (", in_channels, ") and out_channels (", out_channels,
           "), got ", o.groups);
  const int64_t fan_in = in_channels / o.groups * kernel_.h * kernel_.w;
  register_parameter("weight", init::kaiming_uniform({out_channels, in_channels / o.groups, kernel_.h, kernel_.w},
                                                     fan_in, std::sqrt(5.0f), rng));
  if (o.bias) register_parameter("bias", init::fan_in_bias({out_channels}, fan_in, rng));
}

Var Conv2d::forward(const Var& x) const {
  Tape& t = x.tape();
  const Conv2dOptions& o = options_;
  const Conv2dAttrs attrs{.stride_h = o.stride.h, .stride_w = o.stride.w, .pad_h = o.padding.h, .pad_w = o.padding.w,
                          .dilation_h = o.dilation.h, .dilation_w = o.dilation.w, .groups = o.groups};
  const Var w = param(t, "weight");  // leaves in a fixed order: weight, bias
  const Var b = param(t, "bias", /*optional=*/true);
  return conv2d(x, w, b, attrs, op_name());
}

}  // namespace backlight
