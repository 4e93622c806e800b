#pragma once
/// Built-in rules. Each returns a shared immutable rule value; parameters default to Zennit's
/// (epsilon 1e-6, stabilizer 1e-6, gamma 0.25, alpha 2 / beta 1) and Captum's (DeepLIFT eps 1e-10).
/// Combine them into rule sets with RuleSet (rule_set.h); named built-in sets are in builtin_sets.h.
#include "engine/rules/rule.h"
#include "engine/rules/lrp.h"

namespace backlight {

// --- modified gradients --------------------------------------------------------------------------

/// GuidedBackprop (Springenberg et al. 2015) for ReLU-like nodes: relu(g * relu'(x)) - the
/// gradient where the forward input was positive and the gradient is positive (Captum).
RulePtr guided_backprop();
/// Deconvnet (Zeiler & Fergus 2014) for ReLU-like nodes: relu(g), regardless of the forward.
RulePtr deconvnet();
/// Softplus-smoothed ReLU gradient for relu nodes: g * sigmoid(beta * z), z the node's forward
/// input - the backward of softplus_beta(z) = log(1 + exp(beta z)) / beta, which tends to the
/// ReLU's as beta grows. Only the backward changes: the forward (and so z) stays the ReLU
/// network's. Ghorbani et al. 2019 smooth ReLU this way to get non-zero second derivatives of
/// the input gradient (the fragility top-k attack, attribution/metrics/fragility_topk.h).
/// Throws RuleError for beta <= 0, on other op kinds and on CUDA signals (CPU only).
RulePtr softplus_gradient(float beta = 10.0f);
/// DeepLIFT Rescale (Shrikumar et al. 2017) as Captum implements it. Needs a paired reference
/// tape (TapeOptions::paired_reference). Element-wise nonlinearities: multiplier dy/dx between
/// input and reference (the plain gradient where |dx| < eps); softmax: the same, minus its mean
/// over each item; maxpool2d: Captum's cross-maximum unpooling; other nodes: plain gradient.
RulePtr deeplift_rescale(float eps = 1e-10f);

// --- LRP (Bach et al. 2015; Montavon et al. 2019), Zennit 0.5.1 definitions ------------------------

/// LRP-epsilon; epsilon = 0 gives LRP-0.
RulePtr epsilon(float eps = 1e-6f);
/// LRP-z+ (alpha=1, beta=0 with negative inputs allowed, as Zennit).
RulePtr zplus(float stabilizer = 1e-6f);
/// LRP-alpha-beta; alpha - beta must be 1, both >= 0.
RulePtr alpha_beta(float alpha = 2.0f, float beta = 1.0f, float stabilizer = 1e-6f);
/// Generalised LRP-gamma (Montavon et al. 2019; Andeol et al. 2021).
RulePtr gamma(float gamma = 0.25f, float stabilizer = 1e-6f);
/// LRP-z^B (box) for inputs bounded by [low, high] (scalars).
RulePtr zbox(float low, float high, float stabilizer = 1e-6f);
/// LRP-z^B with per-channel or per-element bounds broadcastable to the node input.
RulePtr zbox(Tensor low, Tensor high, float stabilizer = 1e-6f);
/// LRP-flat (Lapuschkin et al. 2019): uniform redistribution over the receptive field.
RulePtr flat(float stabilizer = 1e-6f);
/// LRP-w^2 (Montavon et al. 2017).
RulePtr wsquare(float stabilizer = 1e-6f);
/// Norm: R_in = x * R / stabilize(z), parameters untouched. For pooling, sums and residual adds
/// (an Add node splits R between its two addends in proportion to their values).
RulePtr norm(float stabilizer = 1e-6f);
/// Pass: relevance passes unchanged through an element-wise node (activations, batchnorm-as-identity).
RulePtr pass();

// --- attention (transformers) ------------------------------------------------------------------

/// CP-LRP (Ali et al. 2022): attention probabilities are constants. On a softmax node nothing
/// flows back (zero); on a matmul whose first operand comes from a softmax node, only the second
/// operand receives signal; on layernorm (and group_norm: lrp_layernorm_identity takes both) the
/// normalisation scale is a constant.
RulePtr cp_lrp_softmax();
RulePtr cp_lrp_matmul();
RulePtr lrp_layernorm_identity();
/// AttnLRP (Achtibat et al. ICML 2024): softmax rule R_in = x * (R - y * sum(R)) (in gradient
/// form g_in = g - sum(g*y)... see docs/rules.md), uniform epsilon rule for bilinear matmul
/// (half the relevance to each operand), identity rule for layernorm's normalisation.
RulePtr attnlrp_softmax();
RulePtr attnlrp_matmul(float eps = 1e-6f);

}  // namespace backlight
