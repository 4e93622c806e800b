#include "engine/modules/activation.h"

#include "engine/error.h"
#include "engine/ops/ops.h"

namespace backlight {

Var ReLU::forward(const Var& x) const { return relu(x, op_name()); }
Var ReLU6::forward(const Var& x) const { return relu6(x, op_name()); }
Var LeakyReLU::forward(const Var& x) const { return leaky_relu(x, negative_slope_, op_name()); }
Var Sigmoid::forward(const Var& x) const { return sigmoid(x, op_name()); }
Var Tanh::forward(const Var& x) const { return tanh(x, op_name()); }

GELU::GELU(std::string approximate) : approximate_(std::move(approximate)) {
  BL_CHECK(approximate_ == "none" || approximate_ == "tanh", "GELU: expected approximate \"none\" or \"tanh\", got \"",
           approximate_, "\"");
}
Var GELU::forward(const Var& x) const { return gelu(x, approximate_ == "tanh", op_name()); }

Var Softmax::forward(const Var& x) const { return softmax(x, dim_, op_name()); }

}  // namespace backlight
