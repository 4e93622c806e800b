#pragma once
/// Loading and saving a module's parameters and buffers by their PyTorch state_dict keys.
///
/// load_state_dict checks everything before it changes anything: every missing key, unexpected
/// key and wrong shape is collected and reported in one backlight::Error, and on error the model
/// is untouched. Loaded tensors are installed by handle (no copy): tensors read from a
/// safetensors file stay zero-copy views of the mapped file (see models/safetensors.h), and
/// the model's previous tensors are released, not overwritten (a clone of the model keeps its
/// own values).
///
/// num_batches_tracked (BatchNorm) follows torchvision checkpoints: older checkpoints do not
/// have it, so a missing one is not an error (the model keeps its value), and shape [] or [1]
/// is accepted (it is unused at inference).
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "engine/module.h"
#include "models/safetensors.h"

namespace backlight {

/// The metadata "format" value written by save_weights and tools/convert_torch.py.
inline constexpr const char* kWeightsFormat = "backlight-1";

/// What a load did. With strict loading, missing and unexpected are always empty (a problem throws).
struct LoadReport {
  std::vector<std::string> loaded;      ///< model keys that received a tensor, in state_dict order
  std::vector<std::string> missing;     ///< model keys absent from the input (strict = false only)
  std::vector<std::string> unexpected;  ///< input keys the model does not have (strict = false only)
};

/// Installs `tensors` (key, tensor) into `model` by full state_dict key. strict: missing or
/// unexpected keys are errors (as PyTorch); wrong shapes and duplicate input keys are errors
/// either way. Throws one backlight::Error listing every problem:
///   load_state_dict: 3 problems loading 122 tensors into ResNet (root) (122 keys)
///     missing keys (1): fc.bias
///     unexpected keys (1): fc.b
///     wrong shapes (1): conv1.weight expected [64,3,7,7], got [64,1,7,7]
/// (then "duplicate keys" and "keys without a tensor" when there are any).
LoadReport load_state_dict(Module& model, std::span<const std::pair<std::string, Tensor>> tensors,
                           bool strict = true);

struct LoadOptions {
  bool strict = true;
  /// When set and the file's metadata names an "arch", the two must be equal.
  std::string arch;
  /// load_weights refuses NaN/Inf values and negative BatchNorm running variances, naming the
  /// tensor (models/weight_check.h); true skips that check. (load_state_dict never checks.)
  bool allow_nonfinite_weights = false;
};

/// load_state_dict from an already opened safetensors file (checks "arch" and "format" metadata;
/// errors name the file and its arch).
LoadReport load_weights(Module& model, const SafeTensorsFile& file, const LoadOptions& options = {});
/// Reads `path` (safetensors, as written by tools/convert_torch.py or save_weights) and loads it.
LoadReport load_weights(Module& model, const std::filesystem::path& path, const LoadOptions& options = {});

/// Writes model.state_dict() (float32 unless options say otherwise) with metadata
/// `metadata` (e.g. {"arch": "resnet18", "num_classes": "10"}) plus {"format": "backlight-1"},
/// which is always set.
void save_weights(const Module& model, const std::filesystem::path& path,
                  const std::map<std::string, std::string>& metadata = {}, SafeTensorsWriteOptions options = {});

}  // namespace backlight
