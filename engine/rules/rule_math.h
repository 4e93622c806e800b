#pragma once
/// Per-element math of the rule maps (DeepLIFT Rescale multipliers, LRP stabilised division),
/// shared by the CPU rules (engine/rules/) and their CUDA kernels (engine/cuda/rules.cu).
#include "engine/rules/stabilize.h"

namespace backlight::rule_math {

/// DeepLIFT Rescale: where |dx| < eps the plain gradient, else g * dy / dx.
BL_HD inline float rescale(float g, float plain, float dx, float dy, float eps) {
  return fabsf(dx) < eps ? plain : g * dy / dx;
}

/// Which outputs an LRP group keeps (LrpGroup::Select as an int, C++17-clean).
enum Select { kAll = 0, kPositiveOutput = 1, kNegativeOutput = 2 };

/// LRP: r / stabilize(z, eps) where the group keeps the output, else 0.
BL_HD inline float lrp_ratio(float r, float z, float out, int where, float eps) {
  const bool keep = where == kAll || (where == kPositiveOutput && out > 0.0f) || (where == kNegativeOutput && out < 0.0f);
  return keep ? r / math::stabilize(z, eps) : 0.0f;
}

}  // namespace backlight::rule_math
