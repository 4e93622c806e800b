// ONNX import: models exported by torch 1.13 (tools/reference/make_onnx_fixtures.py) load, run
// and attribute like the PyTorch model (float64 references: logits, input gradients, Captum
// saliency and integrated gradients), keep PyTorch's module paths in both export forms, conserve
// LRP relevance, and the imported zoo twin (lenet5) gives the zoo model's attributions.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "attribution/core/layer.h"
#include "attribution/registry.h"
#include "engine/canonize.h"
#include "engine/backward.h"
#include "models/onnx/model.h"
#include "models/safetensors.h"
#include "models/synthetic_weights.h"
#include "models/zoo.h"
#include "tests/helpers.h"
#include "tests/models/onnx_fixtures.h"

using namespace backlight;

namespace {

const std::string kDir = BACKLIGHT_TEST_DATA "/onnx/";

const SafeTensorsFile& refs() { return test::onnx_refs("onnx_parity.safetensors"); }
const Tensor& fixture(const std::string& key) { return test::onnx_fixture("onnx_parity.safetensors", key); }

std::vector<int64_t> targets(const std::string& model) {
  return nlohmann::json::parse(refs().metadata.at("targets")).at(model).get<std::vector<int64_t>>();
}

double rel_err(const Tensor& got, const Tensor& want) { return test::onnx_rel_err(got, want); }

// fixture name -> reference prefix (the default export is the same model as small_cnn)
std::string ref_name(const std::string& file) { return file == "small_cnn_default" ? "small_cnn" : file; }

}  // namespace

