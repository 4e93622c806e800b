// LRP on imported torchvision architectures (tiny sizes, random weights; fixtures written by
// tools/reference/make_onnx_lrp_fixtures.py, tiny_swin by make_onnx_swin_fixtures.py): the default
// rule set follows the graph, and with biases, BatchNorm shifts, the class token and position
// embeddings zeroed - the places where LRP rules lose relevance by design - the input relevance sums to the start value (ViT: input plus
// the graph's constants, class token and position embedding). The same models under the rule set
// without the gate rules (mul as the plain gradient) do not conserve.
#include <doctest/doctest.h>

#include <cmath>
#include <string>

#include "attribution/gradient/gradient_methods.h"
#include "attribution/gradient/lrp_relevance.h"
#include "engine/backward.h"
#include "engine/rules/builtin.h"
#include "engine/rules/builtin_sets.h"
#include "engine/rules/rule_set.h"
#include "models/onnx/model.h"
#include "models/safetensors.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

const std::string kDir = std::string(BACKLIGHT_TEST_DATA) + "/onnx/";

bool ends_with(const std::string& s, std::string_view tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Zeroes what absorbs relevance: biases (conv, linear, layernorm, attention projections),
// BatchNorm running means (with zero biases the folded bias is then zero), class token and
// position embeddings.
void zero_absorbers(Module& m) {
  auto zero = [&](const std::string& name, const Tensor& t) {
    if (ends_with(name, "bias") || ends_with(name, "running_mean") || ends_with(name, "class_token") ||
        ends_with(name, "pos_embedding"))
      REQUIRE(m.set_tensor(name, Tensor::zeros(t.shape())));
  };
  for (const auto& [name, t] : m.named_parameters()) zero(name, t);
  for (const auto& [name, t] : m.named_buffers()) zero(name, t);
}

double total(const Tensor& t) {
  double s = 0;
  for (int64_t i = 0; i < t.numel(); ++i) s += t.data()[i];
  return s;
}

struct Case {
  const char* file;
  const char* rules;  // what "auto" must pick
  int64_t side = 32;  // input height and width
};

}  // namespace

