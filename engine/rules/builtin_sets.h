#pragma once
/// Named built-in rule sets (the CLI's --rules, mirroring Zennit's composites) and their
/// parameters by name (the CLI's --rule-param gamma=0.5). The table is built on each call to
/// builtin_rule_sets() - no static registry - and every rule set is an independent value.
///
///   gradient                       plain gradient everywhere
///   guided_backprop / deconvnet    modified ReLU gradients
///   deeplift                       DeepLIFT Rescale (needs a paired reference tape)
///   lrp_epsilon                    epsilon on conv and linear
///   lrp_epsilon_plus               z+ on conv, epsilon on linear           (Zennit EpsilonPlus)
///   lrp_epsilon_plus_flat          + flat on the first conv/linear         (EpsilonPlusFlat)
///   lrp_epsilon_gamma_box          z-box first conv, gamma conv, epsilon linear (EpsilonGammaBox)
///   lrp_epsilon_alpha2_beta1       alpha2-beta1 conv, epsilon linear       (EpsilonAlpha2Beta1)
///   lrp_epsilon_alpha2_beta1_flat  + flat on the first conv/linear         (EpsilonAlpha2Beta1Flat)
///   lrp_alpha1_beta0               alpha1-beta0 on conv and linear
///   cp_lrp / attnlrp               transformer rules (attention, layernorm, bilinear matmul)
/// Every LRP set shares Zennit's base map: activations -> pass, residual add / average pooling /
/// mean -> norm, batchnorm -> pass.
#include <map>
#include <string>
#include <vector>

#include "engine/rules/rule_set.h"

namespace backlight {

/// Parameter values by name; unknown names are an error at make_rule_set().
using RuleParams = std::map<std::string, float, std::less<>>;

struct RuleParamInfo {
  std::string name;
  float default_value;
  std::string description;
};

struct NamedRuleSet {
  std::string name;
  std::string description;
  std::vector<RuleParamInfo> params;
  bool needs_reference = false;  ///< true for deeplift (paired reference tape)
};

/// All built-in rule sets with their parameters, in listing order.
std::vector<NamedRuleSet> builtin_rule_sets();
/// Builds a named rule set; throws RuleError naming the unknown set (listing the known ones), an
/// unknown parameter (listing the accepted ones) or an invalid value.
RuleSet make_rule_set(std::string_view name, const RuleParams& params = {});
/// Parses "key=value" (the CLI's --rule-param); throws naming the text and the expected form.
std::pair<std::string, float> parse_rule_param(std::string_view text);

}  // namespace backlight
