#pragma once
/// AlexNet as torchvision.models.alexnet (Krizhevsky et al. 2012, the one-GPU variant of
/// Krizhevsky 2014), class "AlexNet":
///   features   0 Conv2d(3, 64, 11, stride 4, padding 2), 1 ReLU, 2 MaxPool2d(3, 2),
///              3 Conv2d(64, 192, 5, padding 2), 4 ReLU, 5 MaxPool2d(3, 2),
///              6 Conv2d(192, 384, 3, padding 1), 7 ReLU, 8 Conv2d(384, 256, 3, padding 1), 9 ReLU,
///              10 Conv2d(256, 256, 3, padding 1), 11 ReLU, 12 MaxPool2d(3, 2)
///   avgpool    AdaptiveAvgPool2d(6)
///   classifier 0 Dropout(0.5), 1 Linear(9216, 4096), 2 ReLU, 3 Dropout(0.5), 4 Linear(4096, 4096),
///              5 ReLU, 6 Linear(4096, num_classes)
/// Input [N, 3, H, W] with H, W >= 63 (224 by default).
#include <cstdint>
#include <random>

#include "engine/module.h"

namespace backlight {

ModulePtr make_alexnet(int64_t num_classes, std::mt19937_64& rng);

}  // namespace backlight
