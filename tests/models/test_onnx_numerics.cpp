// ONNX import of torch's GroupNorm export (fused into one group_norm node), Pow of two activations
// and of a constant base (pow_tensor), and Where on two activation branches
// (tools/reference/make_onnx_numerics_fixtures.py): logits, input gradients, Captum saliency and
// DeepLift parity, NaN propagation, the node structure, and LRP conservation through them.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <map>

#include <nlohmann/json.hpp>

#include "attribution/registry.h"
#include "engine/backward.h"
#include "engine/error.h"
#include "models/onnx/model.h"
#include "models/safetensors.h"
#include "tests/helpers.h"

using namespace backlight;

namespace {

const std::string kDir = BACKLIGHT_TEST_DATA "/onnx/";

const SafeTensorsFile& refs() {
  static const SafeTensorsFile f = read_safetensors(kDir + "numerics_ops_parity.safetensors");
  return f;
}

const Tensor& fixture(const std::string& key) {
  const Tensor* t = refs().find(key);
  REQUIRE_MESSAGE(t, "numerics_ops_parity.safetensors has no tensor ", key);
  return *t;
}

double rel_err(const Tensor& got, const Tensor& want) {
  REQUIRE_MESSAGE(got.shape() == want.shape(), got.shape().str(), " vs ", want.shape().str());
  double worst = 0;
  for (int64_t i = 0; i < want.numel(); ++i)
    worst = std::max(worst, std::fabs(static_cast<double>(got.data()[i]) - want.data()[i]));
  return worst / test::max_abs(want);
}

Target targets(const char* model = "numerics_ops") {
  return Target::indices(
      nlohmann::json::parse(refs().metadata.at("targets")).at(model).get<std::vector<int64_t>>());
}

}  // namespace

TEST_SUITE("models") {
  TEST_CASE("onnx numerics: GroupNorm, Pow and Where on activations match torch (logits, gradients, saliency, DeepLift)") {
    const ModulePtr m = load_onnx_model(kDir + "numerics_ops.onnx");
    Tape tape;
    const Var x = tape.input(fixture("numerics_ops.input"));
    const Var y = m->forward(x);
    CHECK(rel_err(y.value(), fixture("numerics_ops.logits")) <= 1e-4);
    CHECK(rel_err(grad(y, fixture("numerics_ops.cotangent"), x), fixture("numerics_ops.input_grad")) <= 1e-4);
    CHECK(rel_err(attribute("saliency", *m, fixture("numerics_ops.input"), targets()).attribution,
                  fixture("numerics_ops.saliency")) <= 1e-4);
    CHECK(rel_err(attribute("deeplift", *m, fixture("numerics_ops.input"), targets()).attribution,
                  fixture("numerics_ops.deeplift")) <= 1e-4);
  }

  TEST_CASE("onnx numerics: torch's GroupNorm export is one group_norm node with the module's weights") {
    OnnxModelInfo info;
    const ModulePtr m = load_onnx_model(kDir + "numerics_ops.onnx", {}, &info);
    std::map<std::string, int> ops;
    std::map<std::string, std::string> op_of;
    for (const auto& l : info.layers) ++ops[l.op], op_of[l.name] = l.op;
    CHECK(ops["group_norm"] == 2);  // affine and not
    CHECK(ops["layernorm"] == 0);
    CHECK(ops["pow_tensor"] == 2);  // activation ^ activation, 2 ^ activation
    CHECK(ops["where"] == 1);
    CHECK(op_of["gn"] == "group_norm");
    CHECK(op_of["gn2"] == "group_norm");
    CHECK(m->find("gn")->parameter("weight").shape() == Shape{8});
    CHECK(m->find("gn")->parameter("bias").shape() == Shape{8});
  }

  TEST_CASE("onnx numerics: NaN in one image stays in that image") {
    const ModulePtr m = load_onnx_model(kDir + "numerics_ops.onnx");
    Tensor x = fixture("numerics_ops.input").clone();
    x.data()[7] = std::numeric_limits<float>::quiet_NaN();  // image 0; GroupNorm spreads it over its group
    Tape tape;
    const Tensor y = m->forward(tape.input(x)).value();
    const Tensor& ref = fixture("numerics_ops.logits");
    for (int64_t j = 0; j < y.size(1); ++j) {
      CHECK(std::isnan(y.data()[j]));
      CHECK(std::fabs(y.data()[y.size(1) + j] - ref.data()[y.size(1) + j]) <= 1e-4 * test::max_abs(ref));
    }
  }

  TEST_CASE("onnx numerics: Einsum as MaxViT writes it and Where on comparisons of activations match torch") {
    // einsum_where: "B H I D, B H J D -> B H I J" (q k^T), "B H I J, B H J D -> B H I D" (attn v),
    // "bhid,de->bhie" (a weight, no batch letters); where(y > 0, ...), where((sum(x) < 0.2) & (y < 0.5), ...).
    OnnxModelInfo info;
    const ModulePtr m = load_onnx_model(kDir + "einsum_where.onnx", {}, &info);
    std::map<std::string, int> ops;
    for (const auto& l : info.layers) ++ops[l.op];
    CHECK(ops["matmul"] == 3);
    CHECK(ops["where"] == 2);
    Tape tape;
    const Var x = tape.input(fixture("einsum_where.input"));
    const Var y = m->forward(x);
    CHECK(rel_err(y.value(), fixture("einsum_where.logits")) <= 1e-4);
    CHECK(rel_err(grad(y, fixture("einsum_where.cotangent"), x), fixture("einsum_where.input_grad")) <= 1e-4);
    CHECK(rel_err(attribute("saliency", *m, fixture("einsum_where.input"), targets("einsum_where")).attribution,
                  fixture("einsum_where.saliency")) <= 1e-4);
    // The masks follow each call's values: flipping the input's sign changes them, and the result
    // differs from the first call (a mask frozen at load or at the first call would not).
    Tensor neg = fixture("einsum_where.input").clone();
    for (int64_t i = 0; i < neg.numel(); ++i) neg.data()[i] = -neg.data()[i];
    Tape t2;
    const Tensor y2 = m->forward(t2.input(neg)).value();
    CHECK(rel_err(y2, fixture("einsum_where.logits")) > 1e-3);
  }

  TEST_CASE("onnx numerics: an Einsum that is not a product of two operands is refused naming node and equation") {
    try {
      (void)load_onnx_model(kDir + "einsum_chain.onnx");
      FAIL("einsum_chain.onnx loaded");
    } catch (const Error& e) {
      const std::string msg = e.what();
      CAPTURE(msg);
      CHECK(msg.find("/chain/Einsum") != std::string::npos);
      CHECK(msg.find("ij,jk,kl->il") != std::string::npos);
      CHECK(msg.find("3 operand(s)") != std::string::npos);
    }
  }
}
