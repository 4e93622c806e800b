#pragma once
/// What every attribution method returns.
#include <string>
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
  /// LRP family (lrp, layer_lrp): relevance conservation per item [N] (host tensors): the start
  /// relevance (1, or f_t(x) with multiply_by_output), the sum of the returned relevance, and
  /// |sum - start| / |start| (kLrpConservationTolerance in attribution/gradient/lrp_relevance.h says when
  /// a rule set does not conserve on the model at hand). Undefined for other methods.
  Tensor relevance_start, relevance_sum, conservation_error;
  /// LRP family: the built-in rule set that ran ("cp_lrp" when "auto" found attention), or
  /// "custom" for a caller's RuleSet; empty for other methods.
  std::string rule_set;
};

}  // namespace backlight
