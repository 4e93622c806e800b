#include "engine/modules/dropout.h"

#include "engine/error.h"
#include "engine/ops/ops.h"

namespace backlight {

Dropout::Dropout(float p) : p_(p) {
  BL_CHECK(p >= 0.0f && p <= 1.0f, "Dropout: expected probability p in [0, 1], got ", p);
}

Var Dropout::forward(const Var& x) const { return dropout(x, p_, op_name()); }

}  // namespace backlight
