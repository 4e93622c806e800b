#include "tools/commands/concept_model.h"

#include <cmath>
#include <iostream>
#include <random>

#include "engine/error.h"
#include "engine/workspace.h"
#include "models/data/shapes.h"
#include "models/default_model.h"
#include "models/safetensors.h"
#include "models/state_dict.h"
#include "models/zoo.h"

namespace backlight::cli {

LoadedModel load_concept_model(const std::string& command, const std::string& name,
                               const std::optional<std::string>& weights, const char* flag) {
  LoadedModel m;
  m.label = weights ? *weights : name;
  if (name != "shapes_cnn") {
    bool known = false;
    std::string names = "shapes_cnn";
    for (const ModelInfo& mi : zoo_models()) known |= mi.name == name, names += ", " + mi.name;
    if (!known)
      throw UsageError(command + ": " + std::string(flag) + ": unknown model '" + name + "' (accepted: " + names + ")");
    m.input = zoo_model_info(name).input;
  }
  if (weights) {
    const SafeTensorsFile file = read_safetensors(*weights);
    const auto arch = file.metadata.find("arch");
    if (arch != file.metadata.end() && arch->second == "shapes_cnn") {
      std::mt19937_64 rng(0);  // every tensor is overwritten by the weights
      const auto classes = file.metadata.find("num_classes");
      m.model = make_shapes_cnn(rng, classes == file.metadata.end() ? kNumShapeClasses : std::stoll(classes->second));
      load_weights(*m.model, file, LoadOptions{.strict = true, .arch = "shapes_cnn"});
      m.input = {3, 64, 64};
    } else {
      m.model = load_model(*weights);
      if (arch != file.metadata.end()) m.input = zoo_model_info(arch->second).input;
    }
  } else if (name == "shapes_cnn") {
    m.model = default_model();
  } else {
    std::cerr << command << ": warning: " << flag << " " << name << " without weights uses random weights\n";
    m.model = make_model(name);
  }
  return m;
}

std::vector<float> channel_values_flag(const Args& args, const std::string& command, std::string_view flag,
                                       int64_t channels) {
  const auto items = args.get_list(flag);
  if (!items) return {};
  const std::string what = command + ": --" + std::string(flag);
  if (static_cast<int64_t>(items->size()) != channels)
    throw UsageError(what + " expects " + std::to_string(channels) + " comma-separated values (one per input channel), got " +
                     std::to_string(items->size()));
  std::vector<float> out;
  for (const std::string& s : *items) {
    size_t used = 0;
    float v = 0;
    try {
      v = std::stof(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used != s.size() || !std::isfinite(v) || (flag == "std" && !(v > 0)))
      throw UsageError(what + " expects " + (flag == "std" ? "positive " : "") + "numbers, got '" + s + "'");
    out.push_back(v);
  }
  return out;
}

std::string last_convolution(const Module& model, const Tensor& probe) {
  Workspace ws;
  Tape tape(TapeOptions{}, ws);
  (void)model.forward(tape.input(probe.slice_batch(0, 1)));
  std::string last;
  for (const Node& n : tape.nodes())
    if (n.kind == OpKind::Conv2d) last = n.name;
  BL_CHECK(!last.empty(), "the model has no convolution; name a layer with --layer");
  return last;
}

}  // namespace backlight::cli
