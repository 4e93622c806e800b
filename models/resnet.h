#pragma once
/// ResNet as torchvision.models.resnet* (He et al. 2016; Bottleneck with the stride on the 3x3
/// conv, "ResNet v1.5"), with torchvision's module names:
///   conv1 (7x7, stride 2, no bias), bn1, relu, maxpool (3, stride 2, padding 1),
///   layer1..layer4 (Sequential of blocks "0", "1", ...), avgpool (AdaptiveAvgPool2d(1)), fc.
/// Input [N, 3, H, W], any H, W >= 32 (224 by default).
///
/// Tape nodes of a block at path P (e.g. "layer1.0"): P.conv1, P.bn1, P.relu, P.conv2, P.bn2,
/// [P.relu, P.conv3, P.bn3], [P.downsample.0, P.downsample.1], then the residual sum as one `add`
/// node named P (inputs: the main branch, then the identity/downsample), then the final P.relu
/// (the block's `relu` module reused, as torchvision). The flatten before fc is a `reshape` node
/// named "flatten".
#include <array>
#include <cstdint>
#include <random>

#include "engine/module.h"

namespace backlight {

/// conv3x3 -> bn -> relu -> conv3x3 -> bn, + identity (or downsample), relu. Children: conv1, bn1,
/// relu, conv2, bn2, downsample (Sequential 0: conv1x1, 1: bn; only when stride != 1 or the
/// channel count changes). expansion 1.
class BasicBlock : public ModuleImpl<BasicBlock> {
 public:
  BasicBlock(int64_t inplanes, int64_t planes, int stride, std::mt19937_64& rng);
  Var forward(const Var& x) const override;
  std::string type_name() const override { return "BasicBlock"; }
  static constexpr int64_t kExpansion = 1;
};

/// conv1x1 -> bn -> relu -> conv3x3 (stride) -> bn -> relu -> conv1x1 (x4) -> bn, + identity,
/// relu. Children: conv1, bn1, conv2, bn2, conv3, bn3, relu, downsample (as torchvision).
class Bottleneck : public ModuleImpl<Bottleneck> {
 public:
  Bottleneck(int64_t inplanes, int64_t planes, int stride, std::mt19937_64& rng);
  Var forward(const Var& x) const override;
  std::string type_name() const override { return "Bottleneck"; }
  static constexpr int64_t kExpansion = 4;
};

/// The root: stem, four stages, pooling, fc.
class ResNet : public ModuleImpl<ResNet> {
 public:
  /// `layers`: blocks per stage ({2,2,2,2} resnet18, {3,4,6,3} resnet34/50).
  ResNet(bool bottleneck, std::array<int, 4> layers, int64_t num_classes, std::mt19937_64& rng);
  Var forward(const Var& x) const override;
  std::string type_name() const override { return "ResNet"; }
};

/// depth 18, 34 or 50 (torchvision's resnet18/34/50); throws for another depth.
ModulePtr make_resnet(int depth, int64_t num_classes, std::mt19937_64& rng);

}  // namespace backlight
