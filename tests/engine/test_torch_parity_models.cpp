// PyTorch parity of two small composed networks (fixtures from
// tools/reference/make_engine_fixtures.py): logits and input gradient for a given cotangent, with
// the state_dict read from safetensors under PyTorch's key names. Each network is built twice:
// from engine ops directly, and from engine modules (engine/modules/) loaded by state_dict key.
// Tolerance: 1e-4 x max(1, max|ref|): a dozen float32 ops deep against a float64 reference
// (single ops are held to 1e-5 in test_torch_parity.cpp).
#include <set>

#include "engine/module.h"
#include "engine/modules/activation.h"
#include "engine/modules/attention.h"
#include "engine/modules/container.h"
#include "engine/modules/conv.h"
#include "engine/modules/flatten.h"
#include "engine/modules/linear.h"
#include "engine/modules/norm.h"
#include "engine/modules/pooling.h"
#include "tests/engine/torch_parity.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

struct NetworkFixture {
  SafeTensorsFile state, io;
  explicit NetworkFixture(const std::string& name)
      : state(read_safetensors(fixture_path(name + ".safetensors"))),
        io(read_safetensors(fixture_path(name + "_io.safetensors"))) {}
  /// A parameter leaf named by its PyTorch state_dict key.
  Var p(Tape& t, const std::string& key) const { return t.param(state.at(key), key); }
  Var b(Tape& t, const std::string& key) const { return t.buffer(state.at(key), key); }
};

/// Runs `forward` on the fixture input and compares logits and d<cot, logits>/d input.
template <class Forward>
void check_network(const NetworkFixture& fx, Forward&& forward) {
  Tape tape;
  const Var x = tape.input(fx.io.at("input").clone(), "input");
  const Var logits = forward(x);
  check_parity("logits", logits.value(), fx.io.at("logits"), kNetworkParityTol);
  const Tensor g = backward(logits, fx.io.at("cotangent"), x, RuleSet());
  check_parity("grad.input", g, fx.io.at("grad.input"), kNetworkParityTol);
}

/// Loads every state_dict entry of the fixture into `model` by key and checks both key sets agree.
void load_by_key(Module& model, const SafeTensorsFile& state) {
  std::set<std::string> model_keys, file_keys;
  for (const auto& [k, t] : model.state_dict()) model_keys.insert(k);
  for (const auto& [k, t] : state.tensors) {
    file_keys.insert(k);
    if (!model.set_tensor(k, t)) FAIL_CHECK("model has no tensor for state_dict key ", k);
  }
  CHECK(model_keys == file_keys);
}

// --- small CNN: conv-bn-relu-maxpool-conv-bn-relu-adaptive_avgpool-flatten-linear ------------------

Var small_cnn_ops(const NetworkFixture& fx, const Var& x) {
  Tape& t = x.tape();
  const float eps = 1e-5f;
  const Conv2dAttrs same3{.pad_h = 1, .pad_w = 1};
  Var h = conv2d(x, fx.p(t, "conv1.weight"), fx.p(t, "conv1.bias"), same3, "conv1");
  h = batchnorm(h, fx.p(t, "bn1.weight"), fx.p(t, "bn1.bias"), fx.b(t, "bn1.running_mean"),
                fx.b(t, "bn1.running_var"), eps, "bn1");
  h = relu(h, "relu1");
  h = maxpool2d(h, {.kernel_h = 2, .kernel_w = 2, .stride_h = 2, .stride_w = 2}, "pool");
  h = conv2d(h, fx.p(t, "conv2.weight"), fx.p(t, "conv2.bias"), same3, "conv2");
  h = batchnorm(h, fx.p(t, "bn2.weight"), fx.p(t, "bn2.bias"), fx.b(t, "bn2.running_mean"),
                fx.b(t, "bn2.running_var"), eps, "bn2");
  h = relu(h, "relu2");
  h = adaptive_avgpool2d(h, 3, 3, "avgpool");
  h = flatten(h, 1, -1, "flatten");
  return linear(h, fx.p(t, "fc.weight"), fx.p(t, "fc.bias"), "fc");
}

ModulePtr small_cnn_modules() {
  std::mt19937_64 rng(kSeed);  // initial values are replaced by the fixture's
  auto seq = std::make_shared<Sequential>();
  seq->add("conv1", std::make_shared<Conv2d>(3, 8, 3, rng, Conv2dOptions{.padding = 1}))
      .add("bn1", std::make_shared<BatchNorm2d>(8))
      .add("relu1", std::make_shared<ReLU>())
      .add("pool", std::make_shared<MaxPool2d>(2, MaxPool2dOptions{.stride = 2}))
      .add("conv2", std::make_shared<Conv2d>(8, 16, 3, rng, Conv2dOptions{.padding = 1}))
      .add("bn2", std::make_shared<BatchNorm2d>(16))
      .add("relu2", std::make_shared<ReLU>())
      .add("avgpool", std::make_shared<AdaptiveAvgPool2d>(3))
      .add("flatten", std::make_shared<Flatten>(1))
      .add("fc", std::make_shared<Linear>(16 * 9, 10, rng));
  return seq;
}

// --- attention block: x + MHA(LN(x)); x + MLP(LN(x)); mean over tokens; head --------------------

