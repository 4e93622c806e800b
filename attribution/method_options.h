#pragma once
/// MethodOptions: the options of attribute(name, ...) (attribution/registry.h), one flat set that
/// each method reads its part of (MethodInfo::options names which). On its own so that
/// attribution/on_device.h can take it without including the registry.
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "attribution/core/baseline.h"
#include "attribution/path/integration.h"
#include "engine/rules/builtin_sets.h"
#include "engine/tape.h"
#include "engine/workspace.h"

namespace backlight {

struct MethodOptions {
  // rule-set methods (lrp, layer_lrp)
  std::string rules;        ///< empty: the method's default rule set
  RuleParams rule_params;
  // layer, neuron and CAM methods
  std::string layer;                ///< module path, e.g. "features.28", "layer4"
  std::vector<int64_t> neuron;      ///< index into the layer output (without the batch axis)
  /// Alternative to `neuron`: the layer output [R, ...] -> one value per row (Neuron::select).
  std::function<Var(const Var& layer_output)> neuron_selector;
  // path and reference methods
  std::vector<Baseline> baselines = {Baseline::zero()};
  int steps = 50;
  Integration integration = Integration::GaussLegendre;
  /// false: path, reference and gradient-times-input methods return the (averaged) gradients or
  /// multipliers without the (input - baseline) factor (Captum's multiply_by_inputs=False).
  bool multiply_by_inputs = true;
  // sampling methods and the noise tunnel
  std::string noise_tunnel;  ///< "", "smoothgrad", "smoothgrad_sq" or "vargrad" (wraps the method)
  /// 0: the method's default. With noise_tunnel set, samples and stdev are the tunnel's (default
  /// 10 samples, stdev 0.15 as a fraction of each item's value range max - min) and the wrapped
  /// method uses its own defaults; else GradientSHAP's n_samples (5) and absolute stdev (0).
  int samples = 0;
  float stdev = -1.0f;  ///< < 0: the method's default
  // perturbation methods
  std::vector<int64_t> window;  ///< per input dim without batch (occlusion)
  std::vector<int64_t> stride;
  int batch = 0;  ///< internal batch size / perturbations per eval; 0: the method's default
  uint64_t seed = 0;
  /// XRAI: the registered method computing the attribution inside (empty: IG with min/max baselines)
  std::string base_method;
  /// Buffers reused across calls; a CUDA workspace (Workspace::for_cuda) runs the method on that
  /// device (attribution/on_device.h lists the methods that support it).
  const Workspace* workspace = nullptr;
};

}  // namespace backlight
