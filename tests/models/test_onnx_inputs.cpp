// Non-image inputs of imported models against Captum (tools/reference/make_onnx_fixtures.py,
// inputs_references): a text encoder on int64 token ids - LayerIntegratedGradients and
// LayerGradientXActivation on the embedding with token baselines - and a ReLU/Tanh tabular MLP -
// forward, Saliency, IntegratedGradients, DeepLift. The CLI's use of them (per-token sums, the
// method twins) is tested in tests/cli/test_explain_inputs.cpp.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "attribution/registry.h"
#include "models/onnx/model.h"
#include "models/safetensors.h"
#include "tests/helpers.h"
#include "tests/models/onnx_fixtures.h"

using namespace backlight;

namespace {

const std::string kDir = BACKLIGHT_TEST_DATA "/onnx/";

const SafeTensorsFile& refs() { return test::onnx_refs("onnx_inputs.safetensors"); }
const Tensor& fixture(const std::string& key) { return test::onnx_fixture("onnx_inputs.safetensors", key); }

Target targets(const std::string& key) {
  return Target::indices(nlohmann::json::parse(refs().metadata.at(key)).get<std::vector<int64_t>>());
}

double rel_err(const Tensor& got, const Tensor& want) { return test::onnx_rel_err(got, want); }

// [N, T, D] -> [N, T]: the per-token sum the CLI shows.
Tensor per_token(const Tensor& a) {
  const int64_t n = a.size(0), t = a.size(1), d = a.numel() / (n * t);
  Tensor out = Tensor::zeros({n, t});
  for (int64_t i = 0; i < n * t; ++i)
    for (int64_t k = 0; k < d; ++k) out.data()[i] += a.data()[i * d + k];
  return out;
}

}  // namespace

TEST_SUITE("models") {
  TEST_CASE("onnx inputs: text encoder on token ids - logits and Captum LayerIntegratedGradients on the embedding") {
    const ModulePtr m = load_onnx_model(kDir + "text_encoder.onnx");
    const Tensor ids = fixture("text.ids");
    Tape tape;
    CHECK(rel_err(m->forward(tape.input(ids)).value(), fixture("text.logits")) <= 1e-4);

    MethodOptions o;
    o.layer = "embedding";
    o.steps = std::stoi(refs().metadata.at("ig_steps"));
    const Target t = targets("text_targets");
    SUBCASE("baseline token 0 (padding): full layer attribution and per-token sums") {
      o.baselines = {Baseline::constant(0.0f)};
      const AttributionResult r = attribute("layer_integrated_gradients", *m, ids, t, o);
      CHECK(rel_err(r.attribution, fixture("text.lig_full")) <= 1e-4);
      CHECK(rel_err(per_token(r.attribution), fixture("text.lig")) <= 1e-4);
    }
    SUBCASE("baseline token 7") {
      o.baselines = {Baseline::constant(7.0f)};
      CHECK(rel_err(per_token(attribute("layer_integrated_gradients", *m, ids, t, o).attribution),
                    fixture("text.lig_b7")) <= 1e-4);
    }
    SUBCASE("LayerGradientXActivation on the embedding") {
      CHECK(rel_err(per_token(attribute("layer_gradient_x_activation", *m, ids, t, o).attribution),
                    fixture("text.lgxa")) <= 1e-4);
    }
  }

  TEST_CASE("onnx inputs: tabular ReLU/Tanh MLP - logits, Captum Saliency, IntegratedGradients, DeepLift") {
    const ModulePtr m = load_onnx_model(kDir + "tabular_relu_mlp.onnx");
    const Tensor x = fixture("tabular_relu_mlp.input");
    Tape tape;
    CHECK(rel_err(m->forward(tape.input(x)).value(), fixture("tabular_relu_mlp.logits")) <= 1e-4);
    const Target t = targets("tabular_relu_mlp_targets");
    MethodOptions o;
    o.steps = std::stoi(refs().metadata.at("ig_steps"));
    for (const auto& [method, key] : std::vector<std::pair<std::string, std::string>>{
             {"saliency", "saliency"}, {"integrated_gradients", "ig"}, {"deeplift", "deeplift"}}) {
      CAPTURE(method);
      CHECK(rel_err(attribute(method, *m, x, t, o).attribution, fixture("tabular_relu_mlp." + key)) <= 1e-4);
    }
  }
}
