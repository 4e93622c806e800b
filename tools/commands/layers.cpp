// `backlight layers --model NAME|FILE.onnx`: the layers of a model as the engine records them
// (module path, tape op, output shape) - the names --layer, Grad-CAM, neuron methods and rule-set
// name matchers accept. For an ONNX file also the file's metadata; `--ops` prints the table of
// ONNX ops the importer supports (docs/models.md).
#include <iomanip>
#include <iostream>

#include "engine/error.h"
#include "models/onnx/model.h"
#include "models/zoo.h"
#include "tools/commands/command.h"

namespace backlight::cli {
namespace {

std::vector<int64_t> parse_shape(const std::string& s) {
  std::vector<int64_t> dims;
  size_t pos = 0;
  while (pos <= s.size()) {
    const size_t x = s.find('x', pos);
    const std::string part = s.substr(pos, x == std::string::npos ? std::string::npos : x - pos);
    if (part.empty() || part.find_first_not_of("0123456789") != std::string::npos || part.size() > 9)
      throw UsageError("layers: --input-shape expects dims like 1x3x224x224, got '" + s + "'");
    dims.push_back(std::stoll(part));
    if (dims.back() < 1) throw UsageError("layers: --input-shape dims must be positive, got '" + s + "'");
    if (x == std::string::npos) break;
    pos = x + 1;
  }
  return dims;
}

std::string shape_str(const std::vector<int64_t>& d) {
  std::string s = "[";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}

int run_layers(const Args& args) {
  if (args.has("ops")) {
    for (const auto& [op, note] : onnx_supported_ops()) std::cout << std::left << std::setw(20) << op << " " << note << "\n";
    return 0;
  }
  const std::optional<std::string> model = args.get("model");
  if (!model) throw UsageError("layers: --model NAME|FILE.onnx is required (or --ops)");
  std::vector<int64_t> shape;
  if (const auto s = args.get("input-shape")) shape = parse_shape(*s);
  std::vector<OnnxLayerInfo> layers;
  if (model->ends_with(".onnx")) {
    OnnxModelInfo info;
    load_onnx_model(*model, shape, &info);
    std::cout << *model << ": " << info.producer << ", opset " << info.opset << ", input " << shape_str(info.input_shape)
              << (info.input_is_int ? " (integer ids)" : "") << ", " << info.num_classes << " outputs\n";
    for (const auto& [k, v] : info.metadata) std::cout << "  " << k << " = " << v << "\n";
    layers = info.layers;
  } else {
    const ModulePtr m = make_model(*model);
    if (shape.empty()) {
      shape = zoo_model_info(*model).input;
      shape.insert(shape.begin(), 1);
    }
    Tape tape;
    m->forward(tape.input(Tensor::zeros(Shape(shape))));
    for (const Node& n : tape.nodes())
      layers.push_back({n.name, std::string(to_string(n.kind)), "", tape.value(n.output).tensor.shape().to_vector()});
  }
  std::cout << std::left << std::setw(40) << "layer" << std::setw(20) << "op" << "output\n";
  for (const OnnxLayerInfo& l : layers)
    std::cout << std::left << std::setw(40) << (l.name.empty() ? "(root)" : l.name) << std::setw(20) << l.op
              << shape_str(l.output_shape) << "\n";
  return 0;
}

}  // namespace

Command layers_command() {
  return {.name = "layers",
          .summary = "list a model's layers (module path, op, output shape) or the supported ONNX ops",
          .description = "Runs the model once on zeros and lists every recorded op with the module path that --layer,\n"
                         "Grad-CAM, neuron methods and rule-set name matchers accept. --model takes a zoo name or an\n"
                         ".onnx file (tools/export_onnx.py; docs/models.md). --ops lists the supported ONNX ops.",
          .flags = {{.name = "model", .metavar = "NAME|FILE.onnx", .help = "zoo model or ONNX file"},
                    {.name = "input-shape", .metavar = "NxCxHxW", .help = "input shape incl. batch (default: the "
                                                                           "model's)"},
                    {.name = "ops", .kind = FlagKind::Bool, .help = "list the ONNX ops the importer supports"}},
          .run = run_layers};
}

}  // namespace backlight::cli
