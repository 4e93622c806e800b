// Load-time weight check (issue 14): NaN/Inf weights and negative BatchNorm running variances are
// refused at load, naming the tensor; the opt-out loads them and NaN then reaches the logits as in
// PyTorch (relu used to turn it into a number).
#include "models/weight_check.h"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <random>

#include "engine/error.h"
#include "engine/tape.h"
#include "models/default_model.h"
#include "models/safetensors.h"
#include "models/state_dict.h"
#include "models/zoo.h"
#include "tests/cli/temp_dir.h"
#include "tests/helpers.h"

using namespace backlight;
using backlight::test::TempDir;

namespace {

// The model's state_dict as an in-memory "file" with one element of `key` replaced by `value`.
SafeTensorsFile poisoned(const Module& m, const std::string& key, int64_t index, float value,
                         std::map<std::string, std::string> metadata = {}) {
  SafeTensorsFile f;
  f.path = "poisoned.safetensors";
  f.metadata = std::move(metadata);
  for (auto& [k, t] : m.state_dict()) {
    Tensor c = t.clone();
    if (k == key) c.data()[index] = value;
    f.tensors.emplace_back(k, c);
  }
  return f;
}

}  // namespace

TEST_SUITE("models") {

TEST_CASE("weight check: NaN, +Inf and -Inf weights are refused at load, naming file, tensor and index") {
  const ModulePtr trained = default_model();
  const std::string key = trained->state_dict().front().first;
  for (const float bad : {std::numeric_limits<float>::quiet_NaN(), INFINITY, -INFINITY}) {
    std::mt19937_64 rng(0);
    const ModulePtr m = make_shapes_cnn(rng);
    const SafeTensorsFile f = poisoned(*trained, key, 5, bad);
    CHECK_THROWS_WITH_AS(load_weights(*m, f), doctest::Contains(("poisoned.safetensors: tensor \"" + key + "\"").c_str()), Error);
    CHECK_THROWS_WITH_AS(load_weights(*m, f), doctest::Contains("holds 1 non-finite value (first: "), Error);
    CHECK_THROWS_WITH_AS(load_weights(*m, f), doctest::Contains("at flat index 5)"), Error);
    CHECK_THROWS_WITH_AS(load_weights(*m, f), doctest::Contains("--allow-nonfinite-weights"), Error);
  }
}

TEST_CASE("weight check: a negative BatchNorm running variance is refused, naming the buffer") {
  const ModulePtr m = make_model("resnet18", {.num_classes = 4});
  const SafeTensorsFile f = poisoned(*m, "layer2.0.bn1.running_var", 3, -0.25f);
  CHECK_THROWS_WITH_AS(load_weights(*m, f),
                       doctest::Contains("BatchNorm running variance \"layer2.0.bn1.running_var\" [128] holds a "
                                         "negative value (-0.25 at index 3)"),
                       Error);
  CHECK_NOTHROW(load_weights(*m, f, {.allow_nonfinite_weights = true}));
  CHECK(m->find("layer2.0.bn1")->buffer("running_var").data()[3] == -0.25f);
}

TEST_CASE("weight check: opt-out loads a NaN weight, and NaN reaches every logit as in PyTorch") {
  TempDir tmp("weight_check");
  const ModulePtr trained = default_model();
  const std::string key = trained->state_dict().front().first;  // the first conv's weight
  const SafeTensorsFile f = poisoned(*trained, key, 0, std::numeric_limits<float>::quiet_NaN(),
                                     {{"arch", "shapes_cnn"}});
  std::mt19937_64 rng(1);
  const ModulePtr m = make_shapes_cnn(rng);
  load_weights(*m, f, {.allow_nonfinite_weights = true});
  Tape tape(TapeOptions{.record = false});
  const Tensor logits = m->forward(tape.input(test::uniform(Shape{1, 3, 64, 64}, rng, 0.0f, 1.0f))).value();
  for (const float v : logits.span()) CHECK(std::isnan(v));

  // The zoo path: load_model checks too, ModelConfig opts out.
  const ModulePtr lenet = make_model("lenet5");
  const std::string lkey = lenet->state_dict().front().first;
  const SafeTensorsFile lf = poisoned(*lenet, lkey, 2, INFINITY);
  const std::string path = tmp.file("lenet5.safetensors");
  write_safetensors(path, lf.tensors, {{"arch", "lenet5"}, {"num_classes", "10"}});
  CHECK_THROWS_WITH_AS(load_model(path), doctest::Contains(("tensor \"" + lkey + "\" [6,1,5,5] holds 1 non-finite value").c_str()),
                       Error);
  CHECK_NOTHROW(load_model(path, {.allow_nonfinite_weights = true}));
}

}  // TEST_SUITE