TEST_SUITE("attribution") {

TEST_CASE("lrp on imported models: auto picks by graph; conserved where nothing absorbs relevance") {
  const Case cases[] = {{"tiny_efficientnet", "lrp_epsilon_gamma_box"},
                        {"tiny_mobilenetv3", "lrp_epsilon_gamma_box"},
                        {"tiny_convnext", "lrp_epsilon_gamma_box"},
                        {"tiny_vit", "cp_lrp"},
                        {"tiny_swin", "cp_lrp", 40},
                        {"tiny_groupnorm", "lrp_epsilon_gamma_box", 16}};
  // Stabilisers far below the activations, so the check sees the rules, not the epsilons.
  const RuleParams tiny{{"epsilon", 1e-12f}, {"stabilizer", 1e-12f}};
  for (const Case& c : cases) {
    const std::string file = c.file;
    CAPTURE(file);
    const ModulePtr model = load_onnx_model(kDir + file + ".onnx");
    std::mt19937_64 rng(kSeed);
    const Tensor x = uniform({2, 3, c.side, c.side}, rng, -1.0f, 1.0f);
    // As exported (random weights, biases, BatchNorm shifts): reported; with random weights the
    // biases take most of it, so this is a message, not a check.
    const AttributionResult r = lrp(*model, x, Target::top1());
    CHECK(r.rule_set == c.rules);
    REQUIRE(r.conservation_error.numel() == 2);
    MESSAGE(file, ": ", r.rule_set, " as exported: relevance sums ", r.relevance_sum.data()[0], ", ",
            r.relevance_sum.data()[1], " for a start of 1");
    zero_absorbers(*model);
    if (file == "tiny_vit") {
      // The class token and position embedding are constants of the graph (folded Expand/Add
      // operands, tape buffers), not module parameters: count the relevance they receive.
      Tape tape;
      const Var in = tape.input(x.clone());
      const Var y = model->forward(in);
      std::vector<Var> wrt{in};
      for (int v = 0; v < tape.num_values(); ++v)
        if (tape.value(v).role == ValueRole::Buffer) wrt.push_back(tape.var(v));
      Tensor seed = Tensor::zeros(y.shape());
      for (int64_t n = 0; n < 2; ++n) seed.data()[n * y.shape()[1] + 3] = 1.0f;
      const Var outs[] = {y};
      const Tensor seeds[] = {seed};
      const std::vector<Tensor> rel = backward(tape, outs, seeds, wrt, make_rule_set("cp_lrp", tiny));
      double sum = 0, at_input = total(rel[0]);
      for (const Tensor& t : rel) sum += total(t);
      MESSAGE("tiny_vit, zero biases: input ", at_input / 2, ", constants ", (sum - at_input) / 2, " per item");
      CHECK(sum == doctest::Approx(2.0).epsilon(2e-3));
      continue;
    }
    if (file == "tiny_swin") {
      // Shifted windows: relative position bias and window mask are added before the softmax,
      // which cp_lrp holds constant, and the padded tokens carry zero values, so no constant
      // takes relevance. torchvision writes F.dropout(attn) after the softmax; before cp_lrp's
      // matmul rule looked through that dropout, attn @ v took the uniform rule and the sums were
      // 0.977 and 0.967 (the relevance went into the softmax nodes: test_lrp_balance.cpp).
      // Without the layernorm rule (layernorm as the plain gradient) it is lost.
      const AttributionResult e = lrp(*model, x, Target::top1(), {.rules = "cp_lrp", .params = tiny});
      const RuleSet no_ln = RuleSet("cp_lrp_without_layernorm_rule")
                                .when(kind(OpKind::Softmax), cp_lrp_softmax())
                                .when(kind(OpKind::MatMul), cp_lrp_matmul())
                                .when(any_kind({OpKind::Linear, OpKind::Conv2d, OpKind::Scale}), epsilon(1e-12f))
                                .when(kind(OpKind::Gelu), pass())
                                .when(any_kind({OpKind::Add, OpKind::AdaptiveAvgPool2d}), norm(1e-12f));
      const AttributionResult bad = lrp(*model, x, Target::top1(), {.rule_set = &no_ln});
      for (int64_t n = 0; n < 2; ++n) {
        CAPTURE(e.relevance_sum.data()[n]);
        CAPTURE(bad.relevance_sum.data()[n]);
        CHECK(e.conservation_error.data()[n] < 2e-3);
        CHECK(bad.conservation_error.data()[n] > 0.2);
      }
      continue;
    }
    // Nothing left to absorb relevance: epsilon everywhere and the set auto picks conserve.
    for (const char* rules : {"lrp_epsilon", c.rules}) {
      const std::string rule_name = rules;
      CAPTURE(rule_name);
      const AttributionResult e = lrp(*model, x, Target::top1(), {.rules = rules, .params = tiny});
      for (int64_t n = 0; n < 2; ++n) {
        CAPTURE(e.relevance_sum.data()[n]);
        CHECK(e.conservation_error.data()[n] < 2e-3);
      }
    }
    // The gate rules are what makes it conserve: the same map with mul left to the plain gradient
    // (tiny_groupnorm: with group_norm left to it - the set has the layernorm rule only).
    if (file != "tiny_convnext") {  // ConvNeXt's only mul is the constant layer scale
      const RuleSet plain_mul =
          RuleSet("plain_mul")
              .when(any_kind({OpKind::Relu, OpKind::Relu6, OpKind::Sigmoid, OpKind::Gelu}), pass())
              .when(any_kind({OpKind::Scale, OpKind::Dropout, OpKind::BatchNorm}), pass())
              .when(kind(OpKind::LayerNorm), lrp_layernorm_identity())
              .when(any_kind({OpKind::Add, OpKind::Sub, OpKind::Mean, OpKind::Sum, OpKind::AvgPool2d,
                              OpKind::AdaptiveAvgPool2d}),
                    norm(1e-12f))
              .when(any_kind({OpKind::Conv2d, OpKind::Linear}), epsilon(1e-12f));
      const AttributionResult bad = lrp(*model, x, Target::top1(), {.rule_set = &plain_mul});
      CAPTURE(bad.relevance_sum.data()[0]);
      CHECK(bad.conservation_error.data()[0] > 0.05);
    }
  }
}

TEST_CASE("lrp on imported models: Zennit composites with BatchNorm merged on a plain CNN") {
  // plain_cnn_bn: BatchNorm after every conv and the first linear, exported with BatchNormalization
  // nodes; backlight folds them (merge_batchnorm) as Zennit's SequentialMergeBatchNorm does.
  const ModulePtr model = load_onnx_model(kDir + "plain_cnn_bn.onnx");
  const SafeTensorsFile refs = read_safetensors(kDir + "plain_cnn_bn_zennit.safetensors");
  const Tensor* x = refs.find("plain_cnn_bn.input");
  REQUIRE(x);
  for (const char* rules : {"lrp_epsilon_plus_flat", "lrp_epsilon_gamma_box", "lrp_epsilon_alpha2_beta1_flat"}) {
    const std::string name = rules;
    CAPTURE(name);
    const Tensor* want = refs.find("plain_cnn_bn." + name);
    REQUIRE(want);
    const AttributionResult r = lrp(*model, *x, Target::indices({1, 7}), {.rules = name});
    BL_CHECK_CLOSE(r.attribution, *want, 1e-4 * max_abs(*want), 0.0);
  }
  // Without folding, the BatchNorms pass relevance unchanged: a different (Zennit-less) result.
  const Tensor* want = refs.find("plain_cnn_bn.lrp_epsilon_plus_flat");
  const AttributionResult unfolded =
      lrp(*model, *x, Target::indices({1, 7}), {.rules = "lrp_epsilon_plus_flat", .merge_batchnorm = false});
  CHECK_FALSE(allclose_report(unfolded.attribution, *want, 1e-4 * max_abs(*want), 0.0).empty());
}

}  // TEST_SUITE
