// Model zoo: every architecture builds, runs a forward at a small input, and has torchvision's
// module names, class names, state_dict keys and shapes (tests/data/models/zoo_names.json, written
// by tools/reference/make_zoo_fixtures.py from torchvision 0.14).
#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "engine/error.h"
#include "models/zoo.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

const nlohmann::json& zoo_names() {
  static const nlohmann::json names = [] {
    std::ifstream f(BACKLIGHT_TEST_DATA "/models/zoo_names.json");
    REQUIRE_MESSAGE(f.good(), "cannot open " BACKLIGHT_TEST_DATA "/models/zoo_names.json");
    return nlohmann::json::parse(f);
  }();
  return names;
}

// Names, classes, keys and shapes against torchvision's listing for `arch` (default classes).
void check_names(const std::string& arch, const Module& model) {
  const nlohmann::json& ref = zoo_names().at(arch);
  std::vector<std::string> ref_keys, keys;
  std::vector<Shape> ref_shapes, shapes;
  for (const auto& e : ref.at("state_dict")) {
    ref_keys.push_back(e.at(0).get<std::string>());
    ref_shapes.emplace_back(e.at(1).get<std::vector<int64_t>>());
  }
  for (const auto& [k, t] : model.state_dict()) {
    keys.push_back(k);
    shapes.push_back(t.shape());
  }
  CHECK(keys == ref_keys);
  if (keys == ref_keys)
    for (size_t i = 0; i < keys.size(); ++i) {
      CAPTURE(keys[i]);
      CHECK(shapes[i] == ref_shapes[i]);
    }
  std::vector<std::pair<std::string, std::string>> ref_modules, modules;
  for (const auto& e : ref.at("modules")) ref_modules.emplace_back(e.at(0), e.at(1));
  for (const auto& [path, m] : model.named_modules()) modules.emplace_back(path, m->type_name());
  REQUIRE(modules.size() == ref_modules.size());
  for (size_t i = 0; i < modules.size(); ++i) {
    CAPTURE(ref_modules[i].first);
    CHECK(modules[i] == ref_modules[i]);
  }
}

// Builds `arch` (default config), checks its names, and runs one forward of batch 2 at `input`.
void build_check_run(const std::string& arch, std::vector<int64_t> input, const ModelConfig& run_cfg = {},
                     bool run_default = true) {
  CAPTURE(arch);
  const auto t0 = std::chrono::steady_clock::now();
  ModulePtr model = make_model(arch);
  check_names(arch, *model);
  const ModelInfo info = zoo_model_info(arch);
  if (!run_default) model = make_model(arch, run_cfg);
  input.insert(input.begin(), 2);
  std::mt19937_64 rng(kSeed);
  Tape tape(TapeOptions{.record = false});
  const Var y = model->forward(tape.input(uniform(Shape(input), rng)));
  CHECK(y.shape() == Shape{2, run_default ? info.num_classes : y.shape()[1]});
  bool finite = true;
  for (float v : y.value().span()) finite = finite && std::isfinite(v);
  CHECK(finite);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (doctest::getContextOptions()->success)
    MESSAGE(arch, ": built, names checked, forward ", Shape(input), " in ", secs, " s");
}

}  // namespace

