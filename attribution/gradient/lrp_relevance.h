#pragma once
/// The two steps lrp() and layer_lrp() share around their backward pass: the BatchNorm-folded
/// model the rules see (Zennit's canonizer), and the relevance the pass starts from - 1 per item,
/// or f_t(x) as Captum's LRP - with the conservation residual per item.
#include <string>

#include "attribution/core/result.h"
#include "attribution/core/target.h"
#include "engine/module.h"
#include "engine/tape.h"

namespace backlight {

/// A copy of `model` with every BatchNorm folded into the layer before it (merge_batchnorm,
/// engine/canonize.h), or null when `merge` is false or the model has no BatchNorm (use the
/// model as is). Folding clones the model: callers attributing many inputs fold once themselves.
ModulePtr lrp_canonical_model(const Module& model, const Shape& input_shape, bool merge);

/// Relative conservation error |sum - start| / |start| above which a rule set is reported as not
/// conserving relevance on the model at hand (the CLI warns on stderr, --json says
/// "conserved": false). Rules that fit the model still lose part of the relevance to biases,
/// position embeddings, the class token and stabilisers (measured: shapes_cnn with
/// lrp_epsilon_plus_flat 17%, vit_tiny with random weights and cp_lrp 15-31%); a rule set that
/// does not fit is off by orders of magnitude (lrp_epsilon_plus_flat on vit_tiny: sums of 20 to
/// 7,800 for a start of 1). 50% separates the two.
inline constexpr double kLrpConservationTolerance = 0.5;

/// The rule set lrp() and layer_lrp() use for rules = "auto" (the default), read from the recorded
/// forward (not from module names), for zoo and imported models alike:
/// - "cp_lrp" when it holds attention - a MatMul of two activations or a Softmax that is not the
///   output. cp_lrp rather than attnlrp: it conserves better (attention weights held constant;
///   vit_tiny, random weights, built-in image: 2.9% off) where AttnLRP's softmax rule passes
///   relevance to the softmax's implicit bias by design (same run: 54% off);
/// - "lrp_epsilon_gamma_box" when it holds gates or normalisers - a product or division of two
///   activations (SiLU as Sigmoid*Mul, squeeze-excitation: engine/rules/gate.h) or a layernorm
///   (EfficientNet, MobileNetV3, ConvNeXt). z+ drops the relevance of outputs whose positive
///   contributions are all zero, common with signed activations and linear bottlenecks
///   (tiny MobileNetV3 with zero biases: 11% lost); gamma conserves there;
/// - "lrp_epsilon_plus_flat" otherwise (plain ReLU CNNs, Zennit's EpsilonPlusFlat).
/// Every LRP set carries the gate and normaliser rules (docs/rules.md "Gates and normalisers").
std::string auto_lrp_rules(const Tape& tape, const Var& output);

/// r.attribution holds the relevance for a start value of 1 per item: scales it by the target
/// output f_t(x) when `multiply_by_output` (from r.output and r.target), and sets r.delta to
/// start - sum of the item's relevance (0 when relevance is conserved).
/// Also fills r.relevance_start, r.relevance_sum and r.conservation_error.
void finish_lrp_relevance(AttributionResult& r, const Target& target, bool multiply_by_output);

}  // namespace backlight
