#include "engine/modules/flatten.h"

#include "engine/ops/ops.h"

namespace backlight {

Var Flatten::forward(const Var& x) const { return flatten(x, start_dim_, end_dim_, op_name()); }

}  // namespace backlight
