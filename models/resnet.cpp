#include "models/resnet.h"

#include "engine/error.h"
#include "engine/modules/all.h"
#include "engine/ops/ops.h"
#include "models/op_path.h"

namespace backlight {

namespace {

ModulePtr conv(int64_t in, int64_t out, int k, int stride, std::mt19937_64& rng) {
  return std::make_shared<Conv2d>(in, out, k, rng, Conv2dOptions{.stride = stride, .padding = k / 2, .bias = false});
}

// torchvision: a 1x1 conv + bn on the identity path when the shape changes.
ModulePtr maybe_downsample(int64_t inplanes, int64_t outplanes, int stride, std::mt19937_64& rng) {
  if (stride == 1 && inplanes == outplanes) return nullptr;
  return std::make_shared<Sequential>(Sequential{conv(inplanes, outplanes, 1, stride, rng),
                                                 std::make_shared<BatchNorm2d>(outplanes)});
}

// The shared tail of both blocks: main + identity as the `add` node named by the block path,
// then the block's relu module again.
Var residual(const Module& block, const Var& x, const Var& main) {
  const Module* down = block.find("downsample");
  const Var identity = down ? down->forward(x) : x;
  return block.child("relu").forward(add(main, identity, block.path()));
}

}  // namespace

BasicBlock::BasicBlock(int64_t inplanes, int64_t planes, int stride, std::mt19937_64& rng) {
  register_module("conv1", conv(inplanes, planes, 3, stride, rng));
  register_module("bn1", std::make_shared<BatchNorm2d>(planes));
  register_module("relu", std::make_shared<ReLU>());
  register_module("conv2", conv(planes, planes, 3, 1, rng));
  register_module("bn2", std::make_shared<BatchNorm2d>(planes));
  if (auto d = maybe_downsample(inplanes, planes * kExpansion, stride, rng)) register_module("downsample", d);
}

Var BasicBlock::forward(const Var& x) const {
  const Module& relu = child("relu");
  Var h = relu.forward(child("bn1").forward(child("conv1").forward(x)));
  h = child("bn2").forward(child("conv2").forward(h));
  return residual(*this, x, h);
}

Bottleneck::Bottleneck(int64_t inplanes, int64_t planes, int stride, std::mt19937_64& rng) {
  register_module("conv1", conv(inplanes, planes, 1, 1, rng));
  register_module("bn1", std::make_shared<BatchNorm2d>(planes));
  register_module("conv2", conv(planes, planes, 3, stride, rng));
  register_module("bn2", std::make_shared<BatchNorm2d>(planes));
  register_module("conv3", conv(planes, planes * kExpansion, 1, 1, rng));
  register_module("bn3", std::make_shared<BatchNorm2d>(planes * kExpansion));
  register_module("relu", std::make_shared<ReLU>());
  if (auto d = maybe_downsample(inplanes, planes * kExpansion, stride, rng)) register_module("downsample", d);
}

Var Bottleneck::forward(const Var& x) const {
  const Module& relu = child("relu");
  Var h = relu.forward(child("bn1").forward(child("conv1").forward(x)));
  h = relu.forward(child("bn2").forward(child("conv2").forward(h)));
  h = child("bn3").forward(child("conv3").forward(h));
  return residual(*this, x, h);
}

ResNet::ResNet(bool bottleneck, std::array<int, 4> layers, int64_t num_classes, std::mt19937_64& rng) {
  const int64_t expansion = bottleneck ? Bottleneck::kExpansion : BasicBlock::kExpansion;
  register_module("conv1", conv(3, 64, 7, 2, rng));
  register_module("bn1", std::make_shared<BatchNorm2d>(64));
  register_module("relu", std::make_shared<ReLU>());
  register_module("maxpool", std::make_shared<MaxPool2d>(3, MaxPool2dOptions{.stride = 2, .padding = 1}));
  int64_t inplanes = 64;
  for (int stage = 0; stage < 4; ++stage) {
    BL_CHECK(layers[stage] > 0, "ResNet: expected at least one block per stage, got ", layers[stage], " in layer",
             stage + 1);
    const int64_t planes = int64_t{64} << stage;
    auto seq = std::make_shared<Sequential>();
    for (int b = 0; b < layers[stage]; ++b) {
      const int stride = (b == 0 && stage > 0) ? 2 : 1;
      if (bottleneck)
        seq->push_back(std::make_shared<Bottleneck>(inplanes, planes, stride, rng));
      else
        seq->push_back(std::make_shared<BasicBlock>(inplanes, planes, stride, rng));
      inplanes = planes * expansion;
    }
    register_module("layer" + std::to_string(stage + 1), seq);
  }
  register_module("avgpool", std::make_shared<AdaptiveAvgPool2d>(1));
  register_module("fc", std::make_shared<Linear>(512 * expansion, num_classes, rng));
}

Var ResNet::forward(const Var& x) const {
  BL_CHECK_SHAPE(x.shape().rank() == 4 && x.shape()[1] == 3, "ResNet: expected input [N,3,H,W], got ", x.shape());
  Var h = x;
  for (const char* stage : {"conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4", "avgpool"})
    h = child(stage).forward(h);
  return child("fc").forward(flatten(h, 1, -1, op_path(*this, "flatten")));
}

ModulePtr make_resnet(int depth, int64_t num_classes, std::mt19937_64& rng) {
  switch (depth) {
    case 18: return std::make_shared<ResNet>(false, std::array<int, 4>{2, 2, 2, 2}, num_classes, rng);
    case 34: return std::make_shared<ResNet>(false, std::array<int, 4>{3, 4, 6, 3}, num_classes, rng);
    case 50: return std::make_shared<ResNet>(true, std::array<int, 4>{3, 4, 6, 3}, num_classes, rng);
    default: BL_THROW("make_resnet: expected depth 18, 34 or 50, got ", depth);
  }
}

}  // namespace backlight
