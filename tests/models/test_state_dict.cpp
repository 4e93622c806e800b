// load_state_dict / load_weights / save_weights / load_model: every mismatch in one message, no
// partial loads, num_batches_tracked as torchvision checkpoints, arch metadata checks.
#include <filesystem>

#include "engine/error.h"
#include "models/safetensors.h"
#include "models/state_dict.h"
#include "models/synthetic_weights.h"
#include "models/zoo.h"
#include "tests/cli/temp_dir.h"
#include "tests/helpers.h"

using namespace backlight;
using namespace backlight::test;

namespace {

using Entries = std::vector<std::pair<std::string, Tensor>>;

Entries state_of(const Module& m) {
  Entries out;
  for (const auto& [k, t] : m.state_dict()) out.emplace_back(k, t.clone());
  return out;
}

void remove_key(Entries& e, const std::string& key) {
  std::erase_if(e, [&](const auto& p) { return p.first == key; });
}

Tensor& at(Entries& e, const std::string& key) {
  for (auto& [k, t] : e)
    if (k == key) return t;
  FAIL("no key ", key);
  return e.front().second;
}

// Module-owned tensors by key (to see whether a load changed anything).
std::vector<std::vector<float>> values(const Module& m) {
  std::vector<std::vector<float>> out;
  for (const auto& [k, t] : m.state_dict()) out.push_back(t.to_vector());
  return out;
}

}  // namespace

