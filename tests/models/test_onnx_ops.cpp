// ONNX import of the ops added in issue 16 (tools/reference/make_onnx_ops_fixtures.py): a torch
// 1.13 export through SiLU, Hardswish, Hardsigmoid, Clip, Exp, Abs, Neg, Log, Sqrt, Pow, Max, Min,
// Where, Div by an activation, Erf, ReduceMax and Expand matches torch (logits, input gradients,
// Captum saliency, NaN propagation), and the activations are one node each.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <map>

#include <nlohmann/json.hpp>

#include "attribution/registry.h"
#include "engine/backward.h"
#include "models/onnx/model.h"
#include "models/safetensors.h"
#include "tests/helpers.h"
#include "tests/models/onnx_fixtures.h"

using namespace backlight;

namespace {

const std::string kDir = BACKLIGHT_TEST_DATA "/onnx/";

const SafeTensorsFile& refs() { return test::onnx_refs("new_ops_parity.safetensors"); }
const Tensor& fixture(const std::string& key) { return test::onnx_fixture("new_ops_parity.safetensors", key); }

double rel_err(const Tensor& got, const Tensor& want) { return test::onnx_rel_err(got, want); }

}  // namespace

TEST_SUITE("models") {
  TEST_CASE("onnx ops: the new-op model matches torch (logits, input gradients, saliency)") {
    const ModulePtr m = load_onnx_model(kDir + "new_ops.onnx");
    Tape tape;
    const Var x = tape.input(fixture("new_ops.input"));
    const Var y = m->forward(x);
    CHECK(rel_err(y.value(), fixture("new_ops.logits")) <= 1e-4);
    CHECK(rel_err(grad(y, fixture("new_ops.cotangent"), x), fixture("new_ops.input_grad")) <= 1e-4);
    const auto t = nlohmann::json::parse(refs().metadata.at("targets")).at("new_ops").get<std::vector<int64_t>>();
    CHECK(rel_err(attribute("saliency", *m, fixture("new_ops.input"), Target::indices(t)).attribution,
                  fixture("new_ops.saliency")) <= 1e-4);
  }

  TEST_CASE("onnx ops: ConvTranspose, Resize, GroupNorm, InstanceNorm and 1-D conv/pools match torch") {
    const ModulePtr m = load_onnx_model(kDir + "new_layers.onnx");
    Tape tape;
    const Var x = tape.input(fixture("new_layers.input"));
    const Var y = m->forward(x);
    CHECK(rel_err(y.value(), fixture("new_layers.logits")) <= 1e-4);
    CHECK(rel_err(grad(y, fixture("new_layers.cotangent"), x), fixture("new_layers.input_grad")) <= 1e-4);
    const auto t = nlohmann::json::parse(refs().metadata.at("targets")).at("new_layers").get<std::vector<int64_t>>();
    CHECK(rel_err(attribute("saliency", *m, fixture("new_layers.input"), Target::indices(t)).attribution,
                  fixture("new_layers.saliency")) <= 1e-4);
    OnnxModelInfo info;
    load_onnx_model(kDir + "new_layers.onnx", {}, &info);
    std::map<std::string, int> ops;
    for (const auto& l : info.layers) ++ops[l.op];
    CHECK(ops["conv_transpose2d"] == 2);  // ConvTranspose2d and ConvTranspose1d
    CHECK(ops["resize"] == 4);
    CHECK(ops["group_norm"] == 1);  // GroupNorm: one fused node
    CHECK(ops["layernorm"] == 1);   // InstanceNorm2d's normalisation
    CHECK(ops["conv2d"] == 2);     // Conv2d and Conv1d
  }

  TEST_CASE("onnx ops: SiLU, Hardswish, Hardsigmoid and Clip are one node each; Div, Max, Min, Where run") {
    OnnxModelInfo info;
    load_onnx_model(kDir + "new_ops.onnx", {}, &info);
    std::map<std::string, int> ops;
    for (const auto& l : info.layers) ++ops[l.op];
    CHECK(ops["silu"] == 1);
    CHECK(ops["sigmoid"] == 1);  // the one inside log(1.5 + sigmoid(h)) is not a SiLU
    CHECK(ops["hardswish"] == 1);
    CHECK(ops["hardsigmoid"] == 1);
    CHECK(ops["clip"] == 1);
    for (const char* op : {"exp", "log", "sqrt", "abs", "erf", "div", "maximum", "minimum", "where", "amax"})
      CHECK_MESSAGE(ops[op] == 1, op);
    CHECK(ops["pow"] == 2);
  }

  TEST_CASE("onnx ops: every_op's SiLU and hard activations are atomic and still match torch") {
    OnnxModelInfo info;
    load_onnx_model(kDir + "every_op.onnx", {}, &info);
    std::map<std::string, int> ops;
    for (const auto& l : info.layers) ++ops[l.op];
    CHECK(ops["silu"] == 2);  // F.silu(h) and torch.sigmoid(h) * h: the same function, both fused
    CHECK(ops["hardswish"] == 1);
    CHECK(ops["hardsigmoid"] == 1);
    CHECK(ops["relu6"] == 0);  // no composed hard activations left
  }

  TEST_CASE("onnx ops: NaN in the input propagates through the new ops as in torch") {
    const ModulePtr m = load_onnx_model(kDir + "new_ops.onnx");
    Tensor x = fixture("new_ops.input").clone();
    x.data()[5] = std::numeric_limits<float>::quiet_NaN();  // item 0 (Linear mixes every feature)
    Tape tape;
    const Tensor y = m->forward(tape.input(x)).value();
    const Tensor& ref = fixture("new_ops.logits");
    for (int64_t j = 0; j < y.size(1); ++j) {
      CHECK(std::isnan(y.data()[j]));
      const double want = ref.data()[y.size(1) + j];
      CHECK(std::fabs(y.data()[y.size(1) + j] - want) <= 1e-4 * test::max_abs(ref));
    }
  }
}
