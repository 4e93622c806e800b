#include "tools/commands/cli_model.h"

#include <iostream>
#include <random>

#include "models/data/shapes.h"
#include "models/default_model.h"
#include "models/safetensors.h"
#include "models/state_dict.h"
#include "models/zoo.h"
#include "tools/cli/args.h"

namespace backlight::cli {

LoadedModel load_cli_model(const std::string& name, const std::optional<std::string>& weights, const char* flag,
                           const char* command) {
  LoadedModel m;
  m.label = weights ? *weights : name;
  if (name != "shapes_cnn") {
    bool known = false;
    std::string names = "shapes_cnn";
    for (const ModelInfo& mi : zoo_models()) known |= mi.name == name, names += ", " + mi.name;
    if (!known) throw UsageError(std::string(command) + ": " + std::string(flag) + ": unknown model '" + name + "' (accepted: " + names + ")");
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

}  // namespace backlight::cli
