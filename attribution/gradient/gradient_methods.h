#pragma once
/// Single-backward attribution methods: the gradient under a rule set, optionally times the
/// input. Each takes the model, a batch of inputs [N, ...], the target, and its options; each
/// runs one forward and one backward (no parameter gradients) for the whole batch.
/// With a CUDA workspace (model and inputs on its device) the attribution and output of every
/// method but lrp stay on the device (attribute() copies them back once; see on_device.h); lrp
/// brings them to the host for its relevance bookkeeping.
#include "attribution/core/pass.h"
#include "attribution/core/result.h"
#include "engine/rules/builtin_sets.h"

namespace backlight {

struct SaliencyOptions {
  bool abs = true;  ///< Captum's default: |gradient|
  const Workspace* workspace = nullptr;
};
/// Saliency (Simonyan et al. 2014): d target / d input (absolute value by default, as Captum).
AttributionResult saliency(const Module& model, const Tensor& inputs, const Target& target,
                           const SaliencyOptions& options = {});

struct InputXGradientOptions {
  const Workspace* workspace = nullptr;
};
/// Input x gradient (Shrikumar et al. 2016).
AttributionResult input_x_gradient(const Module& model, const Tensor& inputs, const Target& target,
                                   const InputXGradientOptions& options = {});

struct ModifiedGradientOptions {
  const Workspace* workspace = nullptr;
};
/// Guided backpropagation (Springenberg et al. 2015), as Captum GuidedBackprop.
AttributionResult guided_backprop_attribution(const Module& model, const Tensor& inputs, const Target& target,
                                              const ModifiedGradientOptions& options = {});
/// Deconvolution (Zeiler & Fergus 2014), as Captum Deconvolution.
AttributionResult deconvolution(const Module& model, const Tensor& inputs, const Target& target,
                                const ModifiedGradientOptions& options = {});

struct LrpOptions {
  /// A built-in rule set name (engine/rules/builtin_sets.h), or "auto": cp_lrp for models with attention,
  /// lrp_epsilon_gamma_box for gates/normalisers (SiLU, squeeze-excitation, layernorm), else
  /// lrp_epsilon_plus_flat (read from the recorded forward, lrp_relevance.h auto_lrp_rules).
  std::string rules = "auto";
  RuleParams params;                             ///< its parameters by name
  const RuleSet* rule_set = nullptr;             ///< a custom rule set instead of `rules`
  bool merge_batchnorm = true;                   ///< fold BatchNorm into conv/linear first (Zennit canonizers)
  /// Captum's LRP starts from the target's value f_t(x) (its relevances sum to about the logit);
  /// the default starts from 1, as Zennit's one-hot attr_output.
  bool multiply_by_output = false;
  const Workspace* workspace = nullptr;
};
/// Layer-wise relevance propagation: relevance of the input for the target logit, seeded with 1
/// (or f_t(x), multiply_by_output). Under conserving rules it sums to about the start value;
/// delta[n] = start - sum(attr[n]) (Captum's LRP delta); relevance_start, relevance_sum and
/// conservation_error report conservation per item, rule_set the rule set that ran.
AttributionResult lrp(const Module& model, const Tensor& inputs, const Target& target, const LrpOptions& options = {});

/// Any rule set: the backward signal at the input (building block for the methods above).
AttributionResult rule_set_attribution(const Module& model, const Tensor& inputs, const Target& target,
                                       const RuleSet& rules, const Workspace* workspace = nullptr);

}  // namespace backlight
