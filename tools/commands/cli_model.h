#pragma once
/// The model of a dataset-scanning command (`similarity`, `tcav`): --model NAME [--weights FILE]
/// resolved to a module and its input size [C, H, W]. shapes_cnn without weights is the embedded
/// trained model; a zoo name without weights gets random weights (with a warning on stderr); a
/// .safetensors file names its architecture in its metadata ("arch").
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "engine/module.h"

namespace backlight::cli {

struct LoadedModel {
  ModulePtr model;
  std::string label;  ///< the weights file, or the model name
  std::vector<int64_t> input{3, 64, 64};
};

/// Throws UsageError naming `flag` and the accepted names for an unknown model; `command`
/// prefixes messages ("similarity").
LoadedModel load_cli_model(const std::string& name, const std::optional<std::string>& weights, const char* flag,
                           const char* command);

}  // namespace backlight::cli
