#pragma once
/// Small models for MNIST-sized inputs. tools/convert_torch.py defines the same nn.Module trees,
/// so their PyTorch weights convert like torchvision's.
#include <cstdint>
#include <random>
#include <vector>

#include "engine/module.h"

namespace backlight {

/// mlp: Sequential(0 Flatten, 1 Linear(sizes[0], sizes[1]), 2 ReLU, 3 Linear, 4 ReLU, ...,
/// Linear(sizes.back(), num_classes)): a ReLU after every hidden Linear, none after the last.
/// `sizes` = in_features followed by the hidden sizes (at least the in_features).
/// Input [N, ...] with in_features elements per item (flattened first).
ModulePtr make_mlp(const std::vector<int64_t>& sizes, int64_t num_classes, std::mt19937_64& rng);

/// mnist_cnn ("MnistCNN"), input [N, 1, 28, 28]:
///   features   0 Conv2d(1, 32, 3, padding=1), 1 ReLU, 2 MaxPool2d(2),
///              3 Conv2d(32, 64, 3, padding=1), 4 ReLU, 5 MaxPool2d(2),
///              6 Conv2d(64, 128, 3, padding=1), 7 ReLU, 8 MaxPool2d(2)     -> [N, 128, 3, 3]
///   flatten    -> [N, 1152]
///   classifier 0 Linear(1152, 256), 1 ReLU, 2 Linear(256, num_classes)
ModulePtr make_mnist_cnn(int64_t num_classes, std::mt19937_64& rng);

/// lenet5 ("LeNet5"), LeCun et al. 1998 with ReLU and max pooling, input [N, 1, 28, 28]:
///   features   0 Conv2d(1, 6, 5, padding=2), 1 ReLU, 2 MaxPool2d(2),
///              3 Conv2d(6, 16, 5), 4 ReLU, 5 MaxPool2d(2)                   -> [N, 16, 5, 5]
///   flatten    -> [N, 400]
///   classifier 0 Linear(400, 120), 1 ReLU, 2 Linear(120, 84), 3 ReLU, 4 Linear(84, num_classes)
ModulePtr make_lenet5(int64_t num_classes, std::mt19937_64& rng);

}  // namespace backlight
