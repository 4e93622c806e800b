#include "engine/modules/linear.h"

#include <cmath>

#include "engine/error.h"
#include "engine/modules/init.h"
#include "engine/ops/ops.h"

namespace backlight {

Linear::Linear(int64_t in_features, int64_t out_features, std::mt19937_64& rng, bool bias)
    : in_features_(in_features), out_features_(out_features) {
  BL_CHECK(in_features > 0 && out_features > 0, "Linear: expected in_features > 0 and out_features > 0, got ",
           in_features, " and ", out_features);
  register_parameter("weight", init::kaiming_uniform({out_features, in_features}, in_features, std::sqrt(5.0f), rng));
  if (bias) register_parameter("bias", init::fan_in_bias({out_features}, in_features, rng));
}

Var Linear::forward(const Var& x) const {
  Tape& t = x.tape();
  BL_CHECK_SHAPE(x.shape().rank() >= 1 && x.shape()[-1] == in_features_, type_name(), " '", path(),
                 "': expected input [..., ", in_features_, "], got ", x.shape());
  // Leaves in a fixed order (weight, bias): argument evaluation order is unspecified.
  const Var w = param(t, "weight");
  const Var b = param(t, "bias", /*optional=*/true);
  return linear(x, w, b, op_name());
}

}  // namespace backlight