TEST_SUITE("models") {
  TEST_CASE("onnx: forward logits and input gradients match torch (both export forms, batch free)") {
    for (const std::string file : {"small_cnn", "small_cnn_default", "tabular_mlp", "lenet5", "every_op"}) {
      CAPTURE(file);
      const std::string r = ref_name(file);
      const ModulePtr m = load_onnx_model(kDir + file + ".onnx");  // loaded at batch 1, run at batch 2
      Tape tape;
      const Var x = tape.input(fixture(r + ".input"));
      const Var y = m->forward(x);
      CHECK(rel_err(y.value(), fixture(r + ".logits")) <= 1e-4);
      CHECK(rel_err(grad(y, fixture(r + ".cotangent"), x), fixture(r + ".input_grad")) <= 1e-4);
    }
  }

  TEST_CASE("onnx: Captum saliency and integrated gradients parity") {
    for (const std::string file : {"small_cnn", "small_cnn_default", "tabular_mlp", "lenet5", "every_op"}) {
      CAPTURE(file);
      const std::string r = ref_name(file);
      const ModulePtr m = load_onnx_model(kDir + file + ".onnx");
      const Tensor x = fixture(r + ".input");
      const Target t = Target::indices(targets(r));
      CHECK(rel_err(attribute("saliency", *m, x, t).attribution, fixture(r + ".saliency")) <= 1e-4);
      MethodOptions o;
      o.steps = std::stoi(refs().metadata.at("ig_steps"));
      CHECK(rel_err(attribute("integrated_gradients", *m, x, t, o).attribution, fixture(r + ".ig")) <= 1e-4);
    }
  }

  TEST_CASE("onnx: node names map to PyTorch module paths in both export forms") {
    for (const std::string file : {"small_cnn", "small_cnn_default"}) {
      CAPTURE(file);
      OnnxModelInfo info;
      const ModulePtr m = load_onnx_model(kDir + file + ".onnx", {}, &info);
      std::vector<std::string> names;
      for (const auto& l : info.layers) names.push_back(l.name + ":" + l.op);
      auto has = [&](const std::string& s) { return std::find(names.begin(), names.end(), s) != names.end(); };
      CHECK(has("conv1:conv2d"));
      CHECK(has("layer1.0.conv1:conv2d"));
      CHECK(has("layer1.0.relu:relu"));  // relu_1 (second call of the same module) -> relu
      CHECK(has("layer1.1.downsample.0:conv2d"));
      CHECK(has("layer1.1:add"));
      CHECK(has("dw.0:conv2d"));
      CHECK(has("dw.2:relu6"));  // Clip(0, 6)
      CHECK(has("avgpool:adaptive_avgpool2d"));
      CHECK(has("fc:linear"));
      CHECK(has("bn1:batchnorm") == (file == "small_cnn"));  // folded away by the default export
      CHECK(m->find("layer1.0.conv1") != nullptr);
      CHECK(m->find("layer1.0.conv1")->type_name() == "Conv2d");
      CHECK(info.input_shape == std::vector<int64_t>{1, 3, 32, 32});
      CHECK(info.num_classes == 10);
      if (file == "small_cnn") {  // state-dict names and metadata of the PRESERVE export
        CHECK(m->find("layer1.0.bn1")->type_name() == "BatchNorm2d");
        bool found = false;
        for (const auto& [name, t] : m->state_dict()) found |= name == "layer1.1.downsample.1.running_var";
        CHECK(found);
        CHECK(info.mean == std::vector<float>{0.5f, 0.5f, 0.5f});
        CHECK(info.image_size == std::vector<int64_t>{32, 32});
      }
      Tape tape;
      m->forward(tape.input(fixture("small_cnn.input")));
      CHECK(tape.node(layer_output_node(tape, "layer1")).name == "layer1.1.relu");
    }
  }

  TEST_CASE("onnx: GELU spelled out by the exporter becomes one gelu node") {
    OnnxModelInfo info;
    load_onnx_model(kDir + "tabular_mlp.onnx", {}, &info);
    int gelu = 0, mul = 0;
    for (const auto& l : info.layers) {
      gelu += l.op == "gelu";
      mul += l.op == "mul" || l.op == "scale";
    }
    CHECK(gelu == 1);
    CHECK(mul == 0);
  }

  TEST_CASE("onnx: LRP conserves relevance on the bias-free model; Grad-CAM finds layers by PyTorch name") {
    for (const std::string file : {"small_cnn", "small_cnn_default", "tabular_mlp"}) {
      CAPTURE(file);
      const ModulePtr m = load_onnx_model(kDir + file + ".onnx");
      // Biases and BatchNorm shifts absorb relevance; without them LRP-0 conserves exactly.
      int zeroed = 0;
      for (const auto& [name, t] : m->state_dict())
        if (name.ends_with(".bias") || name.ends_with(".running_mean"))
          zeroed += m->set_tensor(name, Tensor::zeros(t.shape()));
      CHECK(zeroed > 0);
      const std::string r = ref_name(file);
      const Tensor x = fixture(r + ".input");
      MethodOptions o;
      o.rules = "lrp_epsilon";
      o.rule_params["epsilon"] = 1e-9f;  // LRP-0
      const AttributionResult res = attribute("lrp", *m, x, Target::indices(targets(r)), o);
      // delta = logit - sum(R): zero up to float32 round-off of the (cancelling) relevances,
      // so bounded relative to sum |R|.
      const int64_t per = x.numel() / x.size(0);
      for (int64_t n = 0; n < x.size(0); ++n) {
        double mass = 0;
        for (int64_t i = 0; i < per; ++i) mass += std::fabs(res.attribution.data()[n * per + i]);
        CAPTURE(mass);
        CHECK(mass > 0);
        CHECK(std::fabs(res.delta.data()[n]) <= 1e-4 * mass);
      }
      if (file != "tabular_mlp") {
        MethodOptions c;
        c.layer = "layer1";
        const AttributionResult cam = attribute("grad_cam", *m, x, Target::indices(targets(r)), c);
        CHECK(cam.attribution.shape() == Shape{2, 1, 32, 32});
      }
    }
  }

  TEST_CASE("onnx: the imported zoo twin gives the zoo model's attributions") {
    const ModulePtr onnx_model = load_onnx_model(kDir + "lenet5.onnx");
    ModulePtr zoo = make_model("lenet5", {.num_classes = 10});
    fill_synthetic(*zoo, std::stoull(refs().metadata.at("seed")));
    const Tensor x = fixture("lenet5.input");
    const Target t = Target::indices(targets("lenet5"));
    for (const std::string method : {"saliency", "integrated_gradients", "lrp", "deeplift", "guided_backprop"}) {
      CAPTURE(method);
      const Tensor a = attribute(method, *onnx_model, x, t).attribution;
      const Tensor b = attribute(method, *zoo, x, t).attribution;
      CHECK(rel_err(a, b) <= 1e-5);
    }
    // Same module paths as the zoo: every zoo parameter exists under the same name.
    std::vector<std::string> zoo_names, onnx_names;
    for (const auto& [name, t2] : zoo->named_parameters()) zoo_names.push_back(name);
    for (const auto& [name, t2] : onnx_model->named_parameters()) onnx_names.push_back(name);
    CHECK(zoo_names == onnx_names);
  }
}

