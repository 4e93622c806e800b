// lrp and layer_lrp against Captum 0.8's LRP / LayerLRP on a VGG-style net with BatchNorm (max and
// average pooling). Fixture: tools/reference/make_lrp_fixtures.py, which explains Captum's rule
// assignment; the rule sets below mirror it. max |ours - Captum| <= 1e-4 * max |Captum|.
#include "attribution/gradient/gradient_methods.h"
#include "attribution/layer/layer_methods.h"
#include "engine/rules/builtin.h"
#include "tests/parity_nets.h"

using namespace backlight;
using namespace backlight::test;

namespace {

const SafeTensorsFile& fixture() {
  static const SafeTensorsFile f =
      read_safetensors(std::string(BACKLIGHT_TEST_DATA) + "/attribution/lrp_parity.safetensors");
  return f;
}
Tensor get(const std::string& name) { return fixture_tensor(fixture(), name); }

const Target kTargets = Target::indices({3, 7});
constexpr float kCaptumEpsilon = 1e-9f;  // Captum's EpsilonRule default and STABILITY_FACTOR

// Captum's default LRP: EpsilonRule(1e-9) on every conv, linear, batchnorm and pooling module (max
// pooling: the epsilon rule sends x_max * R / (x_max + eps) = R to the maximum, i.e. the gradient,
// the fallback); ReLU and Dropout pass relevance unchanged. BatchNorm is a node of its own.
RuleSet captum_default_rules() {
  return std::move(RuleSet("captum_lrp")
                       .when(any_kind({OpKind::Relu, OpKind::Dropout}), pass())
                       .when(any_kind({OpKind::Conv2d, OpKind::Linear, OpKind::BatchNorm}), epsilon(kCaptumEpsilon))
                       .when(any_kind({OpKind::AvgPool2d, OpKind::AdaptiveAvgPool2d}), norm(kCaptumEpsilon)));
}

// Captum's GammaRule / Alpha1_Beta0_Rule: the weight becomes w + gamma w+ (or w+), the bias and the
// inputs stay, one group over all outputs - not Zennit's gamma / alpha-beta (engine/rules/builtin.h), which
// split by signs. As LRP data (engine/rules/lrp.h). The fixture keeps epsilon on the first conv
// (see make_lrp_fixtures.py: gamma there is ill-conditioned in float32).
RulePtr captum_weight_rule(const std::string& name, ParamMod weight) {
  return make_lrp_rule(name, LrpSpec{.groups = {LrpGroup{.terms = {LrpTerm{.weight = std::move(weight)}}}},
                                     .stabilizer = kCaptumEpsilon});
}

RuleSet captum_gamma_rules() {
  return std::move(RuleSet("captum_lrp_gamma")
                       .when(any_kind({OpKind::Relu, OpKind::Dropout}), pass())
                       .when(name_glob("classifier.0"), captum_weight_rule("captum_alpha1_beta0", ParamMod::positive()))
                       .when(kind(OpKind::Conv2d) && !first_matching(kind(OpKind::Conv2d)),
                             captum_weight_rule("captum_gamma", ParamMod::gamma_positive(0.25f)))
                       .when(any_kind({OpKind::Conv2d, OpKind::Linear, OpKind::BatchNorm}), epsilon(kCaptumEpsilon))
                       .when(any_kind({OpKind::AvgPool2d, OpKind::AdaptiveAvgPool2d}), norm(kCaptumEpsilon)));
}

// The parity criterion (parity_nets.h), reporting the error found (shown with -s).
void check(const Tensor& got, const Tensor& ref) {
  REQUIRE(got.shape() == ref.shape());
  double worst = 0;
  for (int64_t i = 0; i < ref.numel(); ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(got.data()[i]) - ref.data()[i]));
  MESSAGE("max abs err ", worst, " = ", worst / max_abs(ref), " x max |ref|");
  check_parity(got, ref);
}

