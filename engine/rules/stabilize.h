#pragma once
/// The one stabiliser used by every LRP rule (Zennit's convention, core.py `stabilize`):
/// z + eps * sign(z), with sign(0) taken as +1, so a zero denominator becomes +eps.
#include "engine/hd.h"

namespace backlight::math {

BL_HD inline float stabilize(float z, float eps) { return z + (z >= 0.0f ? eps : -eps); }

}  // namespace backlight::math
