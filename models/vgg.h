#pragma once
/// VGG as torchvision.models.vgg* (Simonyan & Zisserman 2015), class "VGG":
///   features   per configuration entry: Conv2d(in, v, 3, padding 1) [+ BatchNorm2d(v)] + ReLU,
///              or MaxPool2d(2, 2) for 'M'; indices count every module, as torchvision's list
///   avgpool    AdaptiveAvgPool2d(7)
///   classifier 0 Linear(25088, 4096), 1 ReLU, 2 Dropout(0.5), 3 Linear(4096, 4096), 4 ReLU,
///              5 Dropout(0.5), 6 Linear(4096, num_classes)
/// Input [N, 3, H, W] with H, W >= 32 (224 by default; smaller inputs work through the adaptive
/// pooling, e.g. 32x32 gives a 1x1 map that is replicated to 7x7).
#include <cstdint>
#include <random>
#include <string_view>

#include "engine/module.h"

namespace backlight {

/// depth: 11, 13, 16 or 19 (torchvision configurations "A", "B", "D", "E"); batch_norm: the _bn
/// variants. Throws for another depth.
ModulePtr make_vgg(int depth, bool batch_norm, int64_t num_classes, std::mt19937_64& rng);

}  // namespace backlight
