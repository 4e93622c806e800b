#pragma once
/// What every attribution method returns.
#include <vector>

#include "engine/tensor.h"

namespace backlight {

struct AttributionResult {
  /// Same shape as the attributed tensor (the input, or the layer for layer methods; for CAM
  /// methods the map upsampled to the input's spatial size, [N,1,H,W]).
  Tensor attribution;
  /// The model output (logits) for the inputs, [N, classes].
  Tensor output;
  /// Resolved class per item (empty for function targets).
  std::vector<int64_t> target;
  /// Convergence / completeness delta per item [N] where the method defines one
  /// (IG, DeepLIFT: sum of attributions - (f(x) - f(baseline))); undefined otherwise.
  Tensor delta;
  /// Layer-resolution map for CAM-family and layer methods (before upsampling); else undefined.
  Tensor layer_map;
};

}  // namespace backlight
