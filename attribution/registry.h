#pragma once
/// The methods registry: every attribution method by its stable snake_case name (the CLI's
/// --method), with one flat options struct (attribution/method_options.h) that the CLI fills
/// from its flags. Each method reads the fields it uses; methods() says which (for `backlight
/// methods` and --help).
/// The table is built on each call (no static registration).
#include <string>
#include <vector>

#include "attribution/core/result.h"
#include "attribution/core/target.h"
#include "attribution/method_options.h"
#include "engine/module.h"

namespace backlight {

struct MethodInfo {
  std::string name;
  std::string family;       ///< "gradient", "path", "rules", "cam", "layer", "neuron", "perturbation", "attention"
  std::string description;  ///< one line
  std::string options;      ///< which MethodOptions fields it reads, e.g. "baselines, steps, integration, batch"
  bool needs_layer = false;
  bool needs_neuron = false;
};

/// All methods, in listing order.
std::vector<MethodInfo> methods();
/// Runs method `name` on a batch; throws naming an unknown method (listing the known ones) or a
/// missing required option (e.g. --layer).
AttributionResult attribute(std::string_view name, const Module& model, const Tensor& inputs, const Target& target,
                            const MethodOptions& options = {});

}  // namespace backlight
