#pragma once
/// FeatureClassifier: the root module shared by VGG, AlexNet and the small CNNs:
///   features -> [avgpool] -> flatten(1) -> classifier
/// as torchvision's VGG/AlexNet forward (torch.flatten(x, 1) is functional there, recorded here as
/// a `reshape` node named "<path>.flatten", or "flatten" at the root).
#include <string>

#include "engine/module.h"

namespace backlight {

class FeatureClassifier : public ModuleImpl<FeatureClassifier> {
 public:
  /// `type_name`: the PyTorch class printed in listings ("VGG", "AlexNet", "MnistCNN").
  /// `avgpool` may be null (no pooling stage, as the small CNNs).
  FeatureClassifier(std::string type_name, ModulePtr features, ModulePtr avgpool, ModulePtr classifier);
  Var forward(const Var& x) const override;
  std::string type_name() const override { return type_name_; }

 private:
  std::string type_name_;
};

}  // namespace backlight
