// `backlight sanity` end to end: JSON per method and randomisation step, the figure, usage errors.
#include <doctest/doctest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "models/default_model.h"
#include "tests/cli/temp_dir.h"

using backlight::test::TempDir;

namespace {

int run_sanity(const std::string& args, std::string& output) {
  const std::string cmd = std::string("'") + BACKLIGHT_CLI + "' sanity " + args + " 2>/dev/null </dev/null";
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE_MESSAGE(p, "popen failed for ", cmd);
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) output.append(buf, n);
  const int st = ::pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

}  // namespace

TEST_SUITE("cli") {

TEST_CASE("sanity: cascading and independent randomisation give per-layer similarities and a figure") {
  if (!backlight::default_model_available()) return;
  const TempDir dir("sanity");
  for (const std::string mode : {"cascading", "independent"}) {
    CAPTURE(mode);
    std::string out;
    REQUIRE(run_sanity("--images 2 --methods saliency,grad_cam --mode " + mode + " --json --out '" +
                           dir.file(mode + ".png") + "'",
                       out) == 0);
    const nlohmann::json j = nlohmann::json::parse(out);
    CHECK(j["mode"] == mode);
    REQUIRE(j["methods"].size() == 2);
    CHECK(j["methods"][0]["method"] == "saliency");
    const auto& steps = j["methods"][0]["steps"];
    REQUIRE(steps.size() == 6);  // original + 5 parameter layers of shapes_cnn
    CHECK(steps[0]["layer"] == "original");
    for (const char* k : {"spearman", "spearman_abs", "ssim", "hog"}) CHECK(steps[0][k].get<double>() == doctest::Approx(1.0));
    // Randomising the first conv layer changes the gradient everywhere.
    CHECK(steps[5]["spearman_abs"].get<double>() < 0.9);
    CHECK(steps[5]["ssim"].get<double>() < 0.9);
    std::ifstream png(dir.file(mode + ".png"), std::ios::binary);
    char magic[4] = {};
    png.read(magic, 4);
    CHECK(std::string(magic + 1, 3) == "PNG");
  }
  std::string bad;
  CHECK(run_sanity("--mode cascading --epochs 2", bad) == 2);  // a labels-only flag
  // A missing weights file is a runtime error (exit 1), reported before any training.
  CHECK(run_sanity("--mode labels --permuted-weights '" + dir.file("missing.safetensors") + "'", bad) == 1);
  CHECK(run_sanity("--mode sideways", bad) == 2);
  CHECK(run_sanity("--methods nope", bad) == 2);
  CHECK(run_sanity("--out '" + dir.file("x.txt") + "'", bad) == 2);
  CHECK(run_sanity("--model resnet18", bad) == 2);
  CHECK(run_sanity("--data '" + dir.file("no_such_folder") + "'", bad) == 2);
}

TEST_CASE("sanity: data randomisation retrains on permuted labels; the permuted-label model is at chance") {
  if (!backlight::default_model_available()) return;
  const TempDir dir("sanity_labels");
  const std::string recipe = "--mode labels --images 2 --methods saliency,grad_cam --epochs 1 --samples 256 "
                             "--held-out 400 --threads 1 --json";
  std::string out;
  REQUIRE(run_sanity(recipe + " --save-weights '" + dir.file("w") + "' --out '" + dir.file("labels.png") + "'", out) == 0);
  const nlohmann::json j = nlohmann::json::parse(out);
  CHECK(j["mode"] == "labels");
  CHECK(j["models"]["real"]["source"] == "trained");
  // Labels independent of the images: the held-out accuracy against the true labels is chance
  // (4 balanced classes: 0.25; 400 images: one standard deviation is ~0.022).
  const double permuted = j["models"]["permuted"]["held_out_accuracy"].get<double>();
  CHECK(std::abs(permuted - 0.25) < 0.1);
  REQUIRE(j["methods"].size() == 2);
  const auto& steps = j["methods"][0]["steps"];
  REQUIRE(steps.size() == 2);
  CHECK(steps[0]["layer"] == "original");
  CHECK(steps[1]["layer"] == "permuted_labels");
  CHECK(steps[0]["spearman_abs"].get<double>() == doctest::Approx(1.0));
  CHECK(steps[1]["spearman_abs"].get<double>() < 0.99);  // another model, other maps

  // The same model as "permuted" (through the saved files): every similarity is 1, through the
  // code path the other modes use.
  std::string same;
  REQUIRE(run_sanity(recipe + " --real-weights '" + dir.file("w/real.safetensors") + "' --permuted-weights '" +
                         dir.file("w/real.safetensors") + "'",
                     same) == 0);
  const nlohmann::json k = nlohmann::json::parse(same);
  CHECK(k["models"]["real"]["held_out_accuracy"] == j["models"]["real"]["held_out_accuracy"]);
  for (const auto& m : k["methods"])
    for (const char* key : {"spearman", "spearman_abs", "ssim", "hog"}) CHECK(m["steps"][1][key].get<double>() == doctest::Approx(1.0));
  // The saved permuted-label model reproduces the run's maps.
  std::string again;
  REQUIRE(run_sanity(recipe + " --real-weights '" + dir.file("w/real.safetensors") + "' --permuted-weights '" +
                         dir.file("w/permuted.safetensors") + "'",
                     again) == 0);
  CHECK(nlohmann::json::parse(again)["methods"] == j["methods"]);
}

}  // TEST_SUITE
