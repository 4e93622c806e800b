#pragma once
/// The model zoo: torchvision architectures (and a few small ones for MNIST-sized inputs) built
/// from engine modules, with torchvision's module names (named_modules()) and state_dict keys,
/// so weights converted by tools/convert_torch.py load one-to-one (models/state_dict.h).
///
///   auto model = make_model("resnet18", {.num_classes = 10, .seed = 1});
///   load_weights(*model, "resnet18.safetensors");
///
/// Known names: mlp, mnist_cnn, lenet5, alexnet, vgg11, vgg13, vgg16, vgg19 (and *_bn),
/// resnet18, resnet34, resnet50, mobilenet_v2, vit_b_16, vit_tiny. zoo_models() lists them with
/// their default input shapes. The families live in models/{small,alexnet,vgg,resnet,mobilenet,
/// vit}.h, whose classes can also be built directly with other configurations.
///
/// Random init: each layer gets its PyTorch default (engine modules: Linear/Conv2d
/// U(+-1/sqrt(fan_in)), BatchNorm 1/0 with running statistics 0/1, MultiheadAttention xavier),
/// drawn from a generator seeded with ModelConfig::seed; ViT tokens follow torchvision (class
/// token zeros, pos_embedding N(0, 0.02)). torchvision's model-specific re-initialisations
/// (kaiming_normal convs, zero ViT head) are not reproduced.
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "engine/module.h"

namespace backlight {

/// ViT sizes; 0 keeps the architecture's value (vit_b_16: 224, 16, 12, 12, 768, 3072;
/// vit_tiny: 32, 8, 2, 4, 64, 128).
struct VitConfig {
  int64_t image_size = 0;
  int64_t patch_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t hidden_dim = 0;
  int64_t mlp_dim = 0;
};

/// Options of make_model. Knobs that do not apply to the chosen architecture are ignored.
struct ModelConfig {
  int64_t num_classes = 0;  ///< 0: the architecture's default (ModelInfo::num_classes)
  uint64_t seed = 0;        ///< seed of the random init
  /// mlp: in_features followed by the hidden sizes (empty: {784, 256, 128}); the input is
  /// flattened first, so [N, 1, 28, 28] and [N, 784] both work.
  std::vector<int64_t> mlp_sizes{};
  /// mobilenet_v2: channel multiplier (torchvision's width_mult).
  float width_mult = 1.0f;
  VitConfig vit{};
  /// load_model only: skip the load-time NaN/Inf and negative running-variance check
  /// (LoadOptions::allow_nonfinite_weights).
  bool allow_nonfinite_weights = false;
};

/// One zoo entry.
struct ModelInfo {
  std::string name;              ///< make_model name = torchvision builder name
  std::string description;       ///< one line
  std::vector<int64_t> input;    ///< default input [C, H, W] (the batch axis comes first at run time)
  int64_t num_classes = 0;       ///< default number of outputs
  bool flexible_input = false;   ///< true when H, W may differ (adaptive pooling)
};

/// Every architecture make_model knows, in a fixed order (built on each call; no registry).
std::vector<ModelInfo> zoo_models();

/// The entry called `name`; throws backlight::Error listing the known names.
ModelInfo zoo_model_info(std::string_view name);

/// A freshly initialised model of architecture `name` (root path ""). Throws backlight::Error
/// for an unknown name (listing the known ones) or an invalid configuration.
ModulePtr make_model(std::string_view name, const ModelConfig& cfg = {});

/// An `.onnx` path is imported instead (load_onnx_model, models/onnx/model.h: the graph with its
/// own weights, at the input shape stored in the file; `cfg` is not used).
/// Otherwise: builds the architecture named in a weights file's metadata ("arch", as written by
/// tools/convert_torch.py or save_weights) with its "num_classes", and loads the weights
/// strictly. `cfg` supplies any other knobs (mlp sizes, ViT sizes); its num_classes, when set,
/// must agree with the file. Throws when the file has no "arch" entry.
ModulePtr load_model(const std::filesystem::path& path, ModelConfig cfg = {});

}  // namespace backlight
