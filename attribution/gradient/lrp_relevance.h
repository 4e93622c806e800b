#pragma once
/// The two steps lrp() and layer_lrp() share around their backward pass: the BatchNorm-folded
/// model the rules see (Zennit's canonizer), and the relevance the pass starts from - 1 per item,
/// or f_t(x) as Captum's LRP - with the conservation residual per item.
#include "attribution/core/result.h"
#include "attribution/core/target.h"
#include "engine/module.h"

namespace backlight {

/// A copy of `model` with every BatchNorm folded into the layer before it (merge_batchnorm,
/// engine/canonize.h), or null when `merge` is false or the model has no BatchNorm (use the
/// model as is). Folding clones the model: callers attributing many inputs fold once themselves.
ModulePtr lrp_canonical_model(const Module& model, const Shape& input_shape, bool merge);

/// r.attribution holds the relevance for a start value of 1 per item: scales it by the target
/// output f_t(x) when `multiply_by_output` (from r.output and r.target), and sets r.delta to
/// start - sum of the item's relevance (0 when relevance is conserved).
void finish_lrp_relevance(AttributionResult& r, const Target& target, bool multiply_by_output);

}  // namespace backlight