TEST_SUITE("models") {
  TEST_CASE("onnx: a text transformer (token ids, embedding, attention, LayerNorm, GELU) matches torch") {
    OnnxModelInfo info;
    const ModulePtr m = load_onnx_model(kDir + "text_encoder.onnx", {}, &info);
    CHECK(info.input_is_int);
    std::vector<std::string> names;
    for (const auto& l : info.layers) names.push_back(l.name + ":" + l.op);
    auto has = [&](const std::string& s) { return std::find(names.begin(), names.end(), s) != names.end(); };
    CHECK(has("embedding:embedding"));
    CHECK(has("encoder.layers.0.self_attn.out_proj:linear"));  // named by its weight, not its scope
    CHECK(has("encoder.layers.1.linear1:linear"));              // MatMul + Add(bias) -> one linear
    CHECK(has("encoder.layers.0.norm1:layernorm"));
    CHECK(has("encoder.layers.0:gelu"));
    CHECK(std::count_if(names.begin(), names.end(), [](const std::string& s) { return s.ends_with(":add"); }) == 4);
    Tape tape;
    const Var y = m->forward(tape.input(fixture("text_encoder.ids")));
    CHECK(rel_err(y.value(), fixture("text_encoder.logits")) <= 1e-4);
    // Token ids are not differentiable: gradients are taken at the embedding output.
    const Var emb = layer_output(tape, "embedding");
    CHECK(rel_err(grad(y, fixture("text_encoder.cotangent"), emb), fixture("text_encoder.embedding_grad")) <= 1e-4);
  }
}

TEST_SUITE("models") {
  TEST_CASE("onnx: the BatchNorm canonizer merges every imported conv+BN pair and keeps the logits") {
    const ModulePtr m = load_onnx_model(kDir + "small_cnn.onnx");
    CanonizeReport report;
    const ModulePtr merged = merge_batchnorm(*m, Shape{1, 3, 32, 32}, &report);
    CHECK(report.merged.size() == 7);  // stem, 2 x 2 block convs, downsample, depthwise
    CHECK(std::count(report.merged.begin(), report.merged.end(),
                     std::pair<std::string, std::string>{"layer1.1.downsample.0", "layer1.1.downsample.1"}) == 1);
    Tape a, b;
    const Tensor x = fixture("small_cnn.input");
    CHECK(rel_err(merged->forward(a.input(x)).value(), m->forward(b.input(x)).value()) <= 1e-5);
  }

  TEST_CASE("onnx: NaN and Inf in the input propagate as in torch") {
    const ModulePtr m = load_onnx_model(kDir + "tabular_mlp.onnx");
    Tensor x = fixture("tabular_mlp.input").clone();
    x.data()[3] = std::numeric_limits<float>::quiet_NaN();  // item 0: every logit NaN (Linear mixes all)
    Tape tape;
    const Tensor y = m->forward(tape.input(x)).value();
    for (int64_t j = 0; j < y.size(1); ++j) {
      CHECK(std::isnan(y.data()[j]));
      CHECK(rel_err(Tensor::from(Shape{1}, {y.data()[y.size(1) + j]}),
                    Tensor::from(Shape{1}, {fixture("tabular_mlp.logits").data()[y.size(1) + j]})) <= 1e-4);
    }
  }
}
