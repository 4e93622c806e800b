// ONNX import errors: corrupt, truncated and hostile files, unsupported ops, attributes and
// opsets end in backlight::Error naming what was wrong (never a crash); external data loads from
// the model's folder and nowhere else. Models are built here with ONNX's own proto classes.
#include <doctest/doctest.h>

#include <onnx/onnx_pb.h>

#include <cmath>

#include "engine/error.h"
#include "models/onnx/model.h"
#include "tests/cli/run_cli.h"
#include "tests/cli/temp_dir.h"

using namespace backlight;

namespace {

const std::string kDir = BACKLIGHT_TEST_DATA "/onnx/";

// X [N, 4] -> one node of `op` -> Y, opset `opset`; `init` adds initializers.
::onnx::ModelProto one_node_model(const std::string& op, int64_t opset = 17) {
  ::onnx::ModelProto m;
  m.set_ir_version(8);
  m.add_opset_import()->set_version(opset);
  auto* g = m.mutable_graph();
  g->set_name("g");
  auto* in = g->add_input();
  in->set_name("X");
  in->mutable_type()->mutable_tensor_type()->set_elem_type(::onnx::TensorProto::FLOAT);
  auto* shape = in->mutable_type()->mutable_tensor_type()->mutable_shape();
  shape->add_dim()->set_dim_param("batch");
  shape->add_dim()->set_dim_value(4);
  auto* out = g->add_output();
  out->set_name("Y");
  out->mutable_type()->mutable_tensor_type()->set_elem_type(::onnx::TensorProto::FLOAT);
  out->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_param("batch");
  out->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim();
  auto* n = g->add_node();
  n->set_name("/block/my_node/" + op);
  n->set_op_type(op);
  n->add_input("X");
  n->add_output("Y");
  return m;
}

std::string bytes_of(const ::onnx::ModelProto& m) {
  std::string s;
  REQUIRE(m.SerializeToString(&s));
  return s;
}

std::string load_error(const std::string& bytes) {
  try {
    load_onnx_model_from_bytes({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, "test.onnx");
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

void check_has(const std::string& msg, std::initializer_list<const char*> parts) {
  for (const std::string p : parts) CHECK_MESSAGE(msg.find(p) != std::string::npos, "'", p, "' not in: ", msg);
}

}  // namespace

TEST_SUITE("models") {
  TEST_CASE("onnx errors: corrupt and truncated files throw, never crash") {
    const std::string good = test::read_bytes(kDir + "small_cnn.onnx");
    CHECK(load_error(good) == "(no error)");
    for (size_t cut : {size_t{0}, size_t{1}, size_t{7}, good.size() / 3, good.size() / 2, good.size() - 1}) {
      CAPTURE(cut);
      CHECK(load_error(good.substr(0, cut)) != "(no error)");
    }
    std::string flipped = good;
    for (size_t i = 0; i < flipped.size(); i += 97) flipped[i] = static_cast<char>(flipped[i] ^ 0x5a);
    CHECK(load_error(flipped) != "(no error)");
    check_has(load_error("this is not an onnx file at all"), {"test.onnx"});
  }

  TEST_CASE("onnx errors: unsupported op, attribute and opset name the node and the supported set") {
    check_has(load_error(bytes_of(one_node_model("Hardmax"))),
              {"/block/my_node/Hardmax", "op type Hardmax is not supported", "Supported: Conv, Gemm"});
    ::onnx::ModelProto pad = one_node_model("Pad");
    auto* a = pad.mutable_graph()->mutable_node(0)->add_attribute();
    a->set_name("mode");
    a->set_type(::onnx::AttributeProto::STRING);
    a->set_s("reflect");
    auto* pads = pad.mutable_graph()->add_initializer();
    pads->set_name("pads");
    pads->set_data_type(::onnx::TensorProto::INT64);
    pads->add_dims(4);
    for (int i = 0; i < 4; ++i) pads->add_int64_data(1);
    pad.mutable_graph()->mutable_node(0)->add_input("pads");
    check_has(load_error(bytes_of(pad)), {"my_node", "(Pad)", "mode='reflect'", "supported: constant"});
    check_has(load_error(bytes_of(one_node_model("Relu", 9))), {"opset 9 is not supported", "11 to 18"});
    CHECK(load_error(bytes_of(one_node_model("Relu"))) == "(no error)");
  }

  TEST_CASE("onnx errors: a hostile size (Pad of 300 million) is refused at load, naming the node and the limit") {
    // Found by fuzzing: the validating forward pass allocated what a Pad's pads asked for.
    const auto padded = [](int64_t right) {
      ::onnx::ModelProto pad = one_node_model("Pad");
      auto* pads = pad.mutable_graph()->add_initializer();
      pads->set_name("pads");
      pads->set_data_type(::onnx::TensorProto::INT64);
      pads->add_dims(4);
      for (int64_t v : {int64_t{0}, int64_t{0}, int64_t{0}, right}) pads->add_int64_data(v);
      pad.mutable_graph()->mutable_node(0)->add_input("pads");
      return bytes_of(pad);
    };
    CHECK(load_error(padded(3)) == "(no error)");
    check_has(load_error(padded(300'000'000)),
              {"test.onnx", "/block/my_node/Pad", "exceeds this run's limit of 1073741824 bytes per tensor"});
  }

  TEST_CASE("onnx: LayerNormalization over several trailing axes; a broadcasting scale is a clear error") {
    // X [N, 4, 3] -> LayerNormalization(X, scale, axis) -> Y
    auto ln = [](std::vector<int64_t> scale_dims, int64_t axis) {
      ::onnx::ModelProto m = one_node_model("LayerNormalization");
      auto* g = m.mutable_graph();
      g->mutable_input(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim()->set_dim_value(3);
      g->mutable_output(0)->mutable_type()->mutable_tensor_type()->mutable_shape()->add_dim();
      auto* n = g->mutable_node(0);
      n->add_input("scale");
      auto* a = n->add_attribute();
      a->set_name("axis");
      a->set_type(::onnx::AttributeProto::INT);
      a->set_i(axis);
      auto* w = g->add_initializer();
      w->set_name("scale");
      w->set_data_type(::onnx::TensorProto::FLOAT);
      int64_t numel = 1;
      for (int64_t d : scale_dims) {
        w->add_dims(d);
        numel *= d;
      }
      for (int64_t i = 0; i < numel; ++i) w->add_float_data(1.0f + 0.5f * static_cast<float>(i));
      return bytes_of(m);
    };
    const std::string two_axes = ln({4, 3}, -2);
    const ModulePtr m = load_onnx_model_from_bytes({reinterpret_cast<const uint8_t*>(two_axes.data()), two_axes.size()},
                                                   "ln.onnx");
    std::vector<float> v(12);
    for (int i = 0; i < 12; ++i) v[i] = static_cast<float>((i * 7) % 5) - 1.5f * static_cast<float>(i % 2);
    Tape tape;
    const Tensor y = m->forward(tape.input(Tensor::from(Shape{1, 4, 3}, v))).value();
    double mean = 0, var = 0;
    for (float x : v) mean += x / 12.0;
    for (float x : v) var += (x - mean) * (x - mean) / 12.0;
    for (int i = 0; i < 12; ++i)  // one normalisation over all 12 values, scale element-wise
      CHECK(y.data()[i] == doctest::Approx((v[i] - mean) / std::sqrt(var + 1e-5) * (1.0 + 0.5 * i)).epsilon(1e-5));
    CHECK(load_error(ln({3}, -1)) == "(no error)");
    check_has(load_error(ln({3}, -2)), {"my_node", "(LayerNormalization)", "expected exactly the normalised shape",
                                        "broadcasting scale or bias is not supported"});
  }

  TEST_CASE("onnx: external data loads from the model's folder; paths leaving it are refused") {
    const test::TempDir dir("onnx_external");
    auto gemm = [](const std::string& location) {
      ::onnx::ModelProto m = one_node_model("Gemm");
      auto* n = m.mutable_graph()->mutable_node(0);
      n->add_input("W");
      auto* tb = n->add_attribute();
      tb->set_name("transB");
      tb->set_type(::onnx::AttributeProto::INT);
      tb->set_i(1);
      auto* w = m.mutable_graph()->add_initializer();
      w->set_name("W");
      w->set_data_type(::onnx::TensorProto::FLOAT);
      w->add_dims(2);
      w->add_dims(4);
      w->set_data_location(::onnx::TensorProto::EXTERNAL);
      auto* kv = w->add_external_data();
      kv->set_key("location");
      kv->set_value(location);
      auto* off = w->add_external_data();
      off->set_key("offset");
      off->set_value("4");
      return m;
    };
    std::string weights(4, '\0');  // 4 bytes of padding, then W = [[1..4], [5..8]]
    for (int i = 1; i <= 8; ++i) {
      const float v = static_cast<float>(i);
      weights.append(reinterpret_cast<const char*>(&v), 4);
    }
    test::write_bytes(dir.file("w.bin"), weights);
    test::write_bytes(dir.file("ok.onnx"), bytes_of(gemm("w.bin")));
    const ModulePtr m = load_onnx_model(dir.file("ok.onnx"));
    Tape tape;
    const Var y = m->forward(tape.input(Tensor::from(Shape{1, 4}, {1, 1, 1, 2})));
    CHECK(y.value().data()[0] == doctest::Approx(1 + 2 + 3 + 8));
    CHECK(y.value().data()[1] == doctest::Approx(5 + 6 + 7 + 16));

    test::write_bytes(dir.file("escape.onnx"), bytes_of(gemm("../w.bin")));
    CHECK_THROWS_WITH_AS(load_onnx_model(dir.file("escape.onnx")), doctest::Contains("leaves the model's folder"), Error);
    test::write_bytes(dir.file("abs.onnx"), bytes_of(gemm("/etc/passwd")));
    CHECK_THROWS_WITH_AS(load_onnx_model(dir.file("abs.onnx")), doctest::Contains("must be relative"), Error);
    test::write_bytes(dir.file("short.onnx"), bytes_of(gemm("w.bin")));
    test::write_bytes(dir.file("w.bin"), weights.substr(0, 20));
    CHECK_THROWS_WITH_AS(load_onnx_model(dir.file("short.onnx")), doctest::Contains("lie outside"), Error);
  }
}

TEST_SUITE("cli") {
  TEST_CASE("cli: explain and layers take an .onnx model; a corrupt one exits 1, misuse exits 2") {
    using test::contains;
    const test::TempDir dir("onnx_cli");
    const test::Run layers = test::run_cli("layers --model " + kDir + "small_cnn.onnx");
    CHECK(layers.status == 0);
    CHECK(contains(layers.output, "layer1.1.downsample.0"));
    CHECK(contains(layers.output, "[1,16,8,8]"));
    const test::Run ex = test::run_cli("explain --model " + kDir + "small_cnn.onnx --method saliency,grad_cam --layer layer1 --out " +
                                       dir.file("x.png"));
    CHECK_MESSAGE(ex.status == 0, ex.output);
    CHECK(std::filesystem::exists(dir.file("x.png")));
    test::write_bytes(dir.file("bad.onnx"), "garbage");
    const test::Run bad = test::run_cli("explain --model " + dir.file("bad.onnx") + " --out " + dir.file("y.png"));
    CHECK(bad.status == 1);
    CHECK(contains(bad.output, "not a valid ONNX file"));
    CHECK(test::run_cli("explain --model " + kDir + "small_cnn.onnx --weights w.safetensors").status == 2);
    CHECK(test::run_cli("layers").status == 2);
  }
}
