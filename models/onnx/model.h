#pragma once
/// An ONNX graph as an engine Module. forward() records one tape node per ONNX node (or one
/// fused node where the graph spells out GELU), under the PyTorch module path of the node
/// (models/onnx/names.h), so layer lookup, Grad-CAM, neuron methods and rule-set name matchers
/// see "layer4", "features.28" as for a zoo model.
///
/// Weights become parameters of a module tree mirroring PyTorch's (a Conv node under
/// "layer1.0.conv1" owns layer1.0.conv1.weight; a BatchNormalization node is an engine
/// BatchNorm module, so the BN-merging canonizer works). Shape arithmetic (Shape -> Gather ->
/// Concat -> Reshape, Cast, ConstantOfShape, Constant) is folded: input-independent chains once
/// at load, chains starting at a Shape of an activation on every call, so the batch axis is
/// free per call. Ops and attributes: onnx_supported_ops(); anything else is refused at load
/// with an error naming the node, its op type and the attribute.
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/module.h"
#include "models/onnx/graph.h"

namespace backlight {

/// A module-tree node of an imported model: owns the weights of the ONNX nodes at its path.
/// type_name() is PyTorch's class where the op says it ("Conv2d", "Linear"), else "Module".
class OnnxModule : public ModuleImpl<OnnxModule> {
 public:
  explicit OnnxModule(std::string type = "Module") : type_(std::move(type)) {}
  Var forward(const Var& x) const override;  // throws: only the root runs the graph
  std::string type_name() const override { return type_; }
  void set_type(std::string type) { type_ = std::move(type); }
  Tensor& add_param(std::string name, Tensor value) { return register_parameter(std::move(name), std::move(value)); }
  Tensor& add_buffer(std::string name, Tensor value) { return register_buffer(std::move(name), std::move(value)); }
  Module& add_child(std::string name, ModulePtr m) { return register_module(std::move(name), std::move(m)); }

 private:
  std::string type_;
};

namespace onnx {
struct Program;
}

/// The root of an imported model.
class OnnxModel : public ModuleImpl<OnnxModel> {
 public:
  explicit OnnxModel(std::shared_ptr<const onnx::Program> program);
  Var forward(const Var& x) const override;
  std::string type_name() const override { return "OnnxModel"; }
  const onnx::Program& program() const { return *program_; }
  Tensor& add_param(std::string name, Tensor value) { return register_parameter(std::move(name), std::move(value)); }
  Module& add_child(std::string name, ModulePtr m) { return register_module(std::move(name), std::move(m)); }

 private:
  std::shared_ptr<const onnx::Program> program_;
};

/// One row of OnnxModel's layer listing.
struct OnnxLayerInfo {
  std::string name;   ///< module path
  std::string op;     ///< ONNX op type (or fused "Gelu")
  std::string node;   ///< ONNX node name
  std::vector<int64_t> output_shape;
};

/// What the file says about itself (written by tools/export_onnx.py; all optional).
struct OnnxModelInfo {
  std::vector<int64_t> input_shape;  ///< full shape used at load (batch 1 unless given)
  bool input_is_int = false;         ///< token ids
  int64_t num_classes = 0;
  std::vector<float> mean, std;      ///< image normalisation, per channel
  std::vector<int64_t> image_size;   ///< [H, W]
  std::map<std::string, std::string> metadata;
  std::string producer;
  int64_t opset = 0;
  std::vector<OnnxLayerInfo> layers;  ///< every tape node of a forward at input_shape
};

/// Loads an ONNX file as a model. `input_shape` (with batch) sets the shape used for the
/// checker's shape inference and the validating dry run; empty: the file's own input shape
/// (metadata "input_shape", else the graph input's dims with symbolic dims as 1). Throws
/// backlight::Error for a corrupt file or anything unsupported.
ModulePtr load_onnx_model(const std::filesystem::path& path, std::vector<int64_t> input_shape = {},
                          OnnxModelInfo* info = nullptr);
/// The same from bytes already in memory (no external data).
ModulePtr load_onnx_model_from_bytes(std::span<const uint8_t> bytes, std::string_view source,
                                     std::vector<int64_t> input_shape = {}, OnnxModelInfo* info = nullptr);

/// The op types the importer accepts, each with a one-line note (attributes, limits, which
/// tape op it becomes), for `backlight layers` and docs/models.md.
std::vector<std::pair<std::string, std::string>> onnx_supported_ops();

}  // namespace backlight
