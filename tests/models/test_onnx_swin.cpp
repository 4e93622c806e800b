// ONNX import of torchvision's Swin Transformer (tools/reference/make_onnx_swin_fixtures.py): a
// tiny two-stage SwinTransformer on 40x40 (both stages padded to whole windows, shifted windows
// with the attention mask) and a lone shifted SwinTransformerBlock on channels-last tokens match
// float64 torch (logits, input gradients, Captum saliency) at batch 2 after a load at batch 1.
// Regression: the window mask's slice assignments read Shape of the mask, a per-call constant,
// which used to come out as rank 0 ("Gather index 0 out of range [0, 0)" on swin_t).
#include <doctest/doctest.h>

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

const SafeTensorsFile& refs() { return test::onnx_refs("swin_parity.safetensors"); }
const Tensor& fixture(const std::string& key) { return test::onnx_fixture("swin_parity.safetensors", key); }

double rel_err(const Tensor& got, const Tensor& want) { return test::onnx_rel_err(got, want); }

}  // namespace

TEST_SUITE("models") {
  TEST_CASE("onnx swin: shifted-window attention matches torch (logits, input gradients, saliency)") {
    for (const std::string name : {"tiny_swin", "swin_block"}) {
      CAPTURE(name);
      const ModulePtr m = load_onnx_model(kDir + name + ".onnx");  // loaded at batch 1, run at batch 2
      Tape tape;
      const Var x = tape.input(fixture(name + ".input"));
      const Var y = m->forward(x);
      CHECK(rel_err(y.value(), fixture(name + ".logits")) <= 1e-4);
      CHECK(rel_err(grad(y, fixture(name + ".cotangent"), x), fixture(name + ".input_grad")) <= 1e-4);
      const auto t = nlohmann::json::parse(refs().metadata.at("targets")).at(name).get<std::vector<int64_t>>();
      CHECK(rel_err(attribute("saliency", *m, fixture(name + ".input"), Target::indices(t)).attribution,
                    fixture(name + ".saliency")) <= 1e-4);
    }
  }

  TEST_CASE("onnx swin: the mask and position bias fold away; attention, norms and roll are tape nodes") {
    OnnxModelInfo info;
    load_onnx_model(kDir + "tiny_swin.onnx", {}, &info);
    std::map<std::string, int> ops;
    for (const auto& l : info.layers) ++ops[l.op];
    CHECK(ops["softmax"] == 4);     // one per block
    CHECK(ops["matmul"] == 8);      // q k^T and attn v per block
    CHECK(ops["gelu"] == 4);        // fused from torch's erf spelling
    CHECK(ops["layernorm"] == 11);  // 2 per block, the stem's, PatchMerging's, the final norm
    CHECK(ops["pad"] >= 4);         // every block pads to whole windows
    CHECK(ops["concat"] >= 4);      // torch.roll there and back in the shifted blocks
    CHECK(ops["embedding"] == 0);   // relative position bias: a folded constant, not a lookup
  }
}
