// PyTorch parity of every engine op: forward and every gradient against PyTorch autograd
// (fixtures from tools/reference/make_engine_fixtures.py), max abs error <= 1e-5 x max(1, max|ref|).
// Run with -s to see the worst error per case.
#include <set>

#include "tests/engine/torch_parity.h"

using namespace backlight;
using namespace backlight::test;
using nlohmann::json;

namespace {

using Builders = std::map<std::string, CaseBuilder>;

template <class T>
std::vector<T> vec(const json& a, const char* key) {
  return a.at(key).get<std::vector<T>>();
}

/// op -> how to call the engine op with the case's inputs and attributes.
const Builders& builders() {
  static const Builders table = {
      {"linear", [](const ParityCase&, const CaseInputs& in) { return linear(in.at("x"), in.at("weight"), in.opt("bias")); }},
      {"conv2d",
       [](const ParityCase& c, const CaseInputs& in) {
         return conv2d(in.at("x"), in.at("weight"), in.opt("bias"), conv_attrs(c.attrs));
       }},
      {"batchnorm",
       [](const ParityCase& c, const CaseInputs& in) {
         return batchnorm(in.at("x"), in.at("weight"), in.at("bias"), in.at("running_mean"), in.at("running_var"),
                          c.attrs.at("eps").get<float>());
       }},
      {"avgpool2d", [](const ParityCase& c, const CaseInputs& in) { return avgpool2d(in.at("x"), pool_attrs(c.attrs)); }},
      {"maxpool2d", [](const ParityCase& c, const CaseInputs& in) { return maxpool2d(in.at("x"), pool_attrs(c.attrs)); }},
      {"adaptive_avgpool2d",
       [](const ParityCase& c, const CaseInputs& in) {
         const auto o = vec<int64_t>(c.attrs, "output_size");
         return adaptive_avgpool2d(in.at("x"), o[0], o[1]);
       }},
      {"relu", [](const ParityCase&, const CaseInputs& in) { return relu(in.at("x")); }},
      {"relu6", [](const ParityCase&, const CaseInputs& in) { return relu6(in.at("x")); }},
      {"leaky_relu",
       [](const ParityCase& c, const CaseInputs& in) {
         return leaky_relu(in.at("x"), c.attrs.at("negative_slope").get<float>());
       }},
      {"sigmoid", [](const ParityCase&, const CaseInputs& in) { return sigmoid(in.at("x")); }},
      {"tanh", [](const ParityCase&, const CaseInputs& in) { return backlight::tanh(in.at("x")); }},
      {"gelu",
       [](const ParityCase& c, const CaseInputs& in) {
         return gelu(in.at("x"), c.attrs.at("tanh_approximation").get<bool>());
       }},
      {"dropout", [](const ParityCase& c, const CaseInputs& in) { return dropout(in.at("x"), c.attrs.at("p").get<float>()); }},
      {"softmax", [](const ParityCase& c, const CaseInputs& in) { return softmax(in.at("x"), c.attrs.at("axis").get<int>()); }},
      {"log_softmax",
       [](const ParityCase& c, const CaseInputs& in) { return log_softmax(in.at("x"), c.attrs.at("axis").get<int>()); }},
      {"layernorm",
       [](const ParityCase& c, const CaseInputs& in) {
         return layernorm(in.at("x"), in.opt("weight"), in.opt("bias"), c.attrs.at("normalized_dims").get<int>(),
                          c.attrs.at("eps").get<float>());
       }},
      {"add", [](const ParityCase&, const CaseInputs& in) { return add(in.at("a"), in.at("b")); }},
      {"sub", [](const ParityCase&, const CaseInputs& in) { return sub(in.at("a"), in.at("b")); }},
      {"mul", [](const ParityCase&, const CaseInputs& in) { return mul(in.at("a"), in.at("b")); }},
      {"scale", [](const ParityCase& c, const CaseInputs& in) { return scale(in.at("x"), c.attrs.at("factor").get<float>()); }},
      {"reshape",
       [](const ParityCase& c, const CaseInputs& in) { return reshape(in.at("x"), vec<int64_t>(c.attrs, "dims")); }},
      {"flatten",
       [](const ParityCase& c, const CaseInputs& in) {
         return flatten(in.at("x"), c.attrs.at("start_dim").get<int>(), c.attrs.at("end_dim").get<int>());
       }},
      {"permute", [](const ParityCase& c, const CaseInputs& in) { return permute(in.at("x"), vec<int>(c.attrs, "perm")); }},
      {"transpose",
       [](const ParityCase& c, const CaseInputs& in) {
         return transpose(in.at("x"), c.attrs.at("dim0").get<int>(), c.attrs.at("dim1").get<int>());
       }},
      {"concat",
       [](const ParityCase& c, const CaseInputs& in) {
         std::vector<Var> xs;
         for (const std::string& arg : c.inputs) xs.push_back(in.at(arg));
         return concat(xs, c.attrs.at("axis").get<int>());
       }},
      {"slice",
       [](const ParityCase& c, const CaseInputs& in) {
         const json& a = c.attrs;
         return slice(in.at("x"), a.at("axis").get<int>(), a.at("start").get<int64_t>(), a.at("end").get<int64_t>(),
                      a.at("step").get<int64_t>());
       }},
      {"pad",
       [](const ParityCase& c, const CaseInputs& in) {
         return pad(in.at("x"), vec<int64_t>(c.attrs, "pads"), c.attrs.at("value").get<float>());
       }},
      {"sum",
       [](const ParityCase& c, const CaseInputs& in) {
         return sum(in.at("x"), vec<int>(c.attrs, "axes"), c.attrs.at("keepdim").get<bool>());
       }},
      {"mean",
       [](const ParityCase& c, const CaseInputs& in) {
         return mean(in.at("x"), vec<int>(c.attrs, "axes"), c.attrs.at("keepdim").get<bool>());
       }},
      {"matmul", [](const ParityCase&, const CaseInputs& in) { return matmul(in.at("a"), in.at("b")); }},
      {"embedding",
       [](const ParityCase&, const CaseInputs& in) { return embedding(in.raw.at("indices"), in.at("weight")); }},
  };
  return table;
}

const char* const kFixtureFiles[] = {"ops_linear_conv.safetensors", "ops_norm_pool.safetensors",
                                     "ops_activation.safetensors",  "ops_softmax_norm.safetensors",
                                     "ops_binary.safetensors",      "ops_shape.safetensors",
                                     "ops_reduce_matmul.safetensors"};

}  // namespace

