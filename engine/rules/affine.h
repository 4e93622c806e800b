#pragma once
/// The affine view of a linear-kind node, the building block of LRP: z = apply(x, W, b) and the
/// transposed map c = apply_transposed(s, W) = (dz/dx)^T s for the given W.
///
///   Linear     W [out,in], b [out]            Conv2d  W [O,C/g,kh,kw], b [O]
///   BatchNorm  W = weight/sqrt(var+eps) [C], b = bias - mean*W (per channel, axis 1)
///   Scale      W = factor [1]
///   AvgPool2d, AdaptiveAvgPool2d, Sum, Mean: no parameters (W, b undefined); apply needs the
///   node's own input (z is the recorded output), apply_transposed is the op's VJP.
/// Modified parameters are scratch tensors; the node and the model are never written to.
#include "engine/rules/rule.h"

namespace backlight {

struct AffineParams {
  Tensor weight;  ///< undefined for parameter-free ops
  Tensor bias;    ///< undefined when the op has none
};

/// Whether rules of the LRP family can treat `kind` as affine in its first input.
bool is_affine_kind(OpKind kind);
/// W and b as the op uses them (computed for BatchNorm). Throws RuleError for other kinds.
AffineParams affine_params(const RuleContext& ctx);
/// z for input x and parameters (w, b); b may be undefined (no bias).
Tensor affine_apply(const RuleContext& ctx, const Tensor& x, const Tensor& w, const Tensor& b);
/// (dz/dx)^T s for parameters w.
Tensor affine_apply_transposed(const RuleContext& ctx, const Tensor& s, const Tensor& w);

}  // namespace backlight
