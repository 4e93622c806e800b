#pragma once
/// Canonizers: rewrite a model into an equivalent one on which LRP rules are well defined
/// (Zennit's canonizers). They return a new model (deep copy); the caller's model is never
/// touched. The forward output is unchanged (up to float32 round-off).
///
/// Residual networks need no canonizer of their own here: the residual sum is an atomic `add`
/// node that rule sets give the `norm` rule, which is what Zennit's ResNetCanonizer achieves by
/// inserting its Sum module.
#include <string>
#include <utility>
#include <vector>

#include "engine/module.h"

namespace backlight {

struct CanonizeReport {
  /// (layer path, batchnorm path) for every merged pair, in forward order.
  std::vector<std::pair<std::string, std::string>> merged;
};

/// Folds every inference BatchNorm whose input comes straight from a conv2d or linear node
/// (used by nothing else) into that layer: W' = W * s, b' = (b - mean) * s + beta with
/// s = gamma / sqrt(var + eps). The BatchNorm stays in the model as an identity (weight 1,
/// bias 0, mean 0, var 1 - eps), so module names and rule matching are unchanged.
/// The pairs are found by tracing one forward pass on a zero input of `input_shape`, so any
/// architecture works (VGG-BN, ResNet blocks and downsample paths, MobileNet).
ModulePtr merge_batchnorm(const Module& model, const Shape& input_shape, CanonizeReport* report = nullptr);

}  // namespace backlight