TEST_SUITE("engine") {

TEST_CASE("torch parity: the fixtures cover every op in engine/ops/ops.h") {
  // Keep in sync with engine/ops/ops.h: a new op needs a fixture case and a builder.
  const std::set<std::string> ops_h = {
      "linear", "conv2d", "batchnorm", "avgpool2d", "adaptive_avgpool2d", "scale", "sum", "mean", "maxpool2d",
      "relu", "relu6", "leaky_relu", "sigmoid", "tanh", "gelu", "dropout", "softmax", "log_softmax", "layernorm",
      "matmul", "add", "sub", "mul", "reshape", "flatten", "permute", "transpose", "concat", "slice", "pad",
      "embedding"};
  std::set<std::string> covered;
  int cases = 0;
  for (const char* file : kFixtureFiles) {
    const SafeTensorsFile f = read_safetensors(fixture_path(file));
    for (const ParityCase& c : load_cases(f)) {
      covered.insert(c.op);
      ++cases;
      // Every case carries its output, cotangent and one gradient per differentiated argument.
      CHECK(f.contains(c.name + "/out"));
      CHECK(f.contains(c.name + "/cot"));
      for (const std::string& g : c.grads) CHECK_MESSAGE(f.contains(c.name + "/grad." + g), c.name, " grad.", g);
    }
  }
  for (const std::string& op : ops_h) {
    CHECK_MESSAGE(covered.count(op), "no fixture case for ", op);
    CHECK_MESSAGE(builders().count(op), "no builder for ", op);
  }
  CHECK(covered.size() == ops_h.size());
  CHECK(cases > 100);
}

TEST_CASE("torch parity: linear and conv2d (stride, padding, dilation, groups, depthwise)") {
  run_fixture("ops_linear_conv.safetensors", builders());
}

TEST_CASE("torch parity: batchnorm, avgpool2d, adaptive_avgpool2d, maxpool2d") {
  run_fixture("ops_norm_pool.safetensors", builders());
}

TEST_CASE("torch parity: relu, relu6, leaky_relu, sigmoid, tanh, gelu, dropout (incl. kinks)") {
  run_fixture("ops_activation.safetensors", builders());
}

TEST_CASE("torch parity: NaN and +-Inf propagate through every op as in PyTorch (forward and gradient)") {
  // tools/reference/make_nonfinite_fixtures.py: inputs, weights and norm parameters poisoned with
  // NaN, +Inf and -Inf (issue 14: relu's max(x, 0) used to turn NaN weights into finite logits).
  run_fixture("ops_nonfinite.safetensors", builders());
}

TEST_CASE("torch parity: softmax, log_softmax, layernorm") { run_fixture("ops_softmax_norm.safetensors", builders()); }

TEST_CASE("torch parity: add, sub, mul with broadcasting, scale") { run_fixture("ops_binary.safetensors", builders()); }

TEST_CASE("torch parity: reshape, flatten, permute, transpose, concat, slice, pad") {
  run_fixture("ops_shape.safetensors", builders());
}

TEST_CASE("torch parity: sum, mean, matmul, embedding") { run_fixture("ops_reduce_matmul.safetensors", builders()); }

}  // TEST_SUITE