// Captum's delta is f_t(x) - sum(relevance), a residual of the order of the biases' share: compare
// it with the per-element tolerance times sqrt(elements per item) (independent rounding errors).
void check_delta(const AttributionResult& r, const Tensor& ref_attr, const std::string& ref_delta) {
  const Tensor d = get(ref_delta);
  REQUIRE(r.delta.defined());
  REQUIRE(r.delta.numel() == d.numel());
  const double per_item = static_cast<double>(ref_attr.numel() / ref_attr.size(0));
  const double limit = 1e-4 * max_abs(ref_attr) * std::sqrt(per_item) + 1e-5;
  for (int64_t n = 0; n < d.numel(); ++n) {
    CAPTURE(n);
    CHECK(std::fabs(r.delta.data()[n] - d.data()[n]) <= limit);
  }
}

}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("parity: lrp equals Captum LRP (default epsilon rules; BatchNorm merged or as its own node)") {
  const Tensor x = get("input");
  const RuleSet captum = captum_default_rules();
  for (const std::string net : {"small_vgg_bn", "small_vgg_bn_avgpool"}) {
    CAPTURE(net);
    const ModulePtr m = make_net(net);
    const Tensor ref = get(net + "/lrp");
    // The rule set as Captum assigns it, BatchNorm kept as a node.
    const AttributionResult own =
        lrp(*m, x, kTargets, {.rule_set = &captum, .merge_batchnorm = false, .multiply_by_output = true});
    check(own.attribution, ref);
    check_delta(own, ref, net + "/lrp_delta");
    // The named set with Captum's epsilon, BatchNorm merged (the default): the same input relevance.
    const AttributionResult named =
        lrp(*m, x, kTargets,
            {.rules = "lrp_epsilon", .params = {{"epsilon", kCaptumEpsilon}, {"stabilizer", kCaptumEpsilon}},
             .multiply_by_output = true});
    check(named.attribution, ref);
    // Without multiply_by_output the relevance starts from 1: Captum's divided by the logit.
    const AttributionResult unit = lrp(*m, x, kTargets, {.rule_set = &captum, .merge_batchnorm = false});
    Tensor scaled = unit.attribution.clone();
    const int64_t per = scaled.numel() / 2;
    for (int64_t n = 0; n < 2; ++n)
      for (int64_t i = n * per; i < (n + 1) * per; ++i) scaled.data()[i] *= own.output.at({n, n == 0 ? 3 : 7});
    check(scaled, ref);
  }
  // Captum's GammaRule on the convolutions and Alpha1_Beta0_Rule on the first linear layer.
  const RuleSet gamma = captum_gamma_rules();
  const AttributionResult g =
      lrp(*make_net("small_vgg_bn"), x, kTargets,
          {.rule_set = &gamma, .merge_batchnorm = false, .multiply_by_output = true});
  check(g.attribution, get("small_vgg_bn/lrp_gamma"));
  check_delta(g, get("small_vgg_bn/lrp_gamma"), "small_vgg_bn/lrp_gamma_delta");
  // Zennit's gamma (backlight's gamma()) is a different rule: it must not match by accident.
  const RuleSet zennit_gamma = RuleSet("zennit_gamma")
                                   .when(any_kind({OpKind::Relu, OpKind::Dropout}), pass())
                                   .when(kind(OpKind::Conv2d) && !first_matching(kind(OpKind::Conv2d)),
                                         backlight::gamma(0.25f, kCaptumEpsilon))
                                   .when(name_glob("classifier.0"), alpha_beta(1.0f, 0.0f, kCaptumEpsilon))
                                   .when(any_kind({OpKind::Conv2d, OpKind::Linear, OpKind::BatchNorm}),
                                         epsilon(kCaptumEpsilon))
                                   .when(any_kind({OpKind::AvgPool2d, OpKind::AdaptiveAvgPool2d}),
                                         norm(kCaptumEpsilon));
  const Tensor other = lrp(*make_net("small_vgg_bn"), x, kTargets,
                           {.rule_set = &zennit_gamma, .merge_batchnorm = false, .multiply_by_output = true})
                           .attribution;
  const Tensor ref = get("small_vgg_bn/lrp_gamma");
  CHECK_FALSE(allclose_report(other, ref, 1e-4 * max_abs(ref), 0.0).empty());
}

TEST_CASE("parity: layer_lrp equals Captum LayerLRP at conv, batchnorm, pooling and linear layers") {
  const Tensor x = get("input");
  const RuleSet captum = captum_default_rules();
  for (const std::string net : {"small_vgg_bn", "small_vgg_bn_avgpool"}) {
    const ModulePtr m = make_net(net);
    for (const std::string layer : {"features.0", "features.1", "features.6", "features.7", "features.8", "avgpool",
                                    "classifier.0", "classifier.3"}) {
      CAPTURE(net);
      CAPTURE(layer);
      const std::string name = net + "/layer_lrp." + layer;
      const Tensor ref = get(name);
      const AttributionResult r = layer_lrp(
          *m, x, kTargets, {.layer = layer, .rule_set = &captum, .merge_batchnorm = false, .multiply_by_output = true});
      check(r.attribution, ref);
      check_delta(r, ref, name + "_delta");
      // With BatchNorm merged (backlight's default) the relevance at a layer after the BatchNorm
      // is unchanged; at the conv before it, the merged conv outputs the BatchNorm's value, so its
      // relevance is what Captum reports for the BatchNorm (docs/methods.md, layer_lrp).
      const AttributionResult merged = layer_lrp(
          *m, x, kTargets, {.layer = layer, .rule_set = &captum, .merge_batchnorm = true, .multiply_by_output = true});
      const std::string after_merge = layer == "features.0"   ? "features.1"
                                      : layer == "features.7" ? "features.8"
                                                              : layer;
      check(merged.attribution, get(net + "/layer_lrp." + after_merge));
    }
  }
  const RuleSet gamma = captum_gamma_rules();
  const AttributionResult g = layer_lrp(*make_net("small_vgg_bn"), x, kTargets,
                                        {.layer = "features.7", .rule_set = &gamma, .merge_batchnorm = false,
                                         .multiply_by_output = true});
  check(g.attribution, get("small_vgg_bn/layer_lrp_gamma.features.7"));
  check_delta(g, get("small_vgg_bn/layer_lrp_gamma.features.7"), "small_vgg_bn/layer_lrp_gamma.features.7_delta");
}

}  // TEST_SUITE
