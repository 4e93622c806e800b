#pragma once
/// Data-dependent initialisation of a network without normalisation layers (Kraehenbuehl et al.
/// 2016, "Data-dependent initializations of convolutional neural networks"; the per-layer
/// variance normalisation of Mishkin & Matas 2016, LSUV): after the random init, each Conv2d of
/// the model's `features` Sequential, in order, gets its weight and bias rescaled so that on a
/// batch of training images every output channel has mean 0 and standard deviation 1:
///   w_c <- w_c / sd_c,   b_c <- (b_c - mean_c) / sd_c
/// (statistics over N, H, W of the channel's output, with the earlier convs already rescaled).
/// Then every ReLU passes about half of each channel's values, whatever the input's mean and
/// scale, which a plain 4-conv net fed [0, 1] images does not have at init; `backlight train` /
/// `roar` (`--init-data N`) measured the effect on shapes_cnn (docs/evaluation.md, "ROAR").
/// CPU; the model is changed in place; nothing is trained (no labels are used).
#include <cstdint>

#include "engine/module.h"
#include "engine/tensor.h"

namespace backlight {

/// Rescales the Conv2d children of `model.child("features")` as above from `images` [N, C, H, W]
/// (N >= 2). A channel whose output is constant on the batch (sd < 1e-6) keeps its weight and
/// only has its mean removed. Throws backlight::Error when the model has no `features`
/// Sequential or `images` is not 4-d with N >= 2.
void data_dependent_init(Module& model, const Tensor& images);

}  // namespace backlight
