#pragma once
/// Plain vector-Jacobian products, one named function per op kind; rules/gradient.cpp maps each
/// OpKind to its function. Each returns one tensor per node input (undefined where the context
/// says the input needs no gradient).
#include <vector>

#include "engine/rules/rule.h"

namespace backlight {

#define X(e, name, family) std::vector<Tensor> vjp_##e(const RuleContext& ctx, const Tensor& g);
#include "engine/op_kinds.def"
#undef X

}  // namespace backlight