constexpr int64_t kEmbed = 16, kHeads = 4, kHidden = 32, kClasses = 5;

/// nn.MultiheadAttention(batch_first=True) self-attention spelled out in ops, independently of
/// engine/modules/attention.cpp: one packed projection sliced into q, k, v; heads via transpose.
Var mha_ops(const NetworkFixture& fx, const Var& x, const std::string& prefix) {
  Tape& t = x.tape();
  const int64_t n = x.shape()[0], l = x.shape()[1], e = kEmbed, h = kHeads, d = kEmbed / kHeads;
  const Var qkv = linear(x, fx.p(t, prefix + ".in_proj_weight"), fx.p(t, prefix + ".in_proj_bias"), prefix + ".qkv");
  const std::array<int64_t, 4> split{n, l, h, d};
  auto heads = [&](int block) {  // [N, L, E] block -> [N, H, L, D]
    return transpose(reshape(slice(qkv, -1, block * e, (block + 1) * e), split), 1, 2);
  };
  const Var q = heads(0), k = heads(1), v = heads(2);
  const Var scores = scale(matmul(q, transpose(k, -1, -2)), static_cast<float>(1.0 / std::sqrt(double(d))));
  const Var ctx = matmul(softmax(scores, -1, prefix + ".softmax"), v);
  const std::array<int64_t, 3> merged{n, l, e};
  const Var m = reshape(transpose(ctx, 1, 2), merged);
  return linear(m, fx.p(t, prefix + ".out_proj.weight"), fx.p(t, prefix + ".out_proj.bias"), prefix + ".out_proj");
}

Var attention_block_ops(const NetworkFixture& fx, const Var& x) {
  Tape& t = x.tape();
  const Var h1 = layernorm(x, fx.p(t, "ln1.weight"), fx.p(t, "ln1.bias"), 1, 1e-5f, "ln1");
  const Var x1 = add(x, mha_ops(fx, h1, "attn"));
  const Var h2 = layernorm(x1, fx.p(t, "ln2.weight"), fx.p(t, "ln2.bias"), 1, 1e-5f, "ln2");
  Var m = linear(h2, fx.p(t, "mlp.0.weight"), fx.p(t, "mlp.0.bias"), "mlp.0");
  m = gelu(m, false, "mlp.1");
  m = linear(m, fx.p(t, "mlp.2.weight"), fx.p(t, "mlp.2.bias"), "mlp.2");
  const Var x2 = add(x1, m);
  const std::array<int, 1> tokens{1};
  return linear(mean(x2, tokens), fx.p(t, "head.weight"), fx.p(t, "head.bias"), "head");
}

/// The same block as a user-defined module (residuals need a forward of their own).
class AttentionBlock : public ModuleImpl<AttentionBlock> {
 public:
  explicit AttentionBlock(std::mt19937_64& rng) {
    register_module("ln1", std::make_shared<LayerNorm>(std::vector<int64_t>{kEmbed}));
    register_module("attn", std::make_shared<MultiheadAttention>(kEmbed, kHeads, rng));
    register_module("ln2", std::make_shared<LayerNorm>(std::vector<int64_t>{kEmbed}));
    auto mlp = std::make_shared<Sequential>();
    mlp->push_back(std::make_shared<Linear>(kEmbed, kHidden, rng))
        .push_back(std::make_shared<GELU>())
        .push_back(std::make_shared<Linear>(kHidden, kEmbed, rng));
    register_module("mlp", mlp);
    register_module("head", std::make_shared<Linear>(kEmbed, kClasses, rng));
  }
  Var forward(const Var& x) const override {
    const Var x1 = add(x, child("attn").forward(child("ln1").forward(x)), op_name());
    const Var x2 = add(x1, child("mlp").forward(child("ln2").forward(x1)), op_name());
    const std::array<int, 1> tokens{1};
    return child("head").forward(mean(x2, tokens, false, op_name()));
  }
  std::string type_name() const override { return "AttentionBlock"; }
};

}  // namespace

TEST_SUITE("engine") {

TEST_CASE("torch parity: small CNN (eval BatchNorm with running stats) from engine ops") {
  const NetworkFixture fx("small_cnn");
  check_network(fx, [&](const Var& x) { return small_cnn_ops(fx, x); });
}

TEST_CASE("torch parity: small CNN from engine modules, state_dict by PyTorch key") {
  const NetworkFixture fx("small_cnn");
  const ModulePtr model = small_cnn_modules();
  load_by_key(*model, fx.state);
  check_network(fx, [&](const Var& x) { return model->forward(x); });
}

TEST_CASE("torch parity: attention block (LayerNorm, MultiheadAttention, GELU MLP) from engine ops") {
  const NetworkFixture fx("attention_block");
  check_network(fx, [&](const Var& x) { return attention_block_ops(fx, x); });
}

TEST_CASE("torch parity: attention block from engine modules, state_dict by PyTorch key") {
  const NetworkFixture fx("attention_block");
  std::mt19937_64 rng(kSeed);
  AttentionBlock model(rng);
  load_by_key(model, fx.state);
  check_network(fx, [&](const Var& x) { return model.forward(x); });
}

}  // TEST_SUITE
