#pragma once
/// The model flags of the concept commands (similarity, tcav, dissect, visualize): --model NAME
/// (shapes_cnn, the embedded model, or a zoo model) with optional --weights FILE.safetensors.
#include <optional>
#include <string>
#include <vector>

#include "engine/module.h"
#include "tools/cli/args.h"

namespace backlight::cli {

struct LoadedModel {
  ModulePtr model;
  std::string label;                    ///< the weights file, or the model name
  std::vector<int64_t> input{3, 64, 64};  ///< the model's input [C, H, W]
};

/// Loads `name` (with `weights` when given; a zoo model without weights gets random weights and
/// a warning on stderr naming `command`). Unknown names are usage errors naming `flag` and the
/// accepted models.
LoadedModel load_concept_model(const std::string& command, const std::string& name,
                               const std::optional<std::string>& weights, const char* flag);

/// --mean / --std: `channels` comma-separated numbers (std values positive); empty when absent.
std::vector<float> channel_values_flag(const Args& args, const std::string& command, std::string_view flag,
                                       int64_t channels);

/// Module path of the last Conv2d node in a forward pass of `probe` (throws when there is none).
std::string last_convolution(const Module& model, const Tensor& probe);

}  // namespace backlight::cli
