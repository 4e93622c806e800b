#include "engine/rules/builtin_sets.h"

#include <charconv>
#include <cmath>

#include "engine/rules/builtin.h"
#include "engine/rules/gate.h"

namespace backlight {

namespace {

const std::vector<RuleParamInfo> kLrpParams = {
    {"epsilon", 1e-6f, "epsilon of the epsilon rule (linear layers)"},
    {"stabilizer", 1e-6f, "stabiliser of the other rules' denominators"},
};

std::vector<RuleParamInfo> with(std::vector<RuleParamInfo> extra) {
  std::vector<RuleParamInfo> p = kLrpParams;
  p.insert(p.end(), extra.begin(), extra.end());
  return p;
}

// Kinds by their nonlinearity column in engine/op_kinds.def, in table order.
Matcher kinds_with(std::initializer_list<Nonlinearity> which) {
  std::vector<OpKind> ks;
  for (OpKind k : all_op_kinds())
    for (Nonlinearity n : which)
      if (facts_of(k).nonlinearity == n) ks.push_back(k);
  return any_kind(ks);
}
Matcher activations() { return kinds_with({Nonlinearity::ReluLike, Nonlinearity::Smooth}); }
Matcher relu_like() { return kinds_with({Nonlinearity::ReluLike}); }
Matcher conv() { return kind(OpKind::Conv2d); }
Matcher dense() { return kind(OpKind::Linear); }
Matcher conv_or_dense() { return any_kind({OpKind::Conv2d, OpKind::Linear}); }
// Mul, pow_tensor, and Div once the op table has it (looked up by name: engine/rules/gate.h).
Matcher products() {
  std::vector<OpKind> ks{OpKind::Mul, OpKind::PowTensor};
  if (const auto div = op_kind_from_string("div")) ks.push_back(*div);
  return any_kind(ks);
}

// Zennit's layer_map_base: activations pass, sums and average pools normalise, batchnorm passes.
// Beyond Zennit (LXT / AttnLRP, docs/rules.md "Gates and normalisers"): products of activations
// (SiLU spelt Sigmoid*Mul, squeeze-excitation, GLU) and divisions keep their gate or normaliser
// constant, layernorm's scale is constant, scalar scales and inference dropout pass, and sub
// normalises like add. On a plain CNN none of these nodes occur, so Zennit parity is untouched.
RuleSet& add_base(RuleSet& rs, float stab) {
  rs.when(activations(), pass())
      .when(products(), gated_product())
      .when(any_kind({OpKind::LayerNorm, OpKind::GroupNorm}), lrp_layernorm_identity())
      .when(any_kind({OpKind::Scale, OpKind::Dropout}), pass())
      .when(any_kind({OpKind::Add, OpKind::Sub}), norm(stab))
      .when(any_kind({OpKind::AvgPool2d, OpKind::AdaptiveAvgPool2d, OpKind::Mean, OpKind::Sum}), norm(stab))
      .when(kind(OpKind::BatchNorm), pass());
  return rs;
}

RuleSet& add_attention(RuleSet& rs, bool attnlrp, float eps, float stab) {
  rs.when(kind(OpKind::Softmax), attnlrp ? attnlrp_softmax() : cp_lrp_softmax())
      .when(kind(OpKind::MatMul), attnlrp ? attnlrp_matmul(stab) : cp_lrp_matmul())
      .when(any_kind({OpKind::LayerNorm, OpKind::GroupNorm}), lrp_layernorm_identity())
      .when(any_kind({OpKind::Linear, OpKind::Conv2d, OpKind::Scale}), epsilon(eps));
  return add_base(rs, stab);
}

struct Builder {
  NamedRuleSet info;
  RuleSet (*make)(const RuleParams&);
};

float get(const RuleParams& p, const char* name, float fallback) {
  auto it = p.find(name);
  return it == p.end() ? fallback : it->second;
}

const std::vector<Builder>& builders() {
  // A function-local table of plain data and function pointers: immutable after first use.
  static const std::vector<Builder> table = {
      {{"gradient", "plain gradient (saliency)", {}, false}, [](const RuleParams&) { return RuleSet("gradient"); }},
      {{"guided_backprop", "guided backpropagation on ReLUs (Springenberg et al. 2015)", {}, false},
       [](const RuleParams&) { return RuleSet("guided_backprop").when(relu_like(), guided_backprop()); }},
      {{"deconvnet", "deconvnet on ReLUs (Zeiler & Fergus 2014)", {}, false},
       [](const RuleParams&) { return RuleSet("deconvnet").when(relu_like(), deconvnet()); }},
      {{"deeplift", "DeepLIFT Rescale as Captum (needs a reference/baseline pass)", {}, true},
       [](const RuleParams&) { return RuleSet("deeplift").otherwise(deeplift_rescale()); }},
      {{"lrp_epsilon", "LRP-epsilon on every conv and linear layer", kLrpParams, false},
       [](const RuleParams& p) {
         RuleSet rs("lrp_epsilon");
         add_base(rs, get(p, "stabilizer", 1e-6f));
         return std::move(rs.when(conv_or_dense(), epsilon(get(p, "epsilon", 1e-6f))));
       }},
      {{"lrp_epsilon_plus", "z+ on conv, epsilon on linear (Zennit EpsilonPlus)", kLrpParams, false},
       [](const RuleParams& p) {
         const float stab = get(p, "stabilizer", 1e-6f);
         RuleSet rs("lrp_epsilon_plus");
         add_base(rs, stab);
         return std::move(rs.when(conv(), zplus(stab)).when(dense(), epsilon(get(p, "epsilon", 1e-6f))));
       }},
      {{"lrp_epsilon_plus_flat", "flat first layer, z+ conv, epsilon linear (Zennit EpsilonPlusFlat)", kLrpParams,
        false},
       [](const RuleParams& p) {
         const float stab = get(p, "stabilizer", 1e-6f);
         RuleSet rs("lrp_epsilon_plus_flat");
         rs.when(first_matching(conv_or_dense()), flat(stab));
         add_base(rs, stab);
         return std::move(rs.when(conv(), zplus(stab)).when(dense(), epsilon(get(p, "epsilon", 1e-6f))));
       }},
      {{"lrp_epsilon_gamma_box", "z-box first conv, gamma conv, epsilon linear (Zennit EpsilonGammaBox)",
        with({{"gamma", 0.25f, "gamma of the gamma rule"},
              {"low", -3.0f, "lowest input value (z-box)"},
              {"high", 3.0f, "highest input value (z-box)"}}),
        false},
       [](const RuleParams& p) {
         const float stab = get(p, "stabilizer", 1e-6f);
         RuleSet rs("lrp_epsilon_gamma_box");
         rs.when(first_matching(conv()), zbox(get(p, "low", -3.0f), get(p, "high", 3.0f), stab));
         add_base(rs, stab);
         return std::move(
             rs.when(conv(), gamma(get(p, "gamma", 0.25f), stab)).when(dense(), epsilon(get(p, "epsilon", 1e-6f))));
       }},
      {{"lrp_epsilon_alpha2_beta1", "alpha2-beta1 conv, epsilon linear (Zennit EpsilonAlpha2Beta1)", kLrpParams,
        false},
       [](const RuleParams& p) {
         const float stab = get(p, "stabilizer", 1e-6f);
         RuleSet rs("lrp_epsilon_alpha2_beta1");
         add_base(rs, stab);
         return std::move(
             rs.when(conv(), alpha_beta(2.0f, 1.0f, stab)).when(dense(), epsilon(get(p, "epsilon", 1e-6f))));
       }},
      {{"lrp_epsilon_alpha2_beta1_flat", "flat first layer, alpha2-beta1 conv, epsilon linear (Zennit)", kLrpParams,
        false},
       [](const RuleParams& p) {
         const float stab = get(p, "stabilizer", 1e-6f);
         RuleSet rs("lrp_epsilon_alpha2_beta1_flat");
         rs.when(first_matching(conv_or_dense()), flat(stab));
         add_base(rs, stab);
         return std::move(
             rs.when(conv(), alpha_beta(2.0f, 1.0f, stab)).when(dense(), epsilon(get(p, "epsilon", 1e-6f))));
       }},
      {{"lrp_alpha1_beta0", "alpha-beta (default alpha=1, beta=0) on conv and linear",
        {{"alpha", 1.0f, "weight of positive contributions"},
         {"beta", 0.0f, "weight of negative contributions (alpha - beta = 1)"},
         {"stabilizer", 1e-6f, "denominator stabiliser"}},
        false},
       [](const RuleParams& p) {
         const float stab = get(p, "stabilizer", 1e-6f);
         RuleSet rs("lrp_alpha1_beta0");
         add_base(rs, stab);
         return std::move(rs.when(conv_or_dense(), alpha_beta(get(p, "alpha", 1.0f), get(p, "beta", 0.0f), stab)));
       }},
      {{"cp_lrp", "CP-LRP for transformers: attention weights constant (Ali et al. 2022)", kLrpParams, false},
       [](const RuleParams& p) {
         RuleSet rs("cp_lrp");
         return std::move(add_attention(rs, false, get(p, "epsilon", 1e-6f), get(p, "stabilizer", 1e-6f)));
       }},
      {{"attnlrp", "AttnLRP for transformers (Achtibat et al. 2024)", kLrpParams, false},
       [](const RuleParams& p) {
         RuleSet rs("attnlrp");
         return std::move(add_attention(rs, true, get(p, "epsilon", 1e-6f), get(p, "stabilizer", 1e-6f)));
       }},
  };
  return table;
}

}  // namespace

std::vector<NamedRuleSet> builtin_rule_sets() {
  std::vector<NamedRuleSet> out;
  for (const Builder& b : builders()) out.push_back(b.info);
  return out;
}

RuleSet make_rule_set(std::string_view name, const RuleParams& params) {
  for (const Builder& b : builders()) {
    if (b.info.name != name) continue;
    for (const auto& [key, value] : params) {
      bool known = false;
      std::string accepted;
      for (const RuleParamInfo& pi : b.info.params) {
        known |= pi.name == key;
        accepted += (accepted.empty() ? "" : ", ") + pi.name;
      }
      if (!known)
        throw RuleError(detail::concat("rule set '", name, "': unknown parameter '", key, "' (accepted: ",
                                       accepted.empty() ? "none" : accepted, ")"));
      if (!std::isfinite(value))
        throw RuleError(detail::concat("rule set '", name, "': parameter '", key, "' must be finite, got ", value));
    }
    return b.make(params);
  }
  std::string known;
  for (const Builder& b : builders()) known += (known.empty() ? "" : ", ") + b.info.name;
  throw RuleError(detail::concat("unknown rule set '", name, "' (known: ", known, ")"));
}

std::pair<std::string, float> parse_rule_param(std::string_view text) {
  const size_t eq = text.find('=');
  if (eq == std::string_view::npos || eq == 0 || eq + 1 == text.size())
    throw RuleError(detail::concat("rule parameter '", text, "': expected key=value, e.g. gamma=0.5"));
  const std::string value(text.substr(eq + 1));
  char* end = nullptr;
  const float v = std::strtof(value.c_str(), &end);
  if (end != value.c_str() + value.size() || !std::isfinite(v))
    throw RuleError(detail::concat("rule parameter '", text, "': value '", value, "' is not a finite number"));
  return {std::string(text.substr(0, eq)), v};
}

}  // namespace backlight