TEST_SUITE("models") {

TEST_CASE("load_state_dict: loads every key by handle, round trip through another model") {
  auto src = make_model("mnist_cnn", {.seed = 1});
  auto dst = make_model("mnist_cnn", {.seed = 2});
  const Entries sd = state_of(*src);
  const LoadReport r = load_state_dict(*dst, sd);
  CHECK(r.loaded.size() == sd.size());
  CHECK(r.missing.empty());
  CHECK(r.unexpected.empty());
  CHECK(values(*dst) == values(*src));
  CHECK(dst->find("features.0")->parameter("weight").shares_storage(sd[0].second));  // no copy
}

TEST_CASE("load_state_dict: missing, unexpected and wrong-shape keys are reported together, model untouched") {
  auto model = make_model("resnet18", {.num_classes = 10});
  const auto before = values(*model);
  Entries sd = state_of(*make_model("resnet18", {.num_classes = 10, .seed = 9}));
  remove_key(sd, "fc.bias");
  remove_key(sd, "layer1.0.bn1.running_var");
  sd.emplace_back("fc.b", Tensor::zeros({10}));
  sd.emplace_back("module.conv1.weight", Tensor::zeros({64, 3, 7, 7}));
  at(sd, "conv1.weight") = Tensor::zeros({64, 1, 7, 7});
  at(sd, "fc.weight") = Tensor::zeros({1000, 512});
  std::string msg;
  try {
    load_state_dict(*model, sd);
  } catch (const Error& e) {
    msg = e.what();
  }
  CAPTURE(msg);
  CHECK(msg.find("load_state_dict: 6 problems loading 122 tensors into ResNet (root) (122 keys)") == 0);
  CHECK(msg.find("missing keys (2): layer1.0.bn1.running_var, fc.bias") != std::string::npos);
  CHECK(msg.find("unexpected keys (2): fc.b, module.conv1.weight") != std::string::npos);
  CHECK(msg.find("wrong shapes (2): conv1.weight expected [64,3,7,7], got [64,1,7,7], fc.weight expected "
                 "[10,512], got [1000,512]") != std::string::npos);
  CHECK(values(*model) == before);  // nothing was loaded
}

TEST_CASE("load_state_dict: strict=false reports missing/unexpected, still rejects wrong shapes and duplicates") {
  auto model = make_model("lenet5");
  Entries sd = state_of(*make_model("lenet5", {.seed = 4}));
  remove_key(sd, "classifier.4.bias");
  sd.emplace_back("extra", Tensor::zeros({1}));
  const LoadReport r = load_state_dict(*model, sd, /*strict=*/false);
  CHECK(r.missing == std::vector<std::string>{"classifier.4.bias"});
  CHECK(r.unexpected == std::vector<std::string>{"extra"});
  CHECK(r.loaded.size() == sd.size() - 1);

  Entries bad = sd;
  at(bad, "features.0.weight") = Tensor::zeros({6, 1, 3, 3});
  bad.emplace_back("features.0.bias", Tensor::zeros({6}));
  CHECK_THROWS_WITH_AS(load_state_dict(*model, bad, false),
                       doctest::Contains("wrong shapes (1): features.0.weight expected [6,1,5,5], got [6,1,3,3]"),
                       Error);
  CHECK_THROWS_WITH_AS(load_state_dict(*model, bad, false), doctest::Contains("duplicate keys (1): features.0.bias"),
                       Error);
}

TEST_CASE("load_state_dict: num_batches_tracked may be absent (old checkpoints) or shaped [1]") {
  auto model = make_model("mobilenet_v2", {.num_classes = 2});
  Entries sd = state_of(*model);
  remove_key(sd, "features.0.1.num_batches_tracked");
  at(sd, "features.1.conv.0.1.num_batches_tracked") = Tensor::full({1}, 7.0f);
  const LoadReport r = load_state_dict(*model, sd);
  CHECK(r.loaded.size() == sd.size());
  const Tensor& n = model->find("features.1.conv.0.1")->buffer("num_batches_tracked");
  CHECK(n.shape() == Shape());
  CHECK(n.item() == 7.0f);
}

TEST_CASE("save_weights / load_weights / load_model: round trip with arch metadata") {
  TempDir tmp("zoo_weights");
  auto model = make_model("mlp", {.num_classes = 3, .mlp_sizes = {6, 5}});
  fill_synthetic(*model, 11);
  const std::string path = tmp.file("mlp.safetensors");
  save_weights(*model, path, {{"arch", "mlp"}, {"num_classes", "3"}, {"mlp_sizes", "6,5"}});
  const SafeTensorsFile f = read_safetensors(path);
  CHECK(f.metadata.at("format") == kWeightsFormat);

  auto other = make_model("mlp", {.num_classes = 3, .mlp_sizes = {6, 5}});
  load_weights(*other, path, {.arch = "mlp"});
  CHECK(values(*other) == values(*model));

  const ModulePtr loaded = load_model(path);
  CHECK(values(*loaded) == values(*model));
  CHECK(loaded->find("1")->parameter("weight").shape() == Shape{5, 6});

  CHECK_THROWS_WITH_AS(load_weights(*other, path, {.arch = "mnist_cnn"}),
                       doctest::Contains("holds weights for architecture 'mlp', but the model is 'mnist_cnn'"),
                       Error);
  CHECK_THROWS_WITH_AS(load_model(path, {.num_classes = 4}),
                       doctest::Contains("holds 3 classes, the configuration asks for 4"), Error);
  auto wrong = make_model("lenet5");
  CHECK_THROWS_WITH_AS(load_weights(*wrong, path), doctest::Contains("(arch 'mlp'): load_state_dict: "), Error);
  CHECK_THROWS_WITH_AS(load_weights(*wrong, path), doctest::Contains("unexpected keys (4): 1.weight, 1.bias"),
                       Error);

  const std::string bare = tmp.file("bare.safetensors");
  save_weights(*model, bare);
  CHECK_THROWS_WITH_AS(load_model(bare), doctest::Contains("has no \"arch\" metadata"), Error);
  write_safetensors(bare, model->state_dict(), {{"format", "backlight-9"}});
  CHECK_THROWS_WITH_AS(load_weights(*other, bare), doctest::Contains("unsupported format 'backlight-9'"), Error);
}

TEST_CASE("load_model: reads a file written by tools/convert_torch.py and reproduces torch's logits") {
  // convert_mlp.safetensors: convert_torch.py --arch mlp --mlp-sizes 12,8 --num-classes 3 --seed 1
  // (safetensors package writer: keys sorted by name, not in state_dict order).
  const ModulePtr model = load_model(BACKLIGHT_TEST_DATA "/models/convert_mlp.safetensors");
  CHECK(model->find("3")->parameter("weight").shape() == Shape{3, 8});
  const SafeTensorsFile ref = read_safetensors(BACKLIGHT_TEST_DATA "/models/zoo_parity.safetensors");
  const uint64_t seed = 20240611;  // make_zoo_fixtures.py SEED
  Tape tape(TapeOptions{.record = false});
  const Var y = model->forward(tape.input(synthetic_uniform({2, 12}, seed, "input", -1, 1)));
  BL_CHECK_CLOSE(y.value(), ref.at("convert_mlp.logits"), 1e-6, 1e-5);
}

}  // TEST_SUITE
