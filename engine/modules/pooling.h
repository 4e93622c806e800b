#pragma once
/// nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d: one pooling tape node each, named by the
/// module path. Input [N, C, H, W]. No parameters.
#include "engine/module.h"
#include "engine/modules/size2.h"

namespace backlight {

/// MaxPool2d's keyword arguments; stride 0 means "= kernel_size" (PyTorch's stride=None).
struct MaxPool2dOptions {
  Size2 stride = 0;
  Size2 padding = 0;
  Size2 dilation = 1;
  bool ceil_mode = false;
};

class MaxPool2d : public ModuleImpl<MaxPool2d> {
 public:
  explicit MaxPool2d(Size2 kernel_size, MaxPool2dOptions options = {});
  Var forward(const Var& x) const override;
  std::string type_name() const override { return "MaxPool2d"; }
  const Pool2dAttrs& attrs() const { return attrs_; }

 private:
  Pool2dAttrs attrs_;
};

/// AvgPool2d's keyword arguments; stride 0 means "= kernel_size".
struct AvgPool2dOptions {
  Size2 stride = 0;
  Size2 padding = 0;
  bool ceil_mode = false;
  bool count_include_pad = true;
};

class AvgPool2d : public ModuleImpl<AvgPool2d> {
 public:
  explicit AvgPool2d(Size2 kernel_size, AvgPool2dOptions options = {});
  Var forward(const Var& x) const override;
  std::string type_name() const override { return "AvgPool2d"; }
  const Pool2dAttrs& attrs() const { return attrs_; }

 private:
  Pool2dAttrs attrs_;
};

/// [N, C, H, W] -> [N, C, out_h, out_w] with PyTorch's adaptive bins.
class AdaptiveAvgPool2d : public ModuleImpl<AdaptiveAvgPool2d> {
 public:
  explicit AdaptiveAvgPool2d(Size2 output_size);
  Var forward(const Var& x) const override;
  std::string type_name() const override { return "AdaptiveAvgPool2d"; }
  Size2 output_size() const { return output_size_; }

 private:
  Size2 output_size_;
};

}  // namespace backlight
