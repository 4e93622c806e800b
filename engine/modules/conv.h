#pragma once
/// nn.Conv2d.
#include <random>

#include "engine/module.h"
#include "engine/modules/size2.h"

namespace backlight {

/// Conv2d's keyword arguments, PyTorch defaults (padding_mode "zeros" only).
struct Conv2dOptions {
  Size2 stride = 1;
  Size2 padding = 0;
  Size2 dilation = 1;
  int groups = 1;
  bool bias = true;
};

/// x[N, in, H, W] -> [N, out, OH, OW] as one `conv2d` tape node named by the module path.
/// Parameters: weight [out, in/groups, kH, kW], bias [out] (optional). Init as PyTorch:
/// weight and bias U(+-1/sqrt(fan_in)), fan_in = in/groups * kH * kW.
class Conv2d : public ModuleImpl<Conv2d> {
 public:
  Conv2d(int64_t in_channels, int64_t out_channels, Size2 kernel_size, std::mt19937_64& rng,
         Conv2dOptions options = {});
  Var forward(const Var& x) const override;
  std::string type_name() const override { return "Conv2d"; }
  int64_t in_channels() const { return in_channels_; }
  int64_t out_channels() const { return out_channels_; }
  Size2 kernel_size() const { return kernel_; }
  const Conv2dOptions& options() const { return options_; }

 private:
  int64_t in_channels_, out_channels_;
  Size2 kernel_;
  Conv2dOptions options_;
};

}  // namespace backlight
