#pragma once
/// Per-element math of the broadcasting binary ops (fn::binary), written once for the CPU loop and
/// the CUDA kernel. NaN propagates as in PyTorch: maximum/minimum return NaN when either side is
/// NaN; the gates select, never multiply by 0, so a NaN or Inf on the unselected side stays out.
#include <cmath>

#include "engine/hd.h"

namespace backlight::maps {

enum class Binary {
  Add,
  Sub,
  Mul,
  Div,
  Max,        ///< torch.maximum
  Min,        ///< torch.minimum
  Gate,       ///< a == 0 ? 0 : a * b   (a: 0/1 condition or a tie weight; b: the signal)
  GateNot,    ///< a == 0 ? b : 0
  MaxWeight,  ///< a > b ? 1 : a == b ? 1/2 : a < b ? 0 : 1 (NaN) - maximum's gradient share of a
  Pow,        ///< a^b (powf: torch.pow of two tensors)
  PowGradBase,      ///< d a^b / da = b * a^(b-1), 0 where b == 0 (torch's pow_backward_self)
  PowGradExponent,  ///< d a^b / db = a^b * log(a), 0 where a == 0 and b >= 0 (torch's pow_backward_exponent)
};

BL_HD inline float apply_binary(Binary op, float a, float b) {
  switch (op) {
    case Binary::Add: return a + b;
    case Binary::Sub: return a - b;
    case Binary::Mul: return a * b;
    case Binary::Div: return a / b;
    case Binary::Max: return a != a ? a : (b != b ? b : (a > b ? a : b));
    case Binary::Min: return a != a ? a : (b != b ? b : (a < b ? a : b));
    case Binary::Gate: return a == 0.0f ? 0.0f : (a == 1.0f ? b : a * b);
    case Binary::GateNot: return a == 0.0f ? b : 0.0f;
    case Binary::MaxWeight: return a > b ? 1.0f : (a == b ? 0.5f : (a < b ? 0.0f : 1.0f));
    case Binary::Pow: return powf(a, b);
    case Binary::PowGradBase: return b == 0.0f ? 0.0f : b * powf(a, b - 1.0f);
    case Binary::PowGradExponent: return a == 0.0f && b >= 0.0f ? 0.0f : powf(a, b) * logf(a);
  }
  return a;
}

}  // namespace backlight::maps
