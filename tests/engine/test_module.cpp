// Module tree: PyTorch names and order, paths, clone, reuse, errors; standard modules' forward.
// Expected key lists were printed by torch 1.13 for the equivalent nn.Module trees (see comments).
#include <algorithm>
#include <cmath>

#include "engine/modules/all.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

std::vector<std::string> keys(const std::vector<std::pair<std::string, Tensor>>& entries) {
  std::vector<std::string> out;
  for (const auto& e : entries) out.push_back(e.first);
  return out;
}

std::vector<std::string> module_names(const Module& m) {
  std::vector<std::string> out;
  for (const auto& [path, mod] : m.named_modules()) out.push_back(path);
  return out;
}

// class Block(nn.Module): conv = Conv2d(3, 4, 3, padding=1, bias=False); bn = BatchNorm2d(4); act = ReLU()
class Block : public ModuleImpl<Block> {
 public:
  explicit Block(std::mt19937_64& rng) {
    register_module("conv", std::make_shared<Conv2d>(3, 4, 3, rng, Conv2dOptions{.padding = 1, .bias = false}));
    register_module("bn", std::make_shared<BatchNorm2d>(4));
    register_module("act", std::make_shared<ReLU>());
  }
  Var forward(const Var& x) const override {
    return child("act").forward(child("bn").forward(child("conv").forward(x)));
  }
  std::string type_name() const override { return "Block"; }
};

// nn.Sequential(Block(), nn.MaxPool2d(2), nn.Flatten(),
//               nn.Sequential(nn.Linear(16, 8), nn.ReLU(), nn.Dropout(0.1), nn.Linear(8, 3)))
std::shared_ptr<Sequential> nested_model(std::mt19937_64& rng) {
  auto head = std::make_shared<Sequential>(Sequential{std::make_shared<Linear>(16, 8, rng), std::make_shared<ReLU>(),
                                                      std::make_shared<Dropout>(0.1f),
                                                      std::make_shared<Linear>(8, 3, rng)});
  return std::make_shared<Sequential>(Sequential{std::make_shared<Block>(rng), std::make_shared<MaxPool2d>(2),
                                                 std::make_shared<Flatten>(), head});
}

// class Custom(nn.Module):
//   scale = Parameter(ones(4)); encoder = Sequential(Linear(4, 4), LayerNorm(4));
//   register_buffer("offset", zeros(4)); attn = MultiheadAttention(4, 2, batch_first=True); head = Linear(4, 2)
class Custom : public ModuleImpl<Custom> {
 public:
  explicit Custom(std::mt19937_64& rng) {
    register_parameter("scale", Tensor::full({4}, 1.0f));
    register_module("encoder", std::make_shared<Sequential>(Sequential{std::make_shared<Linear>(4, 4, rng),
                                                                       std::make_shared<LayerNorm>(
                                                                           std::vector<int64_t>{4})}));
    register_buffer("offset", Tensor::zeros({4}));
    register_module("attn", std::make_shared<MultiheadAttention>(4, 2, rng));
    register_module("head", std::make_shared<Linear>(4, 2, rng));
  }
  Var forward(const Var& x) const override {
    Var h = child("attn").forward(child("encoder").forward(x));
    h = mul(h, param(x.tape(), "scale"), op_name());
    return child("head").forward(h);
  }
  std::string type_name() const override { return "Custom"; }
};

// Calls the same child twice: a reused layer is two tape nodes with one name.
class Twice : public ModuleImpl<Twice> {
 public:
  explicit Twice(std::mt19937_64& rng) {
    register_module("fc", std::make_shared<Linear>(3, 3, rng));
    register_module("act", std::make_shared<ReLU>());
  }
  Var forward(const Var& x) const override {
    const Module& fc = child("fc");
    const Module& act = child("act");
    return act.forward(fc.forward(act.forward(fc.forward(x))));
  }
  std::string type_name() const override { return "Twice"; }
};

// Asks for a parameter it never registered.
class Broken : public ModuleImpl<Broken> {
 public:
  Broken() { register_parameter("scale", Tensor::full({1}, 1.0f)); }
  Var forward(const Var& x) const override { return mul(x, param(x.tape(), "gain"), op_name()); }
  std::string type_name() const override { return "Broken"; }
};

}  // namespace

