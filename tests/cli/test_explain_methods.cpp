// `backlight explain --method X` for every method the library lists, on the default model, with
// the CLI's defaults for layers and neurons; --size.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "attribution/registry.h"
#include "models/default_model.h"
#include "tests/cli/run_cli.h"
#include "tests/cli/temp_dir.h"
#include "io/image_io.h"
#include "io/npy.h"

using namespace backlight;
using backlight::test::contains;
using backlight::test::decode_png;
using backlight::test::Run;
using backlight::test::run_cli;
using backlight::test::TempDir;

TEST_SUITE("cli") {

TEST_CASE("cli/explain: every method of `backlight methods` runs from the command line") {
  if (!default_model_available()) return;
  TempDir dir("explain_methods");
  // feature_permutation shuffles across a batch: it runs in batch mode over two images.
  const std::string a = dir.file("a.png"), b = dir.file("b.png");
  cli::write_png(a, default_images().at(0).sample.image);
  cli::write_png(b, default_images().at(1).sample.image);
  for (const MethodInfo& m : methods()) {
    CAPTURE(m.name);
    // Few steps and samples keep the sweep quick; they do not change what runs.
    std::string args = "explain --method " + m.name + " --steps 4 --samples 4 --json";
    if (m.name == "attention_rollout") args += " --model vit_tiny --size 32x32";  // needs attention layers
    if (m.name == "feature_permutation") {
      const Run r = run_cli(args + " --image '" + a + "' --image '" + b + "' --out '" + dir.file("perm") + "'", true);
      REQUIRE_MESSAGE(r.status == 0, r.output);
      const nlohmann::json j = nlohmann::json::parse(r.output);
      CHECK(j.at("failed") == 0);
      CHECK(decode_png(dir.file("perm/a.png")).size(1) > 64);
      continue;
    }
    const std::string png = dir.file(m.name + ".png");
    const Run r = run_cli(args + " --out '" + png + "'", true);
    REQUIRE_MESSAGE(r.status == 0, r.output);
    const nlohmann::json j = nlohmann::json::parse(r.output);
    CHECK(j.at("methods").at(0).at("method") == m.name);
    if (m.needs_layer) CHECK(j.contains("layer"));
    if (m.needs_neuron) CHECK(j.at("neuron").size() == 1);
    const Tensor img = decode_png(png);
    CHECK(img.size(1) > 64);
  }
}

TEST_CASE("cli/explain: layer and neuron methods default to the final feature maps and their most active unit") {
  if (!default_model_available()) return;
  TempDir dir("explain_layers");
  const Run r =
      run_cli("explain --method layer_activation,neuron_gradient --json --out '" + dir.file("l.png") + "'", true);
  REQUIRE_MESSAGE(r.status == 0, r.output);
  const nlohmann::json j = nlohmann::json::parse(r.output);
  CHECK(j.at("layer") == "features.10");  // the ReLU feeding shapes_cnn's global average pooling
  CHECK(j.at("methods").at(0).at("shape") == nlohmann::json::array({1, 64, 8, 8}));
  CHECK(j.at("methods").at(1).at("shape") == nlohmann::json::array({1, 3, 64, 64}));
  const int64_t unit = j.at("neuron").at(0).get<int64_t>();
  CHECK(unit >= 0);
  CHECK(unit < 64 * 8 * 8);
  // Given flags win.
  const Run g = run_cli("explain --method layer_activation,neuron_gradient --layer features.3 --neuron 0,1,1 --json "
                        "--out '" + dir.file("g.png") + "'", true);
  REQUIRE_MESSAGE(g.status == 0, g.output);
  const nlohmann::json k = nlohmann::json::parse(g.output);
  CHECK(k.at("layer") == "features.3");
  CHECK(k.at("methods").at(0).at("shape") == nlohmann::json::array({1, 32, 32, 32}));
  CHECK(k.at("neuron") == nlohmann::json::array({0, 1, 1}));
  // An unknown layer is a runtime error naming it.
  const Run bad = run_cli("explain --method layer_activation --layer features.99 --out '" + dir.file("b.png") + "'");
  CHECK(bad.status == 1);
  CHECK(contains(bad.output, "features.99"));
}

TEST_CASE("cli/explain: --size resizes images (shorter side or HxW) before the model") {
  if (!default_model_available()) return;
  TempDir dir("explain_size");
  const std::string img = dir.file("in.png");
  cli::write_png(img, Tensor::full({3, 30, 40}, 0.5f));
  const Run r = run_cli("explain --image '" + img + "' --size 20 --method saliency --out '" + dir.file("a.png") +
                        "' --save '" + dir.file("a.npy") + "'");
  REQUIRE_MESSAGE(r.status == 0, r.output);
  CHECK(cli::load_npy(dir.file("a.npy")).shape() == Shape{1, 3, 20, 26});  // int(20 * 40 / 30)
  const Run e = run_cli("explain --image '" + img + "' --size 16x24 --method saliency --out '" + dir.file("b.png") +
                        "' --save '" + dir.file("b.npy") + "'");
  REQUIRE_MESSAGE(e.status == 0, e.output);
  CHECK(cli::load_npy(dir.file("b.npy")).shape() == Shape{1, 3, 16, 24});
}

}  // TEST_SUITE

TEST_SUITE("cli") {

TEST_CASE("cli/explain: --weights loads a shapes_cnn file like the embedded model; --model must match it") {
  if (!default_model_available()) return;
  TempDir dir("explain_weights");
  const std::string weights = std::string(BACKLIGHT_TEST_DATA) + "/../../models/weights/shapes_cnn.safetensors";
  const Run file = run_cli("explain --weights '" + weights + "' --method saliency --out '" + dir.file("w.png") +
                           "' --save '" + dir.file("w.npy") + "'");
  REQUIRE_MESSAGE(file.status == 0, file.output);
  const Run embedded =
      run_cli("explain --method saliency --out '" + dir.file("e.png") + "' --save '" + dir.file("e.npy") + "'");
  REQUIRE_MESSAGE(embedded.status == 0, embedded.output);
  CHECK(cli::load_npy(dir.file("w.npy")).to_vector() == cli::load_npy(dir.file("e.npy")).to_vector());
  const Run mismatch =
      run_cli("explain --model resnet18 --weights '" + weights + "' --out '" + dir.file("m.png") + "'");
  CHECK(mismatch.status == 1);
  CHECK(contains(mismatch.output, "holds weights of shapes_cnn"));
}

}  // TEST_SUITE