TEST_SUITE("models") {

TEST_CASE("zoo: zoo_models lists every architecture once with its default input") {
  const auto models = zoo_models();
  std::set<std::string> names;
  for (const ModelInfo& m : models) {
    CAPTURE(m.name);
    CHECK(names.insert(m.name).second);
    CHECK(m.input.size() == 3);
    CHECK(m.num_classes > 0);
    CHECK_FALSE(m.description.empty());
    CHECK(zoo_names().contains(m.name));
  }
  CHECK(names.size() == zoo_names().size());
  for (const char* n : {"mlp", "mnist_cnn", "lenet5", "alexnet", "vgg11", "vgg11_bn", "vgg13", "vgg13_bn", "vgg16",
                        "vgg16_bn", "vgg19", "vgg19_bn", "resnet18", "resnet34", "resnet50", "mobilenet_v2",
                        "vit_b_16", "vit_tiny"})
    CHECK(names.count(n) == 1);
  CHECK(zoo_model_info("vit_tiny").input == std::vector<int64_t>{3, 32, 32});
  CHECK_FALSE(zoo_model_info("vit_b_16").flexible_input);
  CHECK(zoo_model_info("resnet18").flexible_input);
}

TEST_CASE("zoo: unknown names and bad configurations are errors naming what is known") {
  CHECK_THROWS_WITH_AS(make_model("resnet19"),
                       doctest::Contains("make_model: unknown model 'resnet19'; known models: mlp, mnist_cnn"),
                       Error);
  CHECK_THROWS_WITH_AS(make_model("resnet19"), doctest::Contains("vit_b_16, vit_tiny"), Error);
  CHECK_THROWS_WITH_AS(zoo_model_info(""), doctest::Contains("unknown model ''"), Error);
  CHECK_THROWS_WITH_AS(make_model("mlp", {.num_classes = -1}), doctest::Contains("num_classes >= 0"), Error);
  CHECK_THROWS_WITH_AS(make_model("vit_tiny", {.vit = {.image_size = 30}}),
                       doctest::Contains("image_size divisible by patch_size, got 30 and 8"), Error);
  CHECK_THROWS_WITH_AS(make_model("mlp", {.mlp_sizes = {784, 0}}), doctest::Contains("positive sizes, got 0"),
                       Error);
  auto vit = make_model("vit_tiny");
  Tape tape;
  CHECK_THROWS_WITH_AS(vit->forward(tape.input(Tensor::zeros({1, 3, 64, 64}))),
                       doctest::Contains("VisionTransformer: expected input [N,3,32,32], got [1,3,64,64]"),
                       ShapeError);
}

TEST_CASE("zoo: configuration knobs (classes, seed, mlp sizes, width, ViT sizes)") {
  auto a = make_model("mnist_cnn", {.num_classes = 3, .seed = 5});
  auto b = make_model("mnist_cnn", {.num_classes = 3, .seed = 5});
  auto c = make_model("mnist_cnn", {.num_classes = 3, .seed = 6});
  CHECK(a->find("classifier.2")->parameter("weight").shape() == Shape{3, 256});
  CHECK(a->find("features.0")->parameter("weight").to_vector() ==
        b->find("features.0")->parameter("weight").to_vector());
  CHECK(a->find("features.0")->parameter("weight").to_vector() !=
        c->find("features.0")->parameter("weight").to_vector());

  auto m = make_model("mlp", {.num_classes = 4, .mlp_sizes = {12, 8, 6, 5}});
  std::vector<std::string> keys;
  for (const auto& [k, t] : m->state_dict()) keys.push_back(k + t.shape().str());
  CHECK(keys == std::vector<std::string>{"1.weight[8,12]", "1.bias[8]", "3.weight[6,8]", "3.bias[6]",
                                         "5.weight[5,6]", "5.bias[5]", "7.weight[4,5]", "7.bias[4]"});
  Tape tape;
  CHECK(m->forward(tape.input(Tensor::zeros({2, 3, 4}))).shape() == Shape{2, 4});  // flattened first

  auto slim = make_model("mobilenet_v2", {.width_mult = 0.5f});
  CHECK(slim->find("features.0.0")->parameter("weight").shape() == Shape{16, 3, 3, 3});
  CHECK(slim->find("features.18.0")->parameter("weight").shape() == Shape{1280, 160, 1, 1});

  auto vit = make_model("vit_tiny", {.vit = {.image_size = 16, .num_layers = 1}});
  CHECK(vit->find("encoder")->parameter("pos_embedding").shape() == Shape{1, 5, 64});
  CHECK(vit->find("encoder.layers.encoder_layer_1") == nullptr);
}

TEST_CASE("zoo: clone keeps every class (Sequential subclasses too) and the outputs") {
  for (const char* arch : {"mobilenet_v2", "vit_tiny", "resnet18"}) {
    CAPTURE(arch);
    const ModulePtr model = make_model(arch, {.num_classes = 3, .seed = 2});
    const ModulePtr copy = model->clone();
    std::vector<std::string> a, b;
    for (const auto& [path, m] : model->named_modules()) a.push_back(path + ":" + m->type_name());
    for (const auto& [path, m] : copy->named_modules()) b.push_back(path + ":" + m->type_name());
    CHECK(a == b);
    std::mt19937_64 rng(kSeed);
    const Tensor x = uniform({1, 3, 32, 32}, rng);
    Tape t1(TapeOptions{.record = false}), t2(TapeOptions{.record = false});
    CHECK(model->forward(t1.input(x)).value().to_vector() == copy->forward(t2.input(x)).value().to_vector());
  }
}

TEST_CASE("zoo/small: mlp, mnist_cnn, lenet5 build, match the converter's torch modules, run") {
  for (const char* arch : {"mlp", "mnist_cnn", "lenet5"}) build_check_run(arch, {1, 28, 28});
}

TEST_CASE("zoo/alexnet: torchvision names, forward at 64x64") { build_check_run("alexnet", {3, 64, 64}); }

// One test case per VGG: each builds ~130M parameters (about 1.3 s of random init in Release).
TEST_CASE("zoo/vgg11: torchvision names, forward at 32x32") { build_check_run("vgg11", {3, 32, 32}); }
TEST_CASE("zoo/vgg11_bn: torchvision names, forward at 32x32") { build_check_run("vgg11_bn", {3, 32, 32}); }
TEST_CASE("zoo/vgg13: torchvision names, forward at 32x32") { build_check_run("vgg13", {3, 32, 32}); }
TEST_CASE("zoo/vgg13_bn: torchvision names, forward at 32x32") { build_check_run("vgg13_bn", {3, 32, 32}); }
TEST_CASE("zoo/vgg16: torchvision names, forward at 32x32") { build_check_run("vgg16", {3, 32, 32}); }
TEST_CASE("zoo/vgg16_bn: torchvision names, forward at 32x32") { build_check_run("vgg16_bn", {3, 32, 32}); }
TEST_CASE("zoo/vgg19: torchvision names, forward at 32x32") { build_check_run("vgg19", {3, 32, 32}); }
TEST_CASE("zoo/vgg19_bn: torchvision names, forward at 32x32") { build_check_run("vgg19_bn", {3, 32, 32}); }

TEST_CASE("zoo/resnet18: torchvision names, forward at 64x64") { build_check_run("resnet18", {3, 64, 64}); }
TEST_CASE("zoo/resnet34: torchvision names, forward at 64x64") { build_check_run("resnet34", {3, 64, 64}); }
TEST_CASE("zoo/resnet50: torchvision names, forward at 64x64") { build_check_run("resnet50", {3, 64, 64}); }

TEST_CASE("zoo/mobilenet_v2: torchvision names, forward at 32x32") { build_check_run("mobilenet_v2", {3, 32, 32}); }

TEST_CASE("zoo/vit_tiny: torchvision names, forward at 32x32") { build_check_run("vit_tiny", {3, 32, 32}); }

TEST_CASE("zoo/vit_b_16: torchvision names; one tiny forward of the same code") {
  // ViT-B/16 at 224x224 is 17 GFLOP per image: run its code at image size 32 (2x2 patches), one layer.
  build_check_run("vit_b_16", {3, 32, 32}, ModelConfig{.num_classes = 5, .vit = {.image_size = 32, .num_layers = 1}},
                  false);
}

TEST_CASE("zoo/resnet: residual adds are nodes named by the block, the block relu is reused") {
  auto model = make_model("resnet18", {.num_classes = 4});
  Tape tape;
  model->forward(tape.input(Tensor::zeros({1, 3, 32, 32})));
  std::vector<std::string> block;
  for (const Node& n : tape.nodes())
    if (n.name.rfind("layer2.0", 0) == 0) block.push_back(n.name + ":" + std::string(to_string(n.kind)));
  CHECK(block == std::vector<std::string>{"layer2.0.conv1:conv2d", "layer2.0.bn1:batchnorm", "layer2.0.relu:relu",
                                          "layer2.0.conv2:conv2d", "layer2.0.bn2:batchnorm",
                                          "layer2.0.downsample.0:conv2d", "layer2.0.downsample.1:batchnorm",
                                          "layer2.0:add", "layer2.0.relu:relu"});
  int adds = 0;
  for (const Node& n : tape.nodes()) adds += n.kind == OpKind::Add;
  CHECK(adds == 8);
  CHECK(tape.node(tape.num_nodes() - 1).name == "fc");
  CHECK(tape.node(tape.num_nodes() - 2).name == "flatten");
}

TEST_CASE("zoo/vit: class token and position embedding stay on the tape and get gradients") {
  auto model = make_model("vit_tiny", {.num_classes = 3, .seed = 1});
  std::mt19937_64 rng(kSeed);
  Tape tape;
  const Var x = tape.input(uniform({3, 3, 32, 32}, rng));
  const Var y = model->forward(x);
  std::vector<Var> wrt;
  for (const Var& p : tape.parameters()) {
    const std::string& name = tape.value(p.id()).name;
    if (name == "class_token" || name == "encoder.pos_embedding") wrt.push_back(p);
  }
  REQUIRE(wrt.size() == 2);
  const std::vector<Var> outs{y};
  const std::vector<Tensor> seeds{Tensor::full(y.shape(), 1.0f)};
  const auto grads = backward(tape, outs, seeds, wrt, RuleSet());
  CHECK(grads[0].shape() == Shape{1, 1, 64});
  CHECK(max_abs(grads[0]) > 1e-6);
  CHECK(max_abs(grads[1]) > 1e-6);
  std::set<std::string> names;
  for (const Node& n : tape.nodes()) names.insert(n.name);
  for (const char* n : {"class_token_expand", "class_token_cat", "encoder.pos_embedding_add", "class_token_select",
                        "encoder.layers.encoder_layer_1.residual_mlp", "encoder.layers.encoder_layer_0.mlp.1"})
    CHECK(names.count(n) == 1);
}

}  // TEST_SUITE