TEST_SUITE("engine") {

TEST_CASE("module: nested Sequential names, types and state_dict order match PyTorch") {
  std::mt19937_64 rng(kSeed);
  auto model = nested_model(rng);
  CHECK(module_names(*model) ==
        std::vector<std::string>{"", "0", "0.conv", "0.bn", "0.act", "1", "2", "3", "3.0", "3.1", "3.2", "3.3"});
  std::vector<std::string> types;
  for (const auto& [path, m] : model->named_modules()) types.push_back(m->type_name());
  CHECK(types == std::vector<std::string>{"Sequential", "Block", "Conv2d", "BatchNorm2d", "ReLU", "MaxPool2d",
                                          "Flatten", "Sequential", "Linear", "ReLU", "Dropout", "Linear"});
  CHECK(keys(model->state_dict()) ==
        std::vector<std::string>{"0.conv.weight", "0.bn.weight", "0.bn.bias", "0.bn.running_mean",
                                 "0.bn.running_var", "0.bn.num_batches_tracked", "3.0.weight", "3.0.bias",
                                 "3.3.weight", "3.3.bias"});
  CHECK(keys(model->named_parameters()) == std::vector<std::string>{"0.conv.weight", "0.bn.weight", "0.bn.bias",
                                                                    "3.0.weight", "3.0.bias", "3.3.weight",
                                                                    "3.3.bias"});
  CHECK(keys(model->named_buffers()) ==
        std::vector<std::string>{"0.bn.running_mean", "0.bn.running_var", "0.bn.num_batches_tracked"});
  CHECK(model->find("0.bn")->buffer("num_batches_tracked").shape() == Shape());  // torch: shape [], one element
  CHECK(model->find("3.3")->path() == "3.3");
  CHECK(model->find("3.3")->parameter("weight").shape() == Shape{3, 8});
  CHECK(model->find("") == model.get());
  CHECK(model->find("3.4") == nullptr);
  CHECK(model->find("0.conv.x") == nullptr);
}

TEST_CASE("module: custom module with own parameter, buffer and attention matches PyTorch's keys") {
  std::mt19937_64 rng(kSeed);
  Custom m(rng);
  CHECK(module_names(m) ==
        std::vector<std::string>{"", "encoder", "encoder.0", "encoder.1", "attn", "attn.out_proj", "head"});
  std::vector<std::string> types;
  for (const auto& [path, mod] : m.named_modules()) types.push_back(mod->type_name());
  CHECK(types == std::vector<std::string>{"Custom", "Sequential", "Linear", "LayerNorm", "MultiheadAttention",
                                          "NonDynamicallyQuantizableLinear", "Linear"});
  const auto sd = m.state_dict();
  CHECK(keys(sd) == std::vector<std::string>{"scale", "offset", "encoder.0.weight", "encoder.0.bias",
                                             "encoder.1.weight", "encoder.1.bias", "attn.in_proj_weight",
                                             "attn.in_proj_bias", "attn.out_proj.weight", "attn.out_proj.bias",
                                             "head.weight", "head.bias"});
  CHECK(keys(m.named_parameters()) == std::vector<std::string>{"scale", "encoder.0.weight", "encoder.0.bias",
                                                               "encoder.1.weight", "encoder.1.bias",
                                                               "attn.in_proj_weight", "attn.in_proj_bias",
                                                               "attn.out_proj.weight", "attn.out_proj.bias",
                                                               "head.weight", "head.bias"});
  const std::vector<Shape> shapes{{4}, {4}, {4, 4}, {4}, {4}, {4}, {12, 4}, {12}, {4, 4}, {4}, {2, 4}, {2}};
  for (size_t i = 0; i < sd.size(); ++i) {
    CAPTURE(sd[i].first);
    CHECK(sd[i].second.shape() == shapes[i]);
  }
}

TEST_CASE("module: forward records one node per op named by the module path, params by full name") {
  std::mt19937_64 rng(kSeed);
  auto model = nested_model(rng);
  Tape tape;
  Var y = model->forward(tape.input(randn({2, 3, 4, 4}, rng)));
  CHECK(y.shape() == Shape{2, 3});
  std::vector<std::pair<std::string, OpKind>> nodes;
  for (const Node& n : tape.nodes()) nodes.emplace_back(n.name, n.kind);
  const std::vector<std::pair<std::string, OpKind>> expected{
      {"0.conv", OpKind::Conv2d}, {"0.bn", OpKind::BatchNorm}, {"0.act", OpKind::Relu},
      {"1", OpKind::MaxPool2d},   {"2", OpKind::Reshape},      {"3.0", OpKind::Linear},
      {"3.1", OpKind::Relu},      {"3.2", OpKind::Dropout},    {"3.3", OpKind::Linear}};
  REQUIRE(nodes.size() == expected.size());
  for (size_t i = 0; i < nodes.size(); ++i) {
    CAPTURE(i);
    CHECK(nodes[i].first == expected[i].first);
    CHECK(nodes[i].second == expected[i].second);
  }
  std::vector<std::string> params;
  for (const Var& p : tape.parameters()) params.push_back(tape.value(p.id()).name);
  CHECK(params == keys(model->named_parameters()));
  CHECK(tape.node(0).has_params);
  CHECK_FALSE(tape.node(2).has_params);
  // BatchNorm's running statistics are buffer leaves, not parameters.
  CHECK(tape.value(tape.node(1).inputs.at(3)).role == ValueRole::Buffer);
  CHECK(tape.value(tape.node(1).inputs.at(3)).name == "0.bn.running_mean");
}

TEST_CASE("module: a reused module is two tape nodes with the same name") {
  std::mt19937_64 rng(kSeed);
  Twice m(rng);
  m.set_path("block");
  Tape tape;
  m.forward(tape.input(randn({2, 3}, rng)));
  std::vector<std::string> names;
  for (const Node& n : tape.nodes()) names.push_back(n.name);
  CHECK(names == std::vector<std::string>{"block.fc", "block.act", "block.fc", "block.act"});
  CHECK(tape.node(0).inputs.at(1) != tape.node(2).inputs.at(1));  // one weight leaf per call ...
  CHECK(tape.value(tape.node(0).inputs.at(1)).name == tape.value(tape.node(2).inputs.at(1)).name);
  CHECK(tape.value(tape.node(0).inputs.at(1)).tensor.shares_storage(m.child("fc").parameter("weight")));
}

TEST_CASE("module: set_path and register_module propagate paths to every descendant") {
  std::mt19937_64 rng(kSeed);
  auto model = nested_model(rng);
  model->set_path("features");
  CHECK(model->find("0.conv")->path() == "features.0.conv");
  CHECK(model->find("3.3")->path() == "features.3.3");
  CHECK(module_names(*model).at(2) == "features.0.conv");
  CHECK(keys(model->state_dict()).front() == "features.0.conv.weight");

  Sequential outer;
  outer.add("backbone", model);  // re-registering re-derives the whole subtree
  CHECK(model->path() == "backbone");
  CHECK(outer.find("backbone.3.0")->path() == "backbone.3.0");
  CHECK(keys(outer.named_parameters()).back() == "backbone.3.3.bias");
  outer.set_path("");
  CHECK(outer.find("backbone.0.bn")->path() == "backbone.0.bn");

  Tape tape;
  outer.forward(tape.input(randn({1, 3, 4, 4}, rng)));
  CHECK(tape.node(0).name == "backbone.0.conv");
  CHECK(tape.value(tape.node(0).inputs.at(1)).name == "backbone.0.conv.weight");
}

TEST_CASE("module: clone is a deep copy; mutating it leaves the original unchanged") {
  std::mt19937_64 rng(kSeed);
  auto model = nested_model(rng);
  model->set_path("net");
  const auto before = model->state_dict();
  std::vector<std::vector<float>> before_values;
  for (const auto& [name, t] : before) before_values.push_back(t.to_vector());

  ModulePtr copy = model->clone();
  CHECK(copy->type_name() == "Sequential");
  CHECK(copy->path() == "net");
  CHECK(keys(copy->state_dict()) == keys(before));
  CHECK(dynamic_cast<Block*>(copy->find("0")) != nullptr);
  CHECK(copy->find("0") != model->find("0"));
  const auto copied = copy->state_dict();
  for (size_t i = 0; i < copied.size(); ++i) {
    CAPTURE(copied[i].first);
    CHECK_FALSE(copied[i].second.shares_storage(before[i].second));
    CHECK(copied[i].second.to_vector() == before_values[i]);
  }
  // Mutate the clone every way: in place, by set_tensor, and by re-pathing.
  copy->find("3.3")->parameter("weight").fill(7.0f);
  copy->find("0.bn")->buffer("running_var").fill(3.0f);
  CHECK(copy->set_tensor("net.3.0.bias", Tensor::full({8}, -1.0f)));
  copy->set_path("other");
  const auto after = model->state_dict();
  for (size_t i = 0; i < after.size(); ++i) {
    CAPTURE(after[i].first);
    CHECK(after[i].second.to_vector() == before_values[i]);
  }
  CHECK(model->find("3.3")->path() == "net.3.3");
  CHECK(copy->find("3.3")->path() == "other.3.3");
  CHECK(copy->find("3.3")->parameter("weight").at({0, 0}) == 7.0f);

  // The subclass and configuration survive cloning (out_proj keeps its PyTorch class name).
  MultiheadAttention mha(4, 2, rng);
  ModulePtr mc = mha.clone();
  CHECK(mc->child("out_proj").type_name() == "NonDynamicallyQuantizableLinear");
  CHECK(dynamic_cast<MultiheadAttention&>(*mc).num_heads() == 2);
}

TEST_CASE("module: set_tensor replaces by full name and checks the shape") {
  std::mt19937_64 rng(kSeed);
  auto model = nested_model(rng);
  const Tensor w = Tensor::full({3, 8}, 0.5f);
  CHECK(model->set_tensor("3.3.weight", w));
  CHECK(model->find("3.3")->parameter("weight").shares_storage(w));
  CHECK(model->set_tensor("0.bn.running_mean", Tensor::full({4}, 2.0f)));
  CHECK(model->find("0.bn")->buffer("running_mean").at({3}) == 2.0f);
  CHECK_FALSE(model->set_tensor("3.3.wieght", w));
  CHECK_FALSE(model->set_tensor("9.weight", w));
  CHECK_FALSE(model->set_tensor("", w));
  CHECK_THROWS_WITH_AS(model->set_tensor("3.3.weight", Tensor::zeros({8, 3})),
                       doctest::Contains("'3.3.weight' expects shape [3,8], got [8,3]"), ShapeError);
  // On a submodule the names are full names (what its state_dict() lists).
  model->set_path("m");
  Module& head = *model->find("3");
  CHECK(head.set_tensor("m.3.0.bias", Tensor::zeros({8})));
  CHECK_FALSE(head.set_tensor("3.0.bias", Tensor::zeros({8})));
}

TEST_CASE("module: errors name the module path and what exists") {
  std::mt19937_64 rng(kSeed);
  auto model = nested_model(rng);
  model->set_path("net");
  const Module& block = *model->find("0");
  CHECK_THROWS_WITH_AS(block.child("relu"),
                       doctest::Contains("Block 'net.0' has no child 'relu' (children: conv, bn, act)"), Error);
  CHECK_THROWS_WITH_AS(model->find("3.0")->parameter("weights"),
                       doctest::Contains("Linear 'net.3.0' has no parameter 'weights' (parameters: weight, bias)"),
                       Error);
  CHECK_THROWS_WITH_AS(model->find("0.bn")->buffer("mean"), doctest::Contains("running_mean, running_var"), Error);
  CHECK_THROWS_WITH_AS(model->find("1")->buffer("x"), doctest::Contains("(buffers: none)"), Error);
  CHECK_THROWS_WITH_AS(Sequential().child("0"), doctest::Contains("Sequential (root) has no child '0'"), Error);
  CHECK_THROWS_WITH_AS(Sequential().add("a.b", std::make_shared<ReLU>()), doctest::Contains("contain no '.'"), Error);
  Sequential s;
  s.add("a", std::make_shared<ReLU>());
  CHECK_THROWS_WITH_AS(s.add("a", std::make_shared<ReLU>()), doctest::Contains("already has"), Error);
  CHECK_THROWS_WITH_AS(s.push_back(nullptr), doctest::Contains("is null"), Error);
  CHECK_THROWS_WITH_AS(s[3], doctest::Contains("index 3 out of range for 1 children"), Error);
  CHECK(module_names(s) == std::vector<std::string>{"", "a"});

  Tape tape;
  Sequential wrapper{std::make_shared<Broken>()};
  CHECK_THROWS_WITH_AS(wrapper.forward(tape.input(Tensor::zeros({2}))),
                       doctest::Contains("Broken '0': forward needs parameter 'gain' (parameters: scale)"), Error);
  CHECK_THROWS_WITH_AS(model->forward(tape.input(Tensor::zeros({1, 3, 4}))), doctest::Contains("conv2d"), ShapeError);
  CHECK_THROWS_WITH_AS(Linear(4, 2, rng).forward(tape.input(Tensor::zeros({2, 5}))),
                       doctest::Contains("expected input [..., 4], got [2,5]"), ShapeError);
  CHECK_THROWS_WITH_AS(BatchNorm2d(3).forward(tape.input(Tensor::zeros({2, 3, 4}))),
                       doctest::Contains("expected input [N,C,H,W] with C=3, got [2,3,4]"), ShapeError);
  CHECK_THROWS_WITH_AS(BatchNorm1d(3).forward(tape.input(Tensor::zeros({2, 4}))),
                       doctest::Contains("expected input [N,C] or [N,C,L] with C=3, got [2,4]"), ShapeError);
  CHECK_THROWS_WITH_AS(LayerNorm({3, 4}).forward(tape.input(Tensor::zeros({2, 4, 3}))),
                       doctest::Contains("expected input [..., 3,4]"), ShapeError);
  CHECK_THROWS_WITH_AS(GELU("erf"), doctest::Contains("expected approximate \"none\" or \"tanh\", got \"erf\""), Error);
  CHECK_THROWS_WITH_AS(Conv2d(3, 4, 3, rng, {.groups = 2}), doctest::Contains("groups > 0 dividing in_channels (3)"),
                       Error);
  CHECK_THROWS_WITH_AS(Dropout(1.5f), doctest::Contains("p in [0, 1], got 1.5"), Error);
  CHECK_THROWS_WITH_AS(MaxPool2d(2, {.padding = 2}), doctest::Contains("padding <= kernel_size/2"), Error);
}

TEST_CASE("modules: defaults and initialisation follow PyTorch") {
  std::mt19937_64 rng(kSeed);
  SUBCASE("Linear and Conv2d: U(+-1/sqrt(fan_in)), seeded") {
    Linear fc(50, 20, rng);
    CHECK(keys(fc.named_parameters()) == std::vector<std::string>{"weight", "bias"});
    const float bound = 1.0f / std::sqrt(50.0f);
    const auto w = fc.parameter("weight").to_vector();
    CHECK(*std::max_element(w.begin(), w.end()) <= bound);
    CHECK(*std::min_element(w.begin(), w.end()) >= -bound);
    CHECK(*std::max_element(w.begin(), w.end()) > 0.9f * bound);  // spans the range, not a narrower one
    std::mt19937_64 a(7), b(7);
    CHECK(Linear(5, 3, a).parameter("weight").to_vector() == Linear(5, 3, b).parameter("weight").to_vector());
    CHECK_FALSE(Linear(5, 3, rng, false).has_parameter("bias"));

    Conv2d conv(6, 8, {3, 2}, rng, {.groups = 2});
    CHECK(conv.parameter("weight").shape() == Shape{8, 3, 3, 2});
    const float cb = 1.0f / std::sqrt(3.0f * 3 * 2);
    for (float v : conv.parameter("bias").span()) CHECK(std::fabs(v) <= cb);
  }
  SUBCASE("norms, embedding, attention") {
    BatchNorm2d bn(3);
    CHECK(bn.parameter("weight").to_vector() == std::vector<float>{1, 1, 1});
    CHECK(bn.buffer("running_var").to_vector() == std::vector<float>{1, 1, 1});
    CHECK(bn.eps() == 1e-5f);
    LayerNorm ln({2, 3}, 1e-6f, false);
    CHECK(ln.named_parameters().empty());
    Embedding emb(10, 4, rng);
    CHECK(emb.parameter("weight").shape() == Shape{10, 4});
    MultiheadAttention mha(6, 3, rng);
    CHECK(mha.parameter("in_proj_bias").to_vector() == std::vector<float>(18, 0.0f));
    CHECK(mha.child("out_proj").parameter("bias").to_vector() == std::vector<float>(6, 0.0f));
    const float xb = std::sqrt(6.0f / (6 + 18));
    for (float v : mha.parameter("in_proj_weight").span()) CHECK(std::fabs(v) <= xb);
    MaxPool2d mp(3);
    CHECK(mp.attrs().stride_h == 3);
    CHECK(mp.attrs().stride_w == 3);
    AvgPool2d ap({2, 3}, {.stride = 1, .padding = 1, .count_include_pad = false});
    CHECK(ap.attrs().kernel_w == 3);
    CHECK(ap.attrs().stride_w == 1);
    CHECK_FALSE(ap.attrs().count_include_pad);
  }
}

TEST_CASE("modules: forward equals the op with the module's tensors") {
  std::mt19937_64 rng(kSeed);
  Tape tape;
  SUBCASE("Linear by hand") {
    Linear fc(3, 2, rng);
    fc.set_tensor("weight", Tensor::from({2, 3}, {1, 2, 3, -1, 0, 1}));
    fc.set_tensor("bias", Tensor::from({2}, {0.5f, -0.5f}));
    Var y = fc.forward(tape.input(Tensor::from({1, 3}, {1, 1, 2})));
    CHECK(y.value().to_vector() == std::vector<float>{9.5f, 0.5f});
  }
  SUBCASE("element-wise and shape modules") {
    const Tensor xt = randn({2, 3, 4, 4}, rng);
    Var x = tape.input(xt);
    auto same = [](const Var& a, const Var& b) { BL_CHECK_CLOSE(a.value(), b.value(), 0, 0); };
    same(ReLU().forward(x), relu(x));
    same(ReLU6().forward(x), relu6(x));
    same(LeakyReLU(0.2f).forward(x), leaky_relu(x, 0.2f));
    same(Sigmoid().forward(x), sigmoid(x));
    same(Tanh().forward(x), tanh(x));
    same(GELU("tanh").forward(x), gelu(x, true));
    same(GELU().forward(x), gelu(x, false));
    same(Softmax(1).forward(x), softmax(x, 1));
    same(Dropout().forward(x), x);
    CHECK(Identity().forward(x).id() == x.id());
    CHECK(Flatten().forward(x).shape() == Shape{2, 48});
    CHECK(Flatten(0, 2).forward(x).shape() == Shape{24, 4});
    same(MaxPool2d(2).forward(x), maxpool2d(x, Pool2dAttrs{.kernel_h = 2, .kernel_w = 2, .stride_h = 2,
                                                           .stride_w = 2}));
    same(AvgPool2d(2, {.stride = 1}).forward(x), avgpool2d(x, Pool2dAttrs{.kernel_h = 2, .kernel_w = 2}));
    same(AdaptiveAvgPool2d(1).forward(x), adaptive_avgpool2d(x, 1, 1));
    CHECK(AdaptiveAvgPool2d({2, 1}).forward(x).shape() == Shape{2, 3, 2, 1});
  }
  SUBCASE("norms and embedding") {
    Var x = tape.input(randn({2, 3, 4}, rng));
    BatchNorm1d bn(3);
    bn.set_tensor("running_mean", Tensor::from({3}, {1, 2, 3}));
    bn.set_tensor("running_var", Tensor::from({3}, {4, 1, 0.25f}));
    Var y = bn.forward(x);
    CHECK(y.value().at({1, 2, 3}) == doctest::Approx((x.value().at({1, 2, 3}) - 3) / std::sqrt(0.25 + 1e-5)));
    LayerNorm ln({4});
    Var z = ln.forward(x);
    double mean = 0;
    for (int j = 0; j < 4; ++j) mean += z.value().at({1, 1, j});
    CHECK(mean == doctest::Approx(0).epsilon(1e-5));
    Embedding emb(5, 2, rng);
    Var e = emb.forward(tape.input(Tensor::from({3}, {4, 0, 4})));
    CHECK(e.shape() == Shape{3, 2});
    CHECK(e.value().at({0, 1}) == emb.parameter("weight").at({4, 1}));
    CHECK(e.value().at({1, 0}) == emb.parameter("weight").at({0, 0}));
  }
}

}  // TEST_SUITE
