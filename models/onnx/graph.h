#pragma once
/// An ONNX model read into plain structs (no protobuf type leaves models/onnx/graph.cpp).
///
/// read_onnx_file / parse_onnx parse the ModelProto with ONNX's own generated classes
/// (libonnx-dev), resolve external data (models above 2 GB keep their tensors in side files,
/// `location` relative to the model's folder), run ONNX's checker and, when an input shape is
/// given, ONNX's shape inference, then copy the graph out. Every malformed, truncated or
/// hostile file ends in backlight::Error naming the file and what was wrong; nothing here
/// trusts a length, offset or dimension read from the file before checking it.
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace backlight::onnx {

/// A constant tensor: an initializer, a Constant node's value or a value folded at load.
/// Integer types (int64/int32/bool/...) are held in `ints`, floating types in `floats`.
struct ConstTensor {
  std::vector<int64_t> dims;
  bool is_int = false;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  int64_t numel() const;
  /// Element i as double / int64 whatever the storage.
  double at(int64_t i) const { return is_int ? static_cast<double>(ints[i]) : floats[i]; }
  int64_t int_at(int64_t i) const;
};
using ConstPtr = std::shared_ptr<const ConstTensor>;

struct Attribute {
  enum class Type { Int, Float, Ints, Floats, String, Tensor, Other };
  Type type = Type::Other;
  int64_t i = 0;
  float f = 0;
  std::vector<int64_t> ints;
  std::vector<float> floats;
  std::string s;
  ConstPtr t;
};

struct Node {
  std::string name;     ///< as exported ("/layer1/layer1.0/conv1/Conv")
  std::string op_type;  ///< "Conv"
  std::vector<std::string> inputs, outputs;  ///< "" = omitted optional input
  std::map<std::string, Attribute, std::less<>> attrs;
  /// "<name>" (<op_type>) for messages.
  std::string describe() const;
};

struct Graph {
  std::string source;    ///< file name for messages
  int64_t opset = 0;     ///< default-domain opset
  std::string producer;  ///< "pytorch 1.13.0"
  std::vector<Node> nodes;  ///< topological order (checked)
  std::map<std::string, ConstPtr, std::less<>> initializers;
  std::string input;  ///< the one graph input that is not an initializer
  std::vector<int64_t> input_dims;  ///< -1 where symbolic (batch)
  bool input_is_int = false;        ///< int64 token ids etc.
  std::vector<std::string> outputs;
  std::map<std::string, std::string> metadata;  ///< metadata_props
  /// Output shape of each value when shape inference ran (value name -> dims, -1 = unknown).
  std::map<std::string, std::vector<int64_t>, std::less<>> value_dims;
};

/// Chooses the input shape (full, incl. batch) for shape inference once the graph's input and
/// metadata are known; an empty result skips shape inference.
using ShapeChooser = std::function<std::vector<int64_t>(const Graph&)>;

/// Parses `bytes` (a serialized ModelProto). `base_dir` resolves external data (empty: external
/// data is refused). The shape `choose` returns is set on the graph input before ONNX's shape
/// inference runs.
Graph parse_onnx(std::span<const uint8_t> bytes, std::string_view source, const std::filesystem::path& base_dir,
                 const ShapeChooser& choose = {});
/// Reads and parses an .onnx file (external data relative to its folder).
Graph read_onnx_file(const std::filesystem::path& path, const ShapeChooser& choose = {});

}  // namespace backlight::onnx
